"""Thread limits around ``implicit``: its native solvers run their own OpenMP threads, so BLAS
must stay single-threaded while they run (implicit warns otherwise, and two pools fighting over
two cores is slower than one)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from threadpoolctl import threadpool_limits

# implicit is imported here, before any limit is entered: importing it loads scipy's BLAS, and a
# limit only applies to libraries already loaded when it is entered.
import implicit.cpu.als  # noqa: F401
import implicit.cpu.bpr  # noqa: F401
import implicit.cpu.topk  # noqa: F401


def n_threads(requested: int | None) -> int:
    """Threads for implicit: ``requested`` if positive, else the cores available (at least 1)."""
    if requested is not None and requested > 0:
        return int(requested)
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS limited to one thread for the duration of the block."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
