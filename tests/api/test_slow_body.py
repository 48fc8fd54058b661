"""A slow client holds nothing (issue 19): the request's transaction begins at its first statement, after the body
has been read and the caller authenticated, so clients still sending their bodies — Open311 forms, checklist
uploads, case reports — neither hold SQLite's write lock nor a PostGIS pool connection. A real uvicorn server; on
both databases, 16 slow bodies are held open (more than SQLAlchemy's default pool of 5 + 10 overflow would
survive were each to hold a connection) while a logged-in worker reports a case."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import httpx
import uvicorn
from sqlalchemy import text

from api.app import create_app
from patrol.core.auth import create_user
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.settings import Settings

SLOW = {
    "open311": ("/open311/v2/requests.json", "application/x-www-form-urlencoded", b"service_code=C0103&lat=43.7"),
    "checklist": ("/api/v1/checklists", "application/json", b'{"code": "slow", '),
    "case": ("/api/v1/cases", "application/json", b'{"category": "C0103", '),
}


def _start_slow_request(port: int, path: str, kind: str, first: bytes, token: str | None) -> socket.socket:
    """Send the headers and the first bytes of a body promised to be 4 KB long, then nothing more."""
    sock = socket.create_connection(("127.0.0.1", port))
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n{auth}"
                 f"Content-Length: 4096\r\n\r\n".encode() + first)
    return sock


def _serve(app) -> tuple[uvicorn.Server, threading.Thread, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    return server, thread, port


def test_slow_bodies_hold_no_lock_and_no_connection(monaco_city_url, backend):
    url = monaco_city_url
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        grid = s.execute(text("SELECT code, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM grid "
                              "ORDER BY id LIMIT 1")).one()
        create_user(s, username="w", role="grid_worker", password="correct horse 1", grids=[grid[0]])
        create_user(s, username="boss", role="admin", password="correct horse 1")
    engine.dispose()
    settings = Settings(database_url=url, tiles=None, secret_key="slow-body-test-secret-0123456789abcdef")
    app = create_app(settings)
    server, thread, port = _serve(app)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            tokens = {u: http.post("/api/v1/auth/token", data={"username": u, "password": "correct horse 1"}
                                   ).json()["access_token"] for u in ("w", "boss")}
            slow = []
            for i in range(18):  # 16 of the kinds a handler reads itself, 2 that FastAPI reads
                path, kind, first = SLOW[("open311", "checklist")[i % 2] if i < 16 else "case"]
                token = None if path.startswith("/open311") else tokens["boss" if "checklists" in path else "w"]
                slow.append(_start_slow_request(port, path, kind, first, token))
            time.sleep(0.5)  # the server has read the headers and is waiting for the rest of each body
            assert app.state.engine.pool.checkedout() == 0  # no slow client holds a connection (nor a lock)
            r = http.post("/api/v1/cases", headers={"Authorization": f"Bearer {tokens['w']}"}, json={
                "client_id": str(uuid.uuid4()), "category": "C0103", "lon": grid[1], "lat": grid[2]})
            # were the slow clients holding SQLite's write lock or every pooled connection, this write would wait
            # for the busy timeout (5 s) or the pool timeout (30 s) and fail with a 500
            assert r.status_code == 201, r.text
            assert r.json()["number"]
            for sock in slow:
                sock.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
