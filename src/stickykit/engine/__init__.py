"""The engine: one pass, chunks, or worker processes, all through init/update/merge/finalize.

Examples
--------
>>> from stickykit.engine import compute
>>> compute("nps", {"nps": [10, 10, 3]}).value
33.333...
"""

from stickykit.engine._compute import StateRun, compute, compute_states
from stickykit.engine.serial import fold, tree_merge

__all__ = ["StateRun", "compute", "compute_states", "fold", "tree_merge"]
