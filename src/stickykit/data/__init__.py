"""Bundled data files (see ATTRIBUTION.md); read them through :mod:`stickykit.datasets`."""

__all__: list[str] = []
