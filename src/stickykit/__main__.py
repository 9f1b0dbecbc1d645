"""``python -m stickykit``: the command line, as the ``stickykit`` console script runs it.

See :mod:`stickykit.cli` for the sub-commands and exit codes.
"""

import sys

from stickykit.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
