"""``gridpatrol meetings``: 研判 and 协商议事 meetings (issue 22) — ``lists`` (the 诉求清单 and meeting kinds in force,
or ``--check FILE``), ``list``, ``add`` (plan a meeting with cases on its agenda), ``decide`` (the decision, the
vote, follow-up cases). The commands act as the system (an admin): the community is named by its code."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.context import Group, open_database
from patrol.cases import meetings as svc
from patrol.cases.lists import demand_lists, meeting_kinds, parse_demand_lists, parse_meeting_kinds
from patrol.core.auth import SYSTEM
from patrol.core.db import transaction
from patrol.core.errors import ImportFailed

HEADER = "number\tcommunity\tkind\ttopic\tstatus\theld_at\ttopics\tfor\tagainst\tabstain"


@click.group(cls=Group)
def meetings() -> None:
    """研判 and 协商议事 meetings (issue 22)."""


@meetings.command("lists", help="the 诉求清单 and the kinds of meeting in force (settings demand_lists_file, "
                                "meeting_kinds_file), under a header row; --check FILE checks a file instead")
@click.option("--check", "check", metavar="FILE.csv", help="check a demand-list (code, name_zh, name_en, "
                                                           "categories) or meeting-kind (code, name_zh, name_en) "
                                                           "CSV and report every problem")
def lists(check: str | None) -> None:
    if check:
        path = Path(check)
        if not path.is_file():
            raise ImportFailed(f"no such file: {path}", field="file")
        text = path.read_text(encoding="utf-8")
        header = text.lstrip("\ufeff").split("\n", 1)[0]
        entries = parse_demand_lists(text, source=path.name) if "categories" in header else \
            parse_meeting_kinds(text, source=path.name)
        print(f"{path.name}: {len(entries)} entries, no problems")
        return
    settings = open_database().settings
    print("list\tcode\tname_zh\tname_en\tcategories")
    for e in demand_lists(settings):
        print(f"demand\t{e.code}\t{e.name_zh}\t{e.name_en}\t{' '.join(e.prefixes)}")
    for e in meeting_kinds(settings):
        print(f"meeting_kind\t{e.code}\t{e.name_zh}\t{e.name_en}\t")


@meetings.command("list", help="the meetings, newest first, one per line under a header row (tab-separated)")
@click.option("--community", metavar="CODE", help="a community's code")
@click.option("--status", type=click.Choice(["planned", "held", "decided", "cancelled"]))
def list_(community: str | None, status: str | None) -> None:
    settings, _, sessions = open_database()
    with sessions() as session:
        rows = svc.list_meetings(session, SYSTEM, settings, community=community, status=status)
    print(HEADER)
    for m in rows:
        votes = [m[k] if m[k] is not None else "" for k in ("votes_for", "votes_against", "votes_abstain")]
        print("\t".join(str(v) for v in (m["number"], m["community"] or "", m["kind_name"], m["topic"],
                                         m["status"], m["held_at"] or "", m["topics"], *votes)))
    if not rows:
        click.echo("no meetings yet: plan one with `gridpatrol meetings add`", err=True)


@meetings.command("add", help="plan a meeting of a community, with cases on its agenda")
@click.option("--community", required=True, metavar="CODE", help="the community's code")
@click.option("--kind", required=True, help="a kind code (see `gridpatrol meetings lists`), e.g. grid_council")
@click.option("--topic", required=True)
@click.option("--at", "when", metavar="2026-12-08T19:00", help="date or local time")
@click.option("--place")
@click.option("--case", "cases", multiple=True, metavar="NUMBER", help="a case number on the agenda (repeatable)")
def add(community: str, kind: str, topic: str, when: str | None, place: str | None, cases: tuple[str, ...]) -> None:
    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        m = svc.plan_meeting(session, SYSTEM, settings, kind=kind, topic=topic, community=community, when=when,
                             place=place, cases=list(cases))
        number = m.number
    print(f"planned {number}")


@meetings.command("decide", help="record a meeting's decision, with the vote and follow-up cases")
@click.argument("number")
@click.option("--decision", required=True)
@click.option("--participants", type=int)
@click.option("--representatives", type=int)
@click.option("--for", "votes_for", type=int)
@click.option("--against", "votes_against", type=int)
@click.option("--abstain", "votes_abstain", type=int)
@click.option("--follow-up", "follow_ups", multiple=True, metavar="CATEGORY:DESCRIPTION",
              help="a follow-up case at the first case on the agenda (repeatable)")
def decide(number: str, decision: str, participants: int | None, representatives: int | None,
           votes_for: int | None, votes_against: int | None, votes_abstain: int | None,
           follow_ups: tuple[str, ...]) -> None:
    settings, _, sessions = open_database()
    parsed = []
    for f in follow_ups:
        category, _, description = f.partition(":")
        parsed.append({"category": category.strip(), "description": description.strip() or None})
    with transaction(sessions) as session:
        svc.decide(session, SYSTEM, settings, number, decision=decision, participants=participants,
                   representatives=representatives, votes_for=votes_for, votes_against=votes_against,
                   votes_abstain=votes_abstain, follow_ups=parsed)
        view = svc.meeting_view(session, SYSTEM, settings, number)
    made = ", ".join(c["number"] for c in view["follow_ups"])
    print(f"decided {number}" + (f"; follow-up cases {made}" if made else ""))
