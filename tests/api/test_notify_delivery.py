"""Delivering the outbox on both databases, to real receivers on this machine: an SMTP server (aiosmtpd) and an HTTP
receiver (http.server in a thread) that fails when told to. Time is driven by passing ``now`` to the delivery pass
(the backoff and the leases), never by sleeping."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.models import NotifyChannel, Outbox
from patrol.core.time import now_utc
from patrol.notify import delivery
from tests.api.conftest import own_world
from tests.api.test_cli import run


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # http.server's 5 drops the connections of a sender with more threads (SYN retries)
    daemon_threads = True

pytestmark = pytest.mark.db
world = pytest.fixture(name="world")(own_world)  # each test counts every outbox row: a pristine world


# ---------------------------------------------------------------------------------------------- receivers


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict
    status: int


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 answering ``failures`` × 500 first, then 200 with ``answer`` as JSON."""

    failures: int = 0
    answer: dict = field(default_factory=lambda: {"ok": True})
    seen: list[Received] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if receiver.failures > 0 else 200
                receiver.failures -= 1
                receiver.seen.append(Received(self.path, dict(self.headers), body, status))
                data = json.dumps(receiver.answer if status == 200 else {"error": "down"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        return Handler


@contextlib.contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    server = Server(("127.0.0.1", 0), receiver.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


class Mailbox:
    """aiosmtpd's handler: keeps every message received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


# ---------------------------------------------------------------------------------------------- helpers


def add_channel(world, kind: str, address: str, *, user: str | None = None, unit: int | None = None) -> int:
    with transaction(session_factory(world.engine)) as s:
        ch = NotifyChannel(kind=kind, address=address, user_id=world.users[user] if user else None, unit_id=unit)
        s.add(ch)
        s.flush()
        return ch.id


def dispatched_case(world, unit_index: int = 0) -> tuple[int, str]:
    with transaction(session_factory(world.engine)) as s:
        c = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0103", lon=world.point_a[0],
                            lat=world.point_a[1], address="Rue Grimaldi 7").case
        svc.transition(s, SYSTEM, world.settings, c.id, "register")
        svc.transition(s, SYSTEM, world.settings, c.id, "dispatch", unit_id=world.units[unit_index])
        return c.id, c.number


def rows(world) -> list[Outbox]:
    with session_factory(world.engine)() as s:
        return list(s.scalars(select(Outbox).order_by(Outbox.id)))


def later(minutes: float) -> dt.datetime:
    return now_utc() + dt.timedelta(minutes=minutes)


# ---------------------------------------------------------------------------------------------- tests


def test_email_reaches_a_real_smtp_server_once_per_notice(world, smtp):
    box, port = smtp
    add_channel(world, "email", "dept1@example.org", user="dept1")
    numbers = [dispatched_case(world)[1] for _ in range(2)]
    settings = world.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port,
                                                 "smtp_from": "patrol@city.example"})
    sessions = session_factory(world.engine)
    first = delivery.deliver(sessions, settings, now=later(0.1))
    assert (first.sent, first.failed, first.dead) == (2, 0, 0), first.errors
    assert delivery.deliver(sessions, settings, now=later(600)).claimed == 0  # sent rows stay sent
    assert len(box.messages) == 2
    assert sorted(n for n in numbers if any(n in m["Subject"] for m in box.messages)) == sorted(numbers)
    ids = {r.id for r in rows(world)}
    assert {m["Message-ID"] for m in box.messages} == {f"<gridpatrol-outbox-{i}@city.example>" for i in ids}
    assert box.recipients == [["dept1@example.org"]] * 2
    assert all("/desk/cases/" in m.get_content() for m in box.messages)
    assert {r.status for r in rows(world)} == {"sent"}


def test_without_an_smtp_server_e_mail_waits_and_says_why(world):
    add_channel(world, "email", "dept1@example.org", user="dept1")
    dispatched_case(world)
    result = delivery.deliver(session_factory(world.engine), world.settings, now=later(0.1))
    assert (result.sent, result.failed) == (0, 1)
    (row,) = rows(world)
    assert row.status == "pending" and "GRIDPATROL_SMTP_HOST" in row.last_error and row.attempts == 1


def test_a_webhook_down_at_first_gets_exactly_one_successful_delivery_after_retries(world):
    with serving(Receiver(failures=2)) as hook:
        add_channel(world, "webhook", hook.url + "/hook", unit=world.units[0])
        case_id, number = dispatched_case(world)
        sessions = session_factory(world.engine)
        t0 = later(0.1)
        assert delivery.deliver(sessions, world.settings, now=t0).failed == 1
        assert delivery.deliver(sessions, world.settings, now=t0).claimed == 0  # backing off: not due yet
        (row,) = rows(world)
        assert row.status == "pending" and row.last_error.startswith("HTTP 500")
        assert 27 <= (row.next_attempt_at - t0).total_seconds() <= 33  # 30 s ± 10 %
        assert delivery.deliver(sessions, world.settings, now=t0 + dt.timedelta(seconds=40)).failed == 1
        assert delivery.deliver(sessions, world.settings, now=t0 + dt.timedelta(minutes=5)).sent == 1
        assert delivery.deliver(sessions, world.settings, now=t0 + dt.timedelta(hours=5)).claimed == 0
    assert [r.status for r in hook.seen] == [500, 500, 200]
    (row,) = rows(world)
    assert {r.headers["Idempotency-Key"] for r in hook.seen} == {f"gridpatrol-outbox-{row.id}"}
    assert row.status == "sent" and row.attempts == 3 and row.sent_at is not None and row.last_error is None
    body = hook.seen[-1].body
    assert body["event"] == "dispatch" and body["case_number"] == number and body["address"] == "Rue Grimaldi 7"
    assert set(body) == {"event", "case_number", "category", "status", "address", "note", "url", "at"}


def test_a_crashed_senders_row_is_sent_again_once_after_its_lease(world):
    with serving(Receiver()) as hook:
        add_channel(world, "webhook", hook.url, unit=world.units[0])
        dispatched_case(world)
        sessions = session_factory(world.engine)
        t0 = later(0.1)
        (claimed,) = delivery.claim(sessions, world.settings, t0, 10)
        delivery.send_http(claimed, world.settings)  # … sent, and the sender dies before recording it
        assert rows(world)[0].status == "sending"
        assert delivery.deliver(sessions, world.settings, now=t0 + dt.timedelta(seconds=60)).claimed == 0  # leased
        after = t0 + dt.timedelta(seconds=world.settings.notify_lease_seconds + 1)
        assert delivery.deliver(sessions, world.settings, now=after).sent == 1
        assert delivery.deliver(sessions, world.settings, now=after + dt.timedelta(hours=1)).claimed == 0
    assert len(hook.seen) == 2  # the crashed attempt and the one after it: the same key, so the receiver drops one
    assert hook.seen[0].headers["Idempotency-Key"] == hook.seen[1].headers["Idempotency-Key"]
    (row,) = rows(world)
    assert row.status == "sent" and row.attempts == 2


def test_wecom_and_dingtalk_robots_get_their_shapes_and_a_nonzero_errcode_is_a_failure(world):
    with serving(Receiver(answer={"errcode": 0, "errmsg": "ok"})) as wecom, \
            serving(Receiver(answer={"errcode": 310000, "errmsg": "keywords not in content"})) as ding:
        add_channel(world, "wecom", wecom.url + "/cgi-bin/webhook/send?key=k", user="dept1")
        add_channel(world, "dingtalk", ding.url + "/robot/send?access_token=t", unit=world.units[0])
        _, number = dispatched_case(world)
        result = delivery.deliver(session_factory(world.engine), world.settings, now=later(0.1))
    assert (result.sent, result.failed) == (1, 1)
    (w,) = wecom.seen
    assert w.body["msgtype"] == "markdown" and set(w.body["markdown"]) == {"content"}
    assert number in w.body["markdown"]["content"] and "/desk/cases/" in w.body["markdown"]["content"]
    (d,) = ding.seen
    assert d.body["msgtype"] == "markdown" and set(d.body["markdown"]) == {"title", "text"}
    assert number in d.body["markdown"]["title"] and number in d.body["markdown"]["text"]
    failed = next(r for r in rows(world) if r.kind == "dingtalk")
    assert failed.status == "pending" and "310000" in failed.last_error


def test_a_row_is_dead_after_the_last_attempt(world):
    settings = world.settings.model_copy(update={"notify_max_attempts": 3})
    with serving(Receiver(failures=100)) as hook:
        add_channel(world, "webhook", hook.url, unit=world.units[0])
        dispatched_case(world)
        sessions = session_factory(world.engine)
        outcomes = [delivery.deliver(sessions, settings, now=later(60 * 24 * day)) for day in range(1, 5)]
    assert [(o.failed, o.dead) for o in outcomes] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    assert len(hook.seen) == 3
    (row,) = rows(world)
    assert row.status == "dead" and row.attempts == 3 and "HTTP 500" in row.last_error


def test_notify_cli_adds_lists_delivers_and_refuses_bad_input(world, monkeypatch):
    monkeypatch.setenv("GRIDPATROL_PUBLIC_URL", "https://patrol.example.gov.cn")
    from patrol.core.settings import get_settings

    get_settings.cache_clear()
    try:
        with serving(Receiver()) as hook:
            r = run(world.url, "notify", "add", "--unit", str(world.units[0]), "--webhook", hook.url,
                    "--format", "wecom")
            assert r.exit_code == 0, r.output
            assert run(world.url, "notify", "add", "--user", "dept1", "--email", "d1@example.org").exit_code == 0
            listed = run(world.url, "notify", "list").output
            assert "城管中队" in listed and "wecom" in listed and "user dept1\temail\td1@example.org" in listed
            bad = run(world.url, "notify", "add", "--unit", str(world.units[0]), "--webhook", "file:///etc/passwd")
            assert bad.exit_code != 0 and "http:// or https://" in bad.output and len(bad.output.splitlines()) == 1
            both = run(world.url, "notify", "add", "--email", "x@example.org")
            assert both.exit_code == 2 and "--user NAME and --unit ID" in both.output
            with transaction(session_factory(world.engine)) as s:  # a dispatch notices afterwards, with the URL set
                c = svc.create_case(s, SYSTEM, get_settings(), client_id=None, category="C0103",
                                    lon=world.point_a[0], lat=world.point_a[1]).case
                svc.transition(s, SYSTEM, get_settings(), c.id, "register")
                svc.transition(s, SYSTEM, get_settings(), c.id, "dispatch", unit_id=world.units[0])
                number = c.number
            hook.answer = {"errcode": 0}
            out = run(world.url, "notify", "deliver")
            assert out.exit_code == 0 and out.stdout.startswith("sent 1, failed 1 (will retry), dead 0")
            status = run(world.url, "notify", "status").stdout
            assert status.startswith("pending 1, sending 0, sent 1, dead 0") and "oldest waiting since" in status
            worker = run(world.url, "worker", "--once")
            assert worker.exit_code == 0, worker.output
        assert f"https://patrol.example.gov.cn/desk/cases/{number}" in hook.seen[0].body["markdown"]["content"]
        channel_id = listed.splitlines()[1].split("\t")[0]  # under the header row
        assert run(world.url, "notify", "remove", channel_id).exit_code == 0
        assert run(world.url, "notify", "remove", "99999").exit_code == 1
    finally:
        get_settings.cache_clear()
