"""One table, two rule sets: tests/data/checklist_parity.json run through the server's checklist rules
(patrol/surveys/checklists.py) and the phone's (maps/field/checklist.js, in Chromium), each giving a verdict per item
(pass, fail, missing, invalid, hidden, blank) that must equal the table's. A rule changed on one side only fails
here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patrol.surveys.checklists import failed_items, parse_definition, validate_answers
from tests.browser.module_page import module_page

pytestmark = pytest.mark.browser

TABLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "checklist_parity.json").read_text("utf-8"))


def _value(v: Any) -> Any:
    """The table's shorthand {"$repeat": s, "times": n} expanded."""
    if isinstance(v, dict) and "$repeat" in v:
        return v["$repeat"] * v["times"]
    return v


def _cases() -> list[dict]:
    defns = {name: parse_definition(raw, categories=set(TABLE["categories"]))
             for name, raw in TABLE["checklists"].items()}
    return [dict(case, defn=defns[case["checklist"]], answers={k: _value(v) for k, v in case["answers"].items()})
            for case in TABLE["cases"]]


def _blank(v: Any) -> bool:
    return v is None or v == "" or v == []


def python_verdicts(defn: dict, answers: dict) -> dict[str, str]:
    """The server's verdict per item, from its public rules: the problems validate_answers lists for the item, and
    failed_items."""
    problems = validate_answers(defn, answers)
    failed = {f["item"] for f in failed_items(defn, answers)}
    out = {}
    for item in defn["items"]:
        iid = item["id"]
        mine = [p.split(": ", 1)[1] for p in problems if p.startswith(f"answers.{iid}: ")]
        if any(m.startswith("hidden") for m in mine):
            out[iid] = "hidden"
        elif any(m.startswith(("required", "a photo is required")) for m in mine):
            out[iid] = "missing"
        elif mine:
            out[iid] = "invalid"
        elif iid in failed:
            out[iid] = "fail"
        else:
            out[iid] = "blank" if _blank(answers.get(iid)) else "pass"
    return out


# The phone's draft as its form builds it: a number typed as text is kept raw (and is no answer), photos are kept
# apart from the answers; then the same verdicts from evaluate() and problemsOf().
JS_VERDICTS = """async (cases) => {
  const { evaluate, problemsOf, isBlank } = await import('/app/checklist.js');
  const key = (k) => k;
  return cases.map(({ defn, answers }) => {
    const draft = { answers: {}, raw: {}, photos: {} };
    for (const it of defn.items) {
      if (!(it.id in answers)) continue;
      const v = answers[it.id];
      if (it.type === 'photo') draft.photos[it.id] = v;
      else if (it.type === 'number' && typeof v === 'string') draft.raw[it.id] = v;
      else { draft.answers[it.id] = v; if (it.type === 'number') draft.raw[it.id] = String(v); }
    }
    const ev = evaluate(defn, draft.answers), problems = problemsOf(defn, draft, key), out = {};
    for (const it of defn.items) {
      const e = ev.items[it.id], p = problems[it.id], blank = isBlank(answers[it.id]);
      out[it.id] = !e.shown ? (blank ? 'blank' : 'hidden') : p === 'required' || p === 'photo_required' ? 'missing' :
        p ? 'invalid' : e.fails ? 'fail' : blank ? 'blank' : 'pass';
    }
    return out;
  });
}"""


def test_the_table_covers_every_verdict_and_item_type():
    verdicts = {v for case in TABLE["cases"] for v in case["expected"].values()}
    assert verdicts == {"pass", "fail", "missing", "invalid", "hidden", "blank"}
    types = {it["type"] for c in TABLE["checklists"].values() for it in c["items"]}
    assert types == {"yesno", "choice", "number", "photo", "note"}
    for case in TABLE["cases"]:  # every item judged in every case
        ids = [it["id"] for it in TABLE["checklists"][case["checklist"]]["items"]]
        assert sorted(case["expected"]) == sorted(ids), case["why"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["why"][:60])
def test_python_rules_give_the_table_verdicts(case):
    assert python_verdicts(case["defn"], case["answers"]) == case["expected"]


def test_phone_rules_give_the_same_verdicts():
    cases = _cases()
    with module_page() as page:
        got = page.evaluate(JS_VERDICTS, [{"defn": c["defn"], "answers": c["answers"]} for c in cases])
        assert not page.errors, page.errors
    for case, verdicts in zip(cases, got, strict=True):
        assert verdicts == case["expected"], case["why"]
