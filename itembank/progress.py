"""Progress of long operations (assembly and calibration jobs), reported as a fraction from 0 to 1."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[float], None]


def silent(_fraction: float) -> None:
    """The progress sink of callers who do not watch (the CLI, notebooks, tests)."""


@contextmanager
def ticking(progress: Progress, start: float, end: float, limit_seconds: float, every: float = 1.0) -> Iterator[None]:
    """Move progress from ``start`` toward ``end`` as time passes on a step that cannot report its own
    (a MIP solve inside HiGHS), reaching ``end`` when ``limit_seconds`` (the step's time limit) is spent.

    The reports double as the job's heartbeat, so a long solve is not mistaken for a dead worker. They
    are made from a helper thread, which the block outlives by at most one report.
    """
    stop = threading.Event()

    def tick() -> None:
        elapsed = 0.0
        while not stop.wait(every):
            elapsed += every
            progress(start + (end - start) * min(elapsed / limit_seconds, 1.0))

    ticker = threading.Thread(target=tick, name="progress-ticker", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
