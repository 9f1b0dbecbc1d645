"""Hatchling build hook: compile the report's gettext catalogues into the wheel.

The ``.po`` files under ``src/stickykit/report/locale/<language>/LC_MESSAGES/`` are the
sources kept in git; a wheel carries them compiled to ``.mo`` next to them, read with babel
(``babel.messages.pofile.read_po``) and written with ``babel.messages.mofile.write_mo``
(fuzzy entries left out). The ``.mo`` files are written to a temporary folder and added to
the wheel with ``force_include``, so the source tree is left untouched; a source checkout or
an editable install compiles the ``.po`` in memory instead (``stickykit.report.i18n``).

Enabled in ``pyproject.toml`` by::

    [build-system]
    requires = ["hatchling>=1.24", "babel>=2.14"]

    [tool.hatch.build.hooks.custom]
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: Where the catalogue sources are, relative to the project root.
LOCALE = Path("src") / "stickykit" / "report" / "locale"
#: Where the compiled catalogues go inside the wheel.
WHEEL_LOCALE = "stickykit/report/locale"


def compile_catalogues(root: Path, out: Path) -> dict[str, str]:
    """Compile every ``.po`` catalogue of the project into ``out``.

    Parameters
    ----------
    root : Path
        The project root.
    out : Path
        A folder for the compiled ``.mo`` files (mirroring the locale folders).

    Returns
    -------
    dict of str to str
        Compiled file -> its path inside the wheel, for hatchling's ``force_include``.

    Raises
    ------
    RuntimeError
        No catalogue was found (the wheel would lack its translations).
    """
    from babel.messages.mofile import write_mo  # noqa: PLC0415 - babel is a build requirement
    from babel.messages.pofile import read_po  # noqa: PLC0415

    sources = root / LOCALE
    mapping: dict[str, str] = {}
    for po_file in sorted(sources.glob("*/LC_MESSAGES/*.po")):
        relative = po_file.relative_to(sources).with_suffix(".mo")
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with po_file.open("rb") as handle:
            catalog = read_po(handle)
        with target.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        mapping[str(target)] = f"{WHEEL_LOCALE}/{relative.as_posix()}"
    if not mapping:
        msg = f"no gettext catalogue (*.po) found under {sources}"
        raise RuntimeError(msg)
    return mapping


class CatalogueBuildHook(BuildHookInterface[Any]):
    """Compiles the catalogues when a (non-editable) wheel is built."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile the catalogues into a temporary folder and include them in the wheel."""
        if self.target_name != "wheel" or version == "editable":
            return
        self._compiled = Path(tempfile.mkdtemp(prefix="stickykit-catalogues-"))
        build_data.setdefault("force_include", {}).update(
            compile_catalogues(Path(self.root), self._compiled)
        )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary folder."""
        del version, build_data, artifact_path
        compiled = getattr(self, "_compiled", None)
        if compiled is not None:
            shutil.rmtree(compiled, ignore_errors=True)
