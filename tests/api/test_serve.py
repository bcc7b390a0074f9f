"""``itembank serve`` as an operator runs it: migrates the configured database, answers JSON on a port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from itembank.demo.server import free_loopback_port

ITEMBANK = str(Path(sys.executable).with_name("itembank"))



def test_serve_migrates_and_serves_the_configured_database(tmp_path: Path) -> None:
    env = {**os.environ, "ITEMBANK_DATABASE_URL": f"sqlite:///{tmp_path}/served.db"}
    initialised = subprocess.run([ITEMBANK, "init"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert initialised.returncode == 0, initialised.stderr
    added = subprocess.run([ITEMBANK, "clients", "add", "centre-01"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=120)
    assert added.returncode == 0, added.stderr
    token = re.search(r"shown once: (\S+)", added.stdout)
    assert token is not None
    port = free_loopback_port()
    server = subprocess.Popen([ITEMBANK, "serve", "--port", str(port), "--log-level", "warning"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                docs = httpx.get(f"{base}/docs", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.2)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        me = httpx.get(f"{base}/users/me", headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=5)
        assert me.json()["role"] == "exam_engine" and me.json()["name"] == "centre-01"
        anonymous = httpx.get(f"{base}/users/me", timeout=5)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    finally:
        server.terminate()
        server.wait(timeout=30)
