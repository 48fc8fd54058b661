"""Fault injection against a real server (issue 19), on SpatiaLite and PostGIS:

* kill -9 of ``gridpatrol serve`` in the middle of 1,000 batched reports (ten batches of 100, the phone's largest),
  a restart, and the phone's resend of every batch with the same client ids: exactly 1,000 cases, each with one
  report event, and the database intact (the size proves nothing more at 2,000: a kill lands in one batch either
  way, and the resend replays them all);
* 8 concurrent writers (reports and case actions) for a bounded time: zero 5xx, zero "database is locked".
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from patrol.core.auth import create_user
from patrol.core.db import make_engine, session_factory, transaction

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery 1"
#: batches of 100 reports the phone sends, and the one during which the server is killed
BATCHES, KILL_AT = 10, 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "GRIDPATROL_DATABASE_URL": url, "GRIDPATROL_SECRET_KEY": "fault-injection-secret-0123456789",
           "GRIDPATROL_TILES": "", "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/categories", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the server did not start: {log.read_text()[-2000:]}")


def _setup(url: str) -> list[tuple[str, float, float]]:
    """Users, and the centre of every grid (reports spread over the city)."""
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        create_user(s, username="boss", role="admin", password=PASSWORD)
        grids = s.execute(text("SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                               "FROM grid ORDER BY id")).all()
    engine.dispose()
    return [(str(c), float(x), float(y)) for c, x, y in grids]


def _token(base: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": "boss", "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_kill_9_during_batched_reports_then_resend_loses_and_duplicates_nothing(monaco_city_url, backend, tmp_path):
    url = monaco_city_url
    grids = _setup(url)
    batches = [[{"client_id": str(uuid.uuid4()), "category": "C0103", "lon": grids[(b * 100 + i) % len(grids)][1],
                 "lat": grids[(b * 100 + i) % len(grids)][2], "description": f"batch {b} item {i}"}
                for i in range(100)] for b in range(BATCHES)]
    port, log = _free_port(), tmp_path / "server.log"
    proc = _start(url, port, log)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {_token(base)}"}
    sent = 0
    killer = threading.Timer(0.0, lambda: None)
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for b, batch in enumerate(batches):
            if b == KILL_AT:  # kill -9 while this batch is being written
                killer = threading.Timer(0.15, lambda: os.kill(proc.pid, signal.SIGKILL))
                killer.start()
            try:
                r = http.post("/api/v1/cases/batch", json={"cases": batch})
                assert r.status_code == 200, r.text
                sent += 1
            except httpx.HTTPError:
                break  # the server is gone: the phone keeps its queue and resends later
    killer.join()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and KILL_AT <= sent < BATCHES

    proc = _start(url, port, log)  # restarted; the phone resends its whole queue, same client ids
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {_token(base)}"}, timeout=60) as http:
            for batch in batches:
                r = http.post("/api/v1/cases/batch", json={"cases": batch})
                assert r.status_code == 200, r.text
                assert {x["status"] for x in r.json()["results"]} <= {200, 201}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM patrol_case")).scalar() == 100 * BATCHES
        assert conn.execute(text("SELECT count(DISTINCT client_id) FROM patrol_case")).scalar() == 100 * BATCHES
        assert conn.execute(text("SELECT count(*) FROM case_event WHERE action = 'report'")).scalar() == 100 * BATCHES
        assert conn.execute(text("SELECT count(*) FROM patrol_case WHERE number IS NULL")).scalar() == 0
        if backend == "spatialite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        else:
            orphans = conn.execute(text("SELECT count(*) FROM case_event e LEFT JOIN patrol_case c "
                                        "ON c.id = e.case_id WHERE c.id IS NULL")).scalar()
            assert orphans == 0
    engine.dispose()


def test_eight_concurrent_writers_get_no_server_error(monaco_city_url, backend, tmp_path):
    url = monaco_city_url
    grids = _setup(url)
    port = _free_port()
    proc = _start(url, port, tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    token = _token(base)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            end = time.monotonic() + 3
            i = 0
            while time.monotonic() < end:
                code, x, y = grids[(n * 7 + i) % len(grids)]
                r = http.post("/api/v1/cases", json={"client_id": str(uuid.uuid4()), "category": "C0103",
                                                     "lon": x, "lat": y})
                got = [(r.status_code, r.text[:200])]
                if r.status_code == 201:
                    case = r.json()["id"]
                    for action in ("register", "dispatch"):
                        a = http.post(f"/api/v1/cases/{case}/actions/{action}", json={})
                        got.append((a.status_code, a.text[:200]))
                with lock:
                    answers.extend(got)
                i += 1

    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert len(answers) >= 24  # every writer got some work done
    server_errors = [a for a in answers if a[0] >= 500]
    assert server_errors == []
    assert not [a for a in answers if "locked" in a[1]]
    assert {a[0] for a in answers} <= {200, 201, 422}, sorted({a[0] for a in answers})
