"""The in-process job runner: a small thread pool over the database-backed jobs of ``itembank.services.jobs``.

Kept deliberately simple (no broker): the database is the queue and the record, the pool only
supplies threads. A heartbeat thread refreshes this worker's running jobs so workers on other hosts
can tell a slow job from a dead worker.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from itembank.db import transaction
from itembank.models import Job
from itembank.models.base import utcnow
from itembank.services import jobs

log = logging.getLogger(__name__)


class JobPool:
    """Runs queued jobs on ``threads`` threads of this process."""

    def __init__(self, engine: Engine, threads: int = 2, heartbeat_seconds: float = 30.0) -> None:
        self.engine = engine
        self.worker = jobs.worker_name()
        self.threads = threads
        self.heartbeat_seconds = heartbeat_seconds
        self._executor: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._futures: set[Future[None]] = set()
        self._heartbeat: threading.Thread | None = None

    def start(self) -> list[int]:
        """Fail the jobs dead workers left running, then pick up every queued job; returns the failed ids.

        Restartable: an app's lifespan may run more than once in one process (test clients do).
        """
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="itembank-job")
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, args=(self._stop, self.heartbeat_seconds), daemon=True,
                                           name="itembank-job-heartbeat")
        self._heartbeat.start()
        interrupted = jobs.fail_interrupted(self.engine, self.worker)
        for job_id in jobs.queued_ids(self.engine):
            self.dispatch(job_id)
        return interrupted

    def dispatch(self, job_id: int) -> Future[None]:
        """Hand a committed, queued job to a thread; claiming inside keeps a double dispatch harmless."""
        if self._executor is None:
            raise RuntimeError("the job pool is not running; start the app's lifespan first")
        future = self._executor.submit(self._run, job_id)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def _run(self, job_id: int) -> None:
        try:
            jobs.run(self.engine, job_id, self.worker)
        except Exception:  # noqa: BLE001 - the database may be gone; the next start marks the job failed
            log.exception("job %s could not be run or recorded", job_id)

    def _beat(self, stop: threading.Event, seconds: float) -> None:
        while not stop.wait(seconds):
            try:
                with transaction(self.engine) as session:
                    session.exec(update(Job).where(col(Job.worker) == self.worker,
                                                   col(Job.status) == jobs.JobStatus.RUNNING.value)
                                 .values(updated_at=utcnow()))
            except Exception:  # noqa: BLE001 - a missed beat only makes the job look older
                log.warning("job heartbeat failed", exc_info=True)

    def drain(self, timeout: float | None = None) -> None:
        """Wait for the jobs dispatched so far (tests and orderly shutdown)."""
        for future in list(self._futures):
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        """Stop taking work; jobs not yet started stay queued in the database for the next start."""
        self._stop.set()
        if self._heartbeat is not None:  # a beat in flight finishes before the database may go away
            self._heartbeat.join()
            self._heartbeat = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
