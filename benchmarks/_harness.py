"""Shared helpers of the benchmarks: peak memory on Linux, versions, the machine line."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def status_kib(key: str) -> int | None:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``, ``VmHWM``), or None off Linux."""
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def reset_peak() -> bool:
    """Reset the peak resident set size (``VmHWM``) to the current one; False if impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def version_of(package: str) -> str:
    """The installed version of ``package``, or ``"absent"``."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def machine(packages: tuple[str, ...]) -> str:
    """CPUs, memory, Python and the versions of ``packages``, in one line."""
    cpu = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    versions = ", ".join(f"{p} {version_of(p)}" for p in packages)
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB RAM; "
        f"Python {platform.python_version()}; {versions}"
    )
