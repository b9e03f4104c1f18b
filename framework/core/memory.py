"""How much memory this machine can still give, to refuse a size before allocating it."""

import os


def available_bytes() -> int | None:
    """Memory available to new allocations (Linux ``MemAvailable``), else the physical memory; None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_fits(owner: str, what: str, needed: int) -> None:
    """Refuse ``needed`` bytes when the machine cannot give them."""
    from framework.core.errors import TooLargeError

    available = available_bytes()
    if available is not None and needed > available:
        raise TooLargeError(
            f"{owner}: {what} needs {needed / 2**30:.3g} GiB, more than the {available / 2**30:.3g} GiB this machine "
            "has available; make it smaller"
        )
