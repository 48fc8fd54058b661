"""Notifications from the command line: channels (``notify add|list|remove``), the outbox (``notify deliver``,
``notify status``), and ``worker``: the long-running loop that escalates overdue cases, emits the nearing-deadline
notices and delivers the outbox (the alternative to running ``escalate`` and ``notify deliver`` from cron)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import click

from api.cli.context import Command, Group, open_database
from patrol.cases.service import escalate_overdue
from patrol.core.db import transaction
from patrol.notify import delivery
from patrol.notify.channels import add_channel, list_channels, remove_channel
from patrol.notify.notices import near_deadline

log = logging.getLogger("gridpatrol.worker")


@click.group(cls=Group, help="notification channels (e-mail, webhooks, WeCom / DingTalk robots) and the outbox")
def notify() -> None:
    pass


@notify.command("add", help="send a user's or a unit's notices also to an e-mail address or a webhook")
@click.option("--user", "username", metavar="NAME", help="the user (login name) the channel belongs to")
@click.option("--unit", "unit_id", type=int, metavar="ID", help="the responsible unit the channel belongs to")
@click.option("--email", metavar="ADDR", help="an e-mail address (sent through GRIDPATROL_SMTP_HOST)")
@click.option("--webhook", metavar="URL", help="an http(s) URL that receives a JSON POST per notice")
@click.option("--format", "fmt", type=click.Choice(["plain", "wecom", "dingtalk"]), default="plain",
              show_default=True, help="the webhook's message shape: plain JSON, or a WeCom / DingTalk group robot")
def notify_add(username: str | None, unit_id: int | None, email: str | None, webhook: str | None, fmt: str) -> None:
    if (username is None) == (unit_id is None):
        raise click.UsageError("give exactly one of --user NAME and --unit ID")
    if (email is None) == (webhook is None):
        raise click.UsageError("give exactly one of --email ADDR and --webhook URL")
    if email is not None and fmt != "plain":
        raise click.UsageError("--format applies to --webhook only")
    kind = "email" if email is not None else ("webhook" if fmt == "plain" else fmt)
    sessions = open_database().sessions
    with transaction(sessions) as session:
        ch = add_channel(session, kind=kind, address=email or webhook or "", username=username, unit_id=unit_id)
        channel_id, address = ch.id, ch.address
    owner = f"user {username}" if username is not None else f"unit {unit_id}"
    print(f"channel {channel_id}: {kind} {address} for {owner}")


NOTIFY_HEADER = "id\towner\tkind\taddress\tstate"


@notify.command("list", help="list the notification channels under a header row (tab-separated)")
def notify_list() -> None:
    sessions = open_database().sessions
    with sessions() as session:
        rows = list_channels(session)
    if not rows:
        print("no channels (gridpatrol notify add --user NAME --email ADDR to add one)")
        return
    print(NOTIFY_HEADER)
    for r in rows:
        print(f"{r.id}\t{r.owner}\t{r.kind}\t{r.address}\t{'active' if r.active else 'inactive'}")


@notify.command("remove", help="remove a notification channel (its id from notify list)")
@click.argument("channel_id", metavar="ID", type=int)
def notify_remove(channel_id: int) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        remove_channel(session, channel_id)
    print(f"removed channel {channel_id}")


@notify.command("deliver", help="one delivery pass over the outbox (run it periodically, e.g. cron)")
def notify_deliver() -> None:
    settings, _, sessions = open_database()
    result = delivery.deliver_all(sessions, settings)
    print(f"sent {result.sent}, failed {result.failed} (will retry), dead {result.dead}")
    for line in result.errors[:20]:
        print(f"  - {line}", file=sys.stderr)


@notify.command("status", help="outbox rows by status, and the oldest one waiting")
def notify_status() -> None:
    sessions = open_database().sessions
    with sessions() as session:
        counts = delivery.status_counts(session)
        oldest = delivery.oldest_pending(session)
    print(", ".join(f"{s} {counts.get(s, 0)}" for s in ("pending", "sending", "sent", "dead")))
    print(f"oldest waiting since {oldest.isoformat(timespec='seconds')}" if oldest else "nothing waiting")


def run_pass(settings, sessions) -> str:  # noqa: ANN001 - Settings, sessionmaker: the worker's one pass
    """Escalate, emit the nearing-deadline notices (one transaction), deliver the outbox; a line saying so."""
    with transaction(sessions) as session:
        escalated = escalate_overdue(session, settings)
        noticed = near_deadline(session, settings)
    result = delivery.deliver_all(sessions, settings)
    return (f"escalated {len(escalated)}, near-deadline notices {noticed}, sent {result.sent}, "
            f"failed {result.failed}, dead {result.dead}")


@click.command("worker", cls=Command, help="run escalation, nearing-deadline notices and delivery in a loop "
                                           "(stop with SIGTERM or Ctrl-C)")
@click.option("--every", type=click.FloatRange(min=1), default=60.0, show_default=True, metavar="SECONDS",
              help="seconds between passes")
@click.option("--once", is_flag=True, help="run one pass and stop")
def worker(every: float, once: bool) -> None:
    settings, _, sessions = open_database()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping (signal %d)", signum)
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.is_set():
            try:
                log.info(run_pass(settings, sessions))
            except Exception as exc:  # noqa: BLE001 - a failed pass (database down) is logged; the next one retries
                log.error("pass failed: %s: %s", type(exc).__name__, exc)
            if once:
                break
            stop.wait(every)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
