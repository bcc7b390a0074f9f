"""Group commit: every record written once, in arrival order, and no caller returns before its batch."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from anyio import to_thread

from itembank.group_commit import GroupCommit


class SlowLedger:
    """A batch writer that takes its time, so that callers pile up behind the one writing."""

    def __init__(self, refuse: set[int] | None = None, fail_batch_with: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.committed: set[int] = set()
        self.refuse = refuse or set()
        self.fail_batch_with = fail_batch_with
        self._writing = threading.Lock()

    def write(self, records: list[int]) -> list[Exception | None]:
        assert self._writing.acquire(blocking=False), "two batches were written at once"
        try:
            time.sleep(0.01)
            if self.fail_batch_with in records:
                raise ConnectionError("the database went away")
            self.batches.append(records)
            self.committed.update(records)
            return [LookupError(f"record {r} refused") if r in self.refuse else None for r in records]
        finally:
            self._writing.release()


def submit_all(group: GroupCommit[int, None], ledger: SlowLedger, records: range) -> dict[int, str]:
    """Submit every record from its own task, as requests would; per record: 'ok' (and then already
    committed), or the error's class name."""

    async def one(record: int) -> str:
        await asyncio.sleep(0.0005 * (record % 16))  # arrivals spread over the first batches' writing
        try:
            await group.submit(record)
        except Exception as error:  # noqa: BLE001 - the test reports which error each caller saw
            return type(error).__name__
        return "ok" if record in ledger.committed else "returned before its commit"

    async def everyone() -> list[str]:
        return await asyncio.gather(*(one(r) for r in records))

    return dict(zip(records, asyncio.run(everyone()), strict=True))


def test_concurrent_records_share_batches_and_each_waits_for_its_own_commit() -> None:
    ledger = SlowLedger()
    outcomes = submit_all(GroupCommit(ledger.write), ledger, range(200))
    assert set(outcomes.values()) == {"ok"}
    written = [r for batch in ledger.batches for r in batch]
    assert sorted(written) == list(range(200)), "each record exactly once"
    assert len(ledger.batches) < 100, f"callers waiting on a write should share batches, got {len(ledger.batches)} for 200"


def test_a_refused_record_fails_only_its_caller() -> None:
    ledger = SlowLedger(refuse={7, 42})
    outcomes = submit_all(GroupCommit(ledger.write), ledger, range(60))
    assert {r for r, o in outcomes.items() if o != "ok"} == {7, 42}
    assert outcomes[7] == outcomes[42] == "LookupError"


def test_a_failed_batch_fails_every_caller_in_it_and_the_next_batches_still_commit() -> None:
    ledger = SlowLedger(fail_batch_with=30)
    group = GroupCommit(ledger.write, max_batch=4)
    outcomes = submit_all(group, ledger, range(80))
    failed = {r for r, o in outcomes.items() if o == "ConnectionError"}
    assert 30 in failed and len(failed) <= 4
    assert failed.isdisjoint(ledger.committed)
    assert {r for r, o in outcomes.items() if o == "ok"} == ledger.committed == set(range(80)) - failed
    assert submit_all(group, ledger, range(1000, 1001)) == {1000: "ok"}  # the group is not left stuck


def test_batches_never_exceed_the_limit() -> None:
    ledger = SlowLedger()
    submit_all(GroupCommit(ledger.write, max_batch=3), ledger, range(50))
    assert max(len(b) for b in ledger.batches) <= 3


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommit(SlowLedger().write, max_batch=0)


def test_records_are_written_in_arrival_order() -> None:
    ledger = SlowLedger()
    group: GroupCommit[int, None] = GroupCommit(ledger.write, max_batch=5)

    async def arrive_in_order() -> None:
        await asyncio.gather(*(group.submit(r) for r in range(40)))  # tasks start in creation order

    asyncio.run(arrive_in_order())
    assert [r for batch in ledger.batches for r in batch] == list(range(40))
    assert max(len(b) for b in ledger.batches) == 5


def test_a_caller_that_hangs_up_still_has_its_record_written() -> None:
    ledger = SlowLedger()
    group: GroupCommit[int, None] = GroupCommit(ledger.write)

    async def scenario() -> None:
        first = asyncio.create_task(group.submit(1))
        await asyncio.sleep(0.001)
        gone = asyncio.create_task(group.submit(2))  # queued behind the batch being written
        await asyncio.sleep(0.001)
        gone.cancel()
        await first
        await group.submit(3)

    asyncio.run(scenario())
    assert [r for batch in ledger.batches for r in batch] == [1, 2, 3]


def test_the_writer_takes_what_queued_while_it_waited_for_a_thread() -> None:
    """Under a storm the writer thread starts late (the loop holds the GIL, or every worker thread
    is busy); records that arrived meanwhile must go in that batch, not wait for the next one."""
    ledger = SlowLedger()
    group: GroupCommit[int, None] = GroupCommit(ledger.write)
    release = threading.Event()

    async def scenario() -> None:
        limiter = to_thread.current_default_thread_limiter()
        busy = [asyncio.create_task(to_thread.run_sync(release.wait)) for _ in range(int(limiter.total_tokens))]
        await asyncio.sleep(0.01)  # every worker thread taken
        first = asyncio.create_task(group.submit(0))
        await asyncio.sleep(0.01)  # the writer is waiting for a thread
        rest = [asyncio.create_task(group.submit(r)) for r in range(1, 10)]
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(first, *rest, *busy)

    asyncio.run(scenario())
    assert ledger.batches == [list(range(10))]
