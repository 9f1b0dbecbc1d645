"""Instrument files shipped with stickykit (TOML; see :mod:`stickykit.instruments`)."""

__all__: list[str] = []
