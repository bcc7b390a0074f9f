"""``run_demo``: one whole certification cycle on a fresh SQLite file, each step timed, then the HTML report."""

from __future__ import annotations

import time
from collections.abc import Callable

from itembank.db import make_engine, upgrade
from itembank.demo import bank_steps, delivery_steps, loft_steps, simulation_steps
from itembank.demo.report import write_report
from itembank.demo.server import loopback_api
from itembank.demo.state import DemoOptions, DemoRun, StepTiming
from itembank.engine_client import EngineClient

STEPS = 11


def _timed(run: DemoRun, number: int, title: str, step: Callable[[], str], echo: Callable[[str], None]) -> None:
    started = time.perf_counter()
    line = step()
    seconds = time.perf_counter() - started
    run.timings.append(StepTiming(number, title, seconds, line))
    echo(f"[{number}/{STEPS}] {title:<24} {seconds:6.1f} s  {line}")


def run_demo(options: DemoOptions, echo: Callable[[str], None] = print) -> DemoRun:
    """Run steps 1–11 against ``options.out/demo.db`` (deleted first, so every run starts clean) and write the report."""
    options.out.mkdir(parents=True, exist_ok=True)
    for stale in (options.database, options.database.with_name("demo.db-wal"), options.database.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    echo(f"starting clean: fresh SQLite bank at {options.database}")
    engine = make_engine(f"sqlite:///{options.database}")
    upgrade(engine)
    run = DemoRun(options, engine)
    try:
        _timed(run, 1, "load sample bank", lambda: bank_steps.load_bank(run), echo)
        _timed(run, 2, "review and accept", lambda: bank_steps.review_bank(run), echo)
        _timed(run, 3, "pilot calibration", lambda: bank_steps.pilot_calibration(run), echo)
        _timed(run, 4, "assemble papers", lambda: bank_steps.assemble_papers(run), echo)
        with loopback_api(engine) as base_url:
            client = EngineClient(base_url, run.engine_token)
            _timed(run, 5, "seal and deliver", lambda: delivery_steps.seal_and_deliver(run, client), echo)
            _timed(run, 6, "candidates sit papers", lambda: delivery_steps.sit_papers(run, client), echo)
        _timed(run, 7, "operational calibration", lambda: delivery_steps.operational_calibration(run), echo)
        _timed(run, 8, "leak drill", lambda: delivery_steps.leak_drill(run), echo)
        with loopback_api(engine) as base_url:
            client = EngineClient(base_url, run.engine_token)
            _timed(run, 9, "LOFT exam session", lambda: loft_steps.loft_session(run, client), echo)
        _timed(run, 10, "verify audit ledger", lambda: delivery_steps.verify_ledger(run), echo)
        _timed(run, 11, "CAT simulation study", lambda: simulation_steps.cat_study(run), echo)
        started = time.perf_counter()
        write_report(run)
        echo(f"report written to {options.report} ({time.perf_counter() - started:.1f} s)")
    finally:
        engine.dispose()
    return run
