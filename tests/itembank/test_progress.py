"""The progress clock of steps that cannot report their own progress (a MIP solve)."""

from __future__ import annotations

import time

import pytest

from itembank.progress import ticking


def test_the_clock_moves_toward_the_end_over_the_limit_and_stops_with_the_block() -> None:
    heard: list[float] = []
    with ticking(heard.append, 0.1, 0.9, limit_seconds=0.1, every=0.02):
        time.sleep(0.3)
    after = len(heard)
    time.sleep(0.1)
    assert len(heard) == after, "no report once the step is over"
    assert heard == sorted(heard) and len(heard) >= 5
    assert 0.1 < heard[0] < 0.9 and heard[-1] == pytest.approx(0.9), "capped at the end once the limit is spent"


def test_a_failing_step_still_stops_the_clock() -> None:
    heard: list[float] = []
    with pytest.raises(RuntimeError), ticking(heard.append, 0.0, 1.0, limit_seconds=10, every=0.01):
        time.sleep(0.05)
        raise RuntimeError("the solver crashed")
    after = len(heard)
    time.sleep(0.05)
    assert len(heard) == after
