"""Worker processes forked from the building process, which share its memory.

A forked worker starts with a copy of everything the building process holds: MkDocs, the
theme, their modules, the site. The worker's garbage collector would walk all of it in its
first full collection, and in doing so write to every object's header, which copies each
page of shared memory into the worker. Python's documented remedy (``gc.freeze``) hides
the objects alive at the fork from the collector; the worker keeps them hidden, and the
building process takes them back at once (into its oldest generation), so it collects
them as before.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["forking", "usable_cores"]


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the platform gives it (a
    container, a CI runner or ``taskset`` may allow fewer than the machine has), else the
    machine's count (one when unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def forking() -> Iterator[None]:
    """Around the fork of worker processes: the objects alive now stay out of their
    garbage collectors' sight; this process's collector sees them again on leaving. Where
    the process already keeps objects frozen (its own choice), nothing is changed."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
