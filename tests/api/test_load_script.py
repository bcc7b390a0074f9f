"""The load script behind the issue's latency figures keeps working (tiny size: it is a smoke test)."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.load_engine_pull import EngineConnection, measure


def test_load_script_serves_pulls_and_reports_latency_and_cpu() -> None:
    first, second = measure(None, clients=4, pulls=3, items=20, intervals=[0.0, 0.05], workers=1)
    for report in (first, second):
        assert report["errors"] == 0 and report["requests"] == 12
        assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]  # type: ignore[operator]
        assert report["server_cpu_ms_per_pull"] > 0 and report["client_cpu_ms_per_pull"] > 0  # type: ignore[operator]
    assert first["offered_rps"] is None and second["offered_rps"] == 80.0


class _Transport:
    """What the protocol writes, and whether it was closed (a stand-in for the socket's transport)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def test_the_engine_connection_reads_answers_split_anywhere_and_back_to_back() -> None:
    body = b'{"header":{}}' * 500
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    refusal = b'{"code":"unauthorized"}'
    second = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: %d\r\n\r\n%s" % (len(refusal), refusal)

    async def scenario() -> list[tuple[int, bytes]]:
        connection = EngineConnection("127.0.0.1:1", "token-1")
        transport = _Transport()
        connection.connection_made(transport)  # type: ignore[arg-type]
        answers = []
        for wire in (answer, second):
            pending = asyncio.ensure_future(connection.get("/engine/papers/7/package"))
            await asyncio.sleep(0)
            for start in range(0, len(wire), 7):  # headers and body cut at every 7th byte
                connection.data_received(wire[start:start + 7])
            answers.append(await pending)
        assert transport.written[0].startswith(b"GET /engine/papers/7/package HTTP/1.1\r\n")
        assert b"Authorization: Bearer token-1\r\n" in transport.written[0]
        return answers

    assert asyncio.run(scenario()) == [(200, body), (401, refusal)]


def test_the_engine_connection_fails_a_pull_the_server_drops() -> None:
    async def scenario() -> None:
        connection = EngineConnection("127.0.0.1:1", "token-1")
        connection.connection_made(_Transport())  # type: ignore[arg-type]
        pending = asyncio.ensure_future(connection.get("/x"))
        await asyncio.sleep(0)
        connection.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        connection.connection_lost(None)
        with pytest.raises(ConnectionError):
            await pending

    asyncio.run(scenario())
