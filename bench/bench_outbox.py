"""The notification outbox: 5,000 notices delivered to a local webhook receiver (a threaded http.server on
127.0.0.1) by the delivery loop (patrol.notify.delivery: claim a batch in a short transaction, POST with a small
thread pool, record the outcomes), on SpatiaLite and PostGIS (``GRIDPATROL_BENCH_POSTGRES_URL``). Goal: ≥ 200
notices/s.

Compared with the obvious alternative: POST each notice inline, one after the other, as a request handler would
without an outbox (no durability: a receiver that is down loses the message). The outbox adds a write per notice in
the action's transaction (timed separately as "emit") and two short transactions per batch.

Run ``python bench/bench_outbox.py [--notices N] [--threads T] [--latency-ms MS]`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from patrol.core.db import create_postgis_database, drop_postgis_database, make_engine, session_factory, transaction
from patrol.core.migrate import upgrade
from patrol.core.models import Notice, NotifyChannel, Outbox, User
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.notify import delivery
from patrol.notify.notices import Message


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # http.server's 5 drops the connections of a sender with more threads (SYN retries)
    daemon_threads = True


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()


def receiver(latency_s: float = 0.0) -> tuple[ThreadingHTTPServer, Counter]:
    """A webhook on 127.0.0.1 that answers 200 after ``latency_s`` (a remote receiver's round trip)."""
    counter = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            if latency_s:
                time.sleep(latency_s)
            with counter.lock:
                counter.n += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, counter


def message(i: int, url: str) -> Message:
    number = f"2026-{i:06d}"
    fields = {"event": "dispatch", "case_number": number, "category": "占道经营", "status": "dispatched",
              "address": "人民路 12 号", "note": "请尽快处理", "url": f"{url}/desk/cases/{number}",
              "at": now_utc().isoformat()}
    return Message("dispatch", f"【新派遣案件】{number} 占道经营 人民路 12 号", "请尽快处理", fields)


def emit(sessions, n: int, hook: str, batch: int = 500) -> float:
    """Write n notices with one outbox row each (a webhook channel), ``batch`` per transaction; seconds taken."""
    with transaction(sessions) as s:
        user = User(username=f"bench-{uuid.uuid4().hex[:6]}", display_name="bench", role="admin")
        s.add(user)
        s.flush()
        channel = NotifyChannel(user_id=user.id, kind="webhook", address=hook)
        s.add(channel)
        s.flush()
        user_id, channel_id = user.id, channel.id
    t = time.perf_counter()
    for start in range(0, n, batch):
        with transaction(sessions) as s:
            for i in range(start, min(start + batch, n)):
                msg = message(i, "http://127.0.0.1:8000")
                notice = Notice(user_id=user_id, kind=msg.kind, title=msg.title, body=msg.body,
                                dedupe_key=f"bench:{i}:{user_id}")
                s.add(notice)
                s.flush()
                s.add(Outbox(notice_id=notice.id, channel_id=channel_id, kind="webhook", address=hook,
                             payload=msg.payload("webhook"), dedupe_key=f"bench:{i}:{user_id}:ch{channel_id}"))
    return time.perf_counter() - t


def run_backend(name: str, url: str, n: int, threads: int, latency_s: float) -> dict:
    server, counter = receiver(latency_s)
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        emit_s = emit(sessions, n, hook)
        settings = Settings(database_url=url, notify_threads=threads, notify_batch=200)
        t = time.perf_counter()
        total = delivery.deliver_all(sessions, settings, max_passes=10_000)
        deliver_s = time.perf_counter() - t
        assert total.sent == n == counter.n, (total, counter.n)
        # the alternative: the same POSTs inline, one after the other, no outbox
        rows = [delivery.Claimed(i, "webhook", hook, message(i, "http://127.0.0.1:8000").payload("webhook"), 1)
                for i in range(n)]
        t = time.perf_counter()
        for row in rows:
            delivery.send_http(row, settings)
        inline_s = time.perf_counter() - t
        assert counter.n == 2 * n
    finally:
        server.shutdown()
        server.server_close()
        engine.dispose()
    return {"backend": name, "emit_s": emit_s, "deliver_s": deliver_s, "inline_s": inline_s, "n": n}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notices", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=8, help="deliveries at once (GRIDPATROL_NOTIFY_THREADS)")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="the receiver answers after this long, as a remote one would (default 0: loopback)")
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run_backend("SpatiaLite", f"sqlite:///{Path(tmp) / 'outbox.db'}", args.notices, args.threads,
                                   args.latency_ms / 1000))
    base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL") or os.environ.get("GRIDPATROL_TEST_POSTGRES_URL")
    if base:
        url = create_postgis_database(base, f"bench_outbox_{uuid.uuid4().hex[:8]}")
        try:
            results.append(run_backend("PostGIS", url, args.notices, args.threads,
                                   args.latency_ms / 1000))
        finally:
            drop_postgis_database(url)
    else:
        print("PostGIS skipped: GRIDPATROL_BENCH_POSTGRES_URL is not set")
    print(f"receiver latency {args.latency_ms:g} ms, {args.threads} delivery threads")
    print(f"{'backend':<11} {'notices':>7} {'emit /s':>9} {'outbox /s':>10} {'inline /s':>10} {'outbox÷inline':>14}")
    for r in results:
        n = r["n"]
        print(f"{r['backend']:<11} {n:>7} {n / r['emit_s']:>9.0f} {n / r['deliver_s']:>10.0f} "
              f"{n / r['inline_s']:>10.0f} {r['inline_s'] / r['deliver_s']:>13.2f}×")
    goal = min(r["n"] / r["deliver_s"] for r in results)
    print(f"goal ≥ 200 notices/s delivered: {'met' if goal >= 200 else 'NOT met'} (slowest {goal:.0f}/s)")
    return results


if __name__ == "__main__":
    main()
