"""One progress display for a whole job: named stages on a single line.

A job is a sequence of stages: "warm-up day 9/28", "fit popularity, hybrid", "experiment day
3/14", "analysis", "monitoring", "report". :class:`Progress` shows them on one tqdm bar whose
total is planned up front (a simulated day is one unit, any other stage one unit), so a reader
sees one bar filling and the stage it is in, not a fresh bar per batch of days. ``Progress(0)``
(or ``enabled=False``) shows nothing: library code can always call it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator


class Progress:
    """A job's progress: ``begin(name, n)`` then ``tick()`` per item, or ``with stage(name):``."""

    def __init__(self, total: int, *, enabled: bool = True, desc: str = ""):
        self.enabled = bool(enabled and total > 0)
        self._bar = None
        self._name, self._i, self._n = desc, 0, 0
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="step", file=sys.stderr, leave=False,
                             bar_format="{desc:<28}|{bar}| {percentage:3.0f}% [{elapsed}<{remaining}]")

    def _show(self, desc: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(desc, refresh=True)

    def begin(self, name: str, n: int) -> None:
        """Start a counted stage of ``n`` items (e.g. the warm-up's days)."""
        self._name, self._i, self._n = name, 0, int(n)
        self._show(f"{name} 0/{n}")

    def tick(self) -> None:
        """One item of the current counted stage done."""
        self._i += 1
        self._show(f"{self._name} {self._i}/{self._n}")
        if self._bar is not None:
            self._bar.update(1)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """A one-unit stage: shown while it runs, counted when it ends."""
        self._show(name)
        yield
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


#: a progress that shows nothing
SILENT = Progress(0, enabled=False)
