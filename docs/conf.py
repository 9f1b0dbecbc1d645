"""Sphinx configuration for the stickykit documentation.

Build (as CI does, without network)::

    python -m sphinx -n -W --keep-going -b html docs docs/_build/html

The examples in the Markdown pages are run by pytest (``--doctest-glob=*.md``).
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import stickykit

project = "stickykit"
author = "The stickykit developers"
copyright = "The stickykit developers"
release = stickykit.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

html_theme = "alabaster"
html_title = f"stickykit {release}"

# -- MyST --------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 3

# -- autodoc and napoleon ------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
# show ``NDArray[np.int8]`` as written, not numpy's expansion of the alias
autodoc_type_aliases = {"NDArray": "numpy.typing.NDArray"}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# -- nitpicky mode without intersphinx -----------------------------------------------------
# CI has no network, so there is no intersphinx. Names from outside the project (numpy,
# attrs, pluggy, the standard library) stay unlinked; the patterns below silence them. A
# reference to a stickykit name that does not resolve still fails the build.
nitpicky = True
_OUTSIDE = r"(numpy|np|attrs|pluggy|datetime|dt|collections\.abc|hypothesis|pathlib|os|scipy|matplotlib)\..*"
nitpick_ignore_regex = [
    # third-party and standard-library objects named in signatures and docstrings
    (r"py:.*", _OUTSIDE),
    (r"py:class", r"Path|Self|Axes|ArrayLike"),
    (r"py:class", r"NDArray(\[.*\])?"),
    # private shorthands in annotations (``Column = NDArray[Any]`` in the frames)
    (r"py:class", r"Column|Array"),
    # the numpy columns of a batch (``stickykit.io._source.Columns``, private)
    (r"py:class", r"Columns"),
    # type variables of the project's own generics (``LoadResult[F]``, ``iter_chunks``)
    (r"py:.*", r"(stickykit\..*\.)?(F|S|T)"),
    # free-text types in numpydoc "Parameters" sections ("mapping, dataframe or path")
    (r"py:class", r"[a-z][a-z0-9 _-]*"),
    (r"py:class", r"\{.*|.*\}|\".*\"|'.*'|\(.*|.*\)|\d+|\.\.\."),
]

# -- re-exported names ---------------------------------------------------------------------
# stickykit re-exports names from private modules (``stickykit.engine._compute.compute`` is
# ``stickykit.compute``), and docstrings refer to them by any public spelling. Each object is
# documented once; a reference to another spelling of the same object is resolved here by
# importing both names and comparing the objects.


@functools.cache
def _import(dotted: str) -> Any:
    """The object a dotted name points to, or None."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _resolve_alias(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    module = node.get("py:module")
    candidates = [f"{module}.{target}", target] if module else [target]
    domain = env.get_domain("py")
    documented = [name for name in domain.objects if name.startswith("stickykit")]
    for candidate in candidates:
        if not candidate.startswith("stickykit"):
            continue
        obj = _import(candidate)
        if obj is None or isinstance(obj, int | float | str | tuple):
            continue  # plain values are not unique objects
        for name in documented:
            if _import(name) is obj:
                return domain.resolve_xref(
                    env, node["refdoc"], app.builder, node["reftype"], name, node, contnode
                )
    return None


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_alias)
