"""``python -m stickykit`` runs the command line."""

import sys

from stickykit.cli import main

sys.exit(main())
