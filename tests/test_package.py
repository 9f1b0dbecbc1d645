"""Packaging promises: light import, public names documented with examples, hook meta-tests."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import subprocess
import sys

import pytest

import stickykit
from stickykit.plugins import hookspecs

ROOT = pathlib.Path(__file__).resolve().parents[1]
OPTIONAL = (
    "scipy",
    "pandas",
    "polars",
    "pyarrow",
    "narwhals",
    "matplotlib",
    "dask",
    "tqdm",
    "hypothesis",
    "jinja2",
    "babel",
)


def test_import_loads_no_optional_dependency() -> None:
    code = (
        "import sys, stickykit; stickykit.get_metric('nps'); "
        f"print([m for m in {OPTIONAL!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version() -> None:
    assert stickykit.__version__.count(".") >= 2


@pytest.mark.parametrize("name", stickykit.__all__)
def test_public_names_have_docstring_examples(name: str) -> None:
    obj = getattr(stickykit, name)
    if name in ("__version__", "hookimpl"):
        # hookimpl is pluggy's marker object; its example lives in stickykit.plugins.hookspecs
        assert ">>>" in (hookspecs.__doc__ or "")
        return
    doc = inspect.getdoc(obj) or ""
    if inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj):
        assert ">>>" in doc or ">>>" in (inspect.getdoc(inspect.getmodule(obj)) or ""), name


def test_every_public_module_declares_all() -> None:
    for path in (ROOT / "src" / "stickykit").rglob("*.py"):
        rel = path.relative_to(ROOT / "src").with_suffix("")
        parts = rel.parts
        if any(p.startswith("_") and p != "__init__" for p in parts) or parts[-1] == "__main__":
            continue
        module_name = ".".join(p for p in parts if p != "__init__")
        module = importlib.import_module(module_name)
        assert hasattr(module, "__all__"), f"{module_name} lacks __all__"


HOOKS = [
    name for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "stickykit_spec")
]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test_and_docs(hook: str) -> None:
    tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    assert f"def test_hook_{hook}(" in tests
    assert hook in (ROOT / "docs" / "plugins.md").read_text()
