"""Inspection checklists (隐患排查表) defined as data: parse and check a definition, version it, and judge answers.

A city writes its own checklists (楼道消防, 沿街商户, 工地, 消防通道 …) in YAML or JSON; the software never hard-codes
an item. A definition is checked as a whole and *every* problem is reported at once, one line each with its path
(``items[2].required_if.item: …``), so an author fixes a file in one round instead of one error per try.

Definitions are versioned by content: the canonical JSON of the normalised definition (sorted keys) is hashed, an
identical reload adds nothing, a changed one adds version N+1 and retires the older ones. Inspections keep the id of
the exact version they answered, and answers are always judged against that version, so a checklist can change
without invalidating what was recorded (or queued offline on a phone) under the old one.

The rules of answering (see the field-survey contract): yesno/choice/number items are required unless
``required: false`` or hidden by ``show_if``; photo/note items are optional unless ``required: true`` or their
``required_if`` holds. A condition refers to an *earlier* item only, so a form is filled top to bottom and a
condition never depends on something the worker has not reached yet. An item fails when a yesno answer differs
from ``pass``, a choice answer is in ``fail_values``, or a number matches ``fail_if``; only items with ``fail`` fail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from patrol.cases.categories import active_categories
from patrol.core.auth import Actor
from patrol.core.errors import InvalidInput, NotFound
from patrol.core.models import CHECKLIST_TARGETS, Checklist
from patrol.surveys.yaml_text import read_text

CODE_RE = re.compile(r"[a-z][a-z0-9_]{1,39}")
ITEM_ID_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
ITEM_TYPES = ("yesno", "choice", "number", "photo", "note")
OPERATORS = ("gt", "ge", "lt", "le")
NOTE_MAX = 2000
TOP_KEYS = ("code", "title", "target", "frequency_days", "applies_to", "items")
APPLIES_TO_KEYS = ("building_use",)
COMMON_ITEM_KEYS = ("id", "type", "text", "required", "show_if", "required_if", "fail")
TYPE_KEYS = {
    "yesno": ("pass",),
    "choice": ("options", "fail_values"),
    "number": ("min", "max", "integer", "unit", "fail_if"),
    "photo": (),
    "note": (),
}
FAILING_TYPES = ("yesno", "choice", "number")
BUILTIN_DIR = "data/checklists"


# ---------------------------------------------------------------------------------------------- checking a definition


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool)) and math.isfinite(v)


FMT_MAX = 80  # characters of a value quoted in a problem


def _fmt(v: Any) -> str:
    """``v`` as JSON for a problem's message, cut short: a message never grows with the definition."""
    if isinstance(v, list | dict) and len(v) > FMT_MAX:
        return f"a {type(v).__name__} of {len(v)}"
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= FMT_MAX else f"{text[:FMT_MAX]}…"


class _Problems(list):
    def add(self, path: str, message: str) -> None:
        self.append(f"{path}: {message}")


def _text(value: Any, path: str, problems: _Problems) -> dict | None:
    """A bilingual label: a string (used for both languages) or {zh, en?}; English defaults to the Chinese."""
    if isinstance(value, str) and value.strip():
        return {"zh": value.strip(), "en": value.strip()}
    if not isinstance(value, dict):
        problems.add(path, "must be text or {zh: …, en: …}")
        return None
    bad = [k for k in value if k not in ("zh", "en")]
    for k in bad:
        problems.add(f"{path}.{k}", "unknown key (a label has zh and en)")
    zh, en = value.get("zh"), value.get("en")
    if not isinstance(zh, str) or not zh.strip():
        problems.add(f"{path}.zh", "missing (the Chinese text is required)")
        return None
    if en is not None and (not isinstance(en, str) or not en.strip()):
        problems.add(f"{path}.en", "must be non-empty text")
        return None
    if bad:
        return None
    return {"zh": zh.strip(), "en": (en or zh).strip()}


def parse_definition(data: dict | str, *, categories: set[str]) -> dict:
    """Check a checklist definition (a dict, or YAML/JSON text) and return it normalised.

    Normalised means every default is explicit (``required``, ``pass``, ``integer`` …) and labels are {zh, en}, so
    two spellings of the same checklist hash alike. ``categories`` are the category codes a failed item may open a
    case in. Raises InvalidInput("checklist definition has N problems", details=[one line per problem]).
    """
    if isinstance(data, str | bytes):
        data = read_text(data.decode("utf-8") if isinstance(data, bytes) else data)
    problems = _Problems()
    if not isinstance(data, dict):
        problems.add("definition", f"must be a mapping with {', '.join(TOP_KEYS)}, got {type(data).__name__}")
        raise _failed(problems)
    _check_top_keys(data, problems)
    out: dict[str, Any] = {}
    code = data.get("code")
    if code is not None:
        if not isinstance(code, str) or not CODE_RE.fullmatch(code):
            problems.add("code", f"{_fmt(code)} is not a code: 2-40 characters a-z, 0-9, _ starting with a letter")
        else:
            out["code"] = code
    if data.get("title") is not None:
        out["title"] = _text(data["title"], "title", problems)
    target = data.get("target")
    if target is not None:
        if target not in CHECKLIST_TARGETS:
            problems.add("target", f"unknown target {_fmt(target)}; targets: {', '.join(CHECKLIST_TARGETS)}")
        else:
            out["target"] = target
    freq = data.get("frequency_days")
    if freq is not None and not (_is_int(freq) and freq > 0):
        problems.add("frequency_days", f"must be a positive whole number of days, got {_fmt(freq)}")
    out["frequency_days"] = freq if _is_int(freq) and freq > 0 else None
    out["applies_to"] = _applies_to(data.get("applies_to"), target, problems)
    items = data.get("items")
    if items is not None:
        if not isinstance(items, list) or not items:
            problems.add("items", "must be a non-empty list of items")
        else:
            out["items"] = _items(items, categories, problems)
    if problems:
        raise _failed(problems)
    return out


def _check_top_keys(data: dict, problems: _Problems) -> None:
    """Unknown top-level keys, then the missing required ones."""
    for key in data:
        if key not in TOP_KEYS:
            problems.add(str(key), f"unknown key (allowed: {', '.join(TOP_KEYS)})")
    for key in ("code", "title", "target", "items"):
        if key not in data or data[key] is None:
            problems.add(key, "missing")


def _failed(problems: list[str]) -> InvalidInput:
    n = len(problems)
    return InvalidInput(f"checklist definition has {n} problem{'s' if n != 1 else ''}", field="definition",
                        details=list(problems))


def _applies_to(value: Any, target: Any, problems: _Problems) -> dict | None:
    if value is None:
        return None
    if target in CHECKLIST_TARGETS and target != "building":
        problems.add("applies_to", f"only building checklists have applies_to (this one's target is {target})")
        return None
    if not isinstance(value, dict):
        problems.add("applies_to", "must be a mapping such as {building_use: [residential, apartments]}")
        return None
    out = {}
    for k, v in value.items():
        if k not in APPLIES_TO_KEYS:
            problems.add(f"applies_to.{k}", f"unknown key (allowed: {', '.join(APPLIES_TO_KEYS)})")
        elif not isinstance(v, list) or not v or not all(isinstance(u, str) and u for u in v):
            hint = " (write \"yes\" in quotes: YAML reads a bare yes as true)" if isinstance(v, list) and any(
                isinstance(u, bool) for u in v) else ""
            problems.add(f"applies_to.{k}", f"must be a non-empty list of building uses (OSM building=* values){hint}")
        else:
            out[k] = sorted(set(v))
    return out or None


def _items(raw: list, categories: set[str], problems: _Problems) -> list[dict]:
    all_ids = [it.get("id") for it in raw if isinstance(it, dict)]
    earlier: set[str] = set()  # ids of the items before this one
    seen: dict[str, dict] = {}  # earlier items that are well-formed, by id (for the values of conditions)
    out = []
    for i, it in enumerate(raw):
        path = f"items[{i}]"
        if not isinstance(it, dict):
            problems.add(path, "must be a mapping with id, type and text")
            continue
        item: dict[str, Any] = {}
        iid = it.get("id")
        ok_id = _item_id_ok(iid, path, earlier, problems)
        typ = _item_type(it.get("type"), path, problems)
        _check_item_keys(it, typ, path, problems)
        if it.get("text") is None:
            problems.add(f"{path}.text", "missing")
        else:
            item["text"] = _text(it["text"], f"{path}.text", problems)
        required = it.get("required")
        if required is not None and not isinstance(required, bool):
            problems.add(f"{path}.required", f"must be true or false, got {_fmt(required)}")
        item["required"] = required if isinstance(required, bool) else typ in FAILING_TYPES
        for cond in ("show_if", "required_if"):
            if it.get(cond) is not None:
                item[cond] = _condition(it[cond], f"{path}.{cond}", iid, earlier, seen, all_ids, problems)
        item.update(_type_fields(it, typ, path, problems))
        if it.get("fail") is not None:
            item["fail"] = _fail(it["fail"], f"{path}.fail", typ, categories, problems)
        _fail_rule_needed(it, path, typ, problems)
        if ok_id:
            earlier.add(iid)
        if ok_id and typ:
            item = {"id": iid, "type": typ, **item}
            seen[iid] = item
            out.append(item)
    return out


def _item_id_ok(iid: Any, path: str, earlier: set[str], problems: _Problems) -> bool:
    """Whether ``iid`` is a well-formed item id not used by an earlier item (else the problem is added)."""
    if iid is None:
        problems.add(f"{path}.id", "missing")
        return False
    if not (isinstance(iid, str) and ITEM_ID_RE.fullmatch(iid) is not None):
        problems.add(f"{path}.id", f"{_fmt(iid)} is not an item id: a-z, 0-9, _ starting with a letter, ≤ 40")
        return False
    if iid in earlier:
        problems.add(f"{path}.id", f"duplicate item id {iid!r}")
        return False
    return True


def _item_type(typ: Any, path: str, problems: _Problems) -> str | None:
    """The item's type, or None when it is missing or unknown (the problem is added)."""
    if typ is None:
        problems.add(f"{path}.type", f"missing (one of {', '.join(ITEM_TYPES)})")
        return None
    if typ not in ITEM_TYPES:
        problems.add(f"{path}.type", f"unknown item type {_fmt(typ)}; types: {', '.join(ITEM_TYPES)}")
        return None
    return typ


def _check_item_keys(it: dict, typ: str | None, path: str, problems: _Problems) -> None:
    """Keys that are unknown, or that belong to another item type."""
    allowed = set(COMMON_ITEM_KEYS) | set(TYPE_KEYS.get(typ, ()) if typ else ())
    for k in it:
        if k in allowed:
            continue
        owners = [t for t, keys in TYPE_KEYS.items() if k in keys]
        if typ and owners:
            problems.add(f"{path}.{k}", f"not used by {typ} items (only by {', '.join(owners)} items)")
        elif not owners:
            problems.add(f"{path}.{k}", "unknown key")


def _type_fields(it: dict, typ: str | None, path: str, problems: _Problems) -> dict:
    """The fields only one item type has: ``pass`` (yesno), the options (choice), the range (number)."""
    if typ == "yesno":
        passing = it.get("pass", True)
        if not isinstance(passing, bool):
            problems.add(f"{path}.pass", f"must be true or false, got {_fmt(passing)}")
        return {"pass": passing if isinstance(passing, bool) else True}
    if typ == "choice":
        return _choice(it, path, problems)
    if typ == "number":
        return _number(it, path, problems)
    return {}


def _condition(value: Any, path: str, own_id: Any, earlier: set[str], seen: dict[str, dict], all_ids: list,
               problems: _Problems) -> dict | None:
    shape = "must be {item: <earlier item id>, equals: <value>} or {item: <id>, in: [<values>]}"
    if not isinstance(value, dict):
        problems.add(path, shape)
        return None
    bad = [k for k in value if k not in ("item", "equals", "in")]
    for k in bad:
        problems.add(f"{path}.{k}", "unknown key (a condition has item and equals or in)")
    ref = value.get("item")
    if ref is None:
        problems.add(f"{path}.item", "missing")
    elif ref == own_id:
        problems.add(f"{path}.item", "refers to the item itself; a condition may only refer to an earlier item")
        ref = None
    elif not isinstance(ref, str) or ref not in earlier:
        if ref in all_ids:
            problems.add(f"{path}.item", f"{_fmt(ref)} comes later in the list; a condition may only refer to an "
                                         "earlier item")
        else:
            problems.add(f"{path}.item", f"{_fmt(ref)} is not an item of this checklist")
        ref = None
    has_eq, has_in = "equals" in value, "in" in value
    if has_eq == has_in:
        problems.add(path, "give exactly one of equals or in")
        return None
    values = [value["equals"]] if has_eq else value["in"]
    if has_in and (not isinstance(values, list) or not values):
        problems.add(f"{path}.in", "must be a non-empty list of values")
        return None
    if ref is None or bad or ref not in seen:  # an earlier item with problems of its own: reported there
        return None
    target = seen[ref]
    key = f"{path}.{'equals' if has_eq else 'in'}"
    for v in values:
        why = _condition_value_problem(target, v)
        if why:
            problems.add(key, f"{_fmt(v)} {why} (item {ref!r} is {target['type']})")
            return None
    return {"item": ref, "equals": value["equals"]} if has_eq else {"item": ref, "in": list(values)}


def _condition_value_problem(target: dict, v: Any) -> str | None:
    typ = target["type"]
    if typ == "yesno":
        return None if isinstance(v, bool) else "is not a valid answer: expected true or false"
    if typ == "choice":
        values = [o["value"] for o in target.get("options", [])]
        return None if v in values and isinstance(v, str) else f"is not one of its options ({', '.join(values)})"
    if typ == "number":
        return None if _is_number(v) else "is not a number"
    return "cannot be tested: a condition may only refer to a yesno, choice or number item"


def _choice(it: dict, path: str, problems: _Problems) -> dict:
    out: dict[str, Any] = {}
    options = it.get("options")
    if not isinstance(options, list) or not options:
        problems.add(f"{path}.options", "a choice item needs options: a non-empty list of {value, zh, en}")
        values: list = []
    else:
        norm = []
        for j, o in enumerate(options):
            op = f"{path}.options[{j}]"
            if isinstance(o, str) and o:
                o = {"value": o, "zh": o}
            if not isinstance(o, dict):
                problems.add(op, "must be {value: …, zh: …, en: …}")
                continue
            value = o.get("value")
            if not isinstance(value, str) or not value:
                problems.add(f"{op}.value", f"must be non-empty text, got {_fmt(value)} (quote yes/no/numbers)")
                continue
            if value in [n["value"] for n in norm]:
                problems.add(f"{op}.value", f"duplicate option {value!r}")
                continue
            label = _text({k: v for k, v in o.items() if k != "value"}, op, problems)
            if label is not None:
                norm.append({"value": value, **label})
        values = [n["value"] for n in norm]
        out["options"] = norm
    fail_values = it.get("fail_values")
    if fail_values is not None:
        if not isinstance(fail_values, list) or not fail_values:
            problems.add(f"{path}.fail_values", "must be a non-empty list of option values")
        else:
            unknown = [v for v in fail_values if v not in values]
            if values and unknown:
                problems.add(f"{path}.fail_values", f"{', '.join(_fmt(v) for v in unknown)} not among the options "
                                                    f"({', '.join(values)})")
            out["fail_values"] = [v for v in values if v in fail_values]
    return out


def _number(it: dict, path: str, problems: _Problems) -> dict:
    out: dict[str, Any] = {}
    for k in ("min", "max"):
        v = it.get(k)
        if v is not None and not _is_number(v):
            problems.add(f"{path}.{k}", f"must be a number, got {_fmt(v)}")
        out[k] = v if _is_number(v) else None
    if out["min"] is not None and out["max"] is not None and out["min"] > out["max"]:
        problems.add(f"{path}.min", f"{out['min']} is greater than max {out['max']}")
    integer = it.get("integer", False)
    if not isinstance(integer, bool):
        problems.add(f"{path}.integer", f"must be true or false, got {_fmt(integer)}")
    out["integer"] = integer is True
    if it.get("unit") is not None:
        out["unit"] = _text(it["unit"], f"{path}.unit", problems)
    fail_if = it.get("fail_if")
    if fail_if is not None:
        shape = f"must be one comparison {{op: number}} with op one of {', '.join(OPERATORS)}, e.g. {{gt: 0}}"
        if not isinstance(fail_if, dict) or len(fail_if) != 1:
            problems.add(f"{path}.fail_if", shape)
        else:
            (op, v), = fail_if.items()
            if op not in OPERATORS:
                problems.add(f"{path}.fail_if", f"unknown operator {_fmt(op)}; use one of {', '.join(OPERATORS)}")
            elif not _is_number(v):
                problems.add(f"{path}.fail_if.{op}", f"must be a number, got {_fmt(v)}")
            else:
                out["fail_if"] = {op: v}
    return out


def _fail(value: Any, path: str, typ: str | None, categories: set[str], problems: _Problems) -> dict | None:
    if typ in ("photo", "note"):
        problems.add(path, f"a {typ} item cannot fail (only {', '.join(FAILING_TYPES)} items)")
        return None
    if not isinstance(value, dict):
        problems.add(path, "must be {category: <code>, deadline_days: <days>} (both optional)")
        return None
    for k in value:
        if k not in ("category", "deadline_days"):
            problems.add(f"{path}.{k}", "unknown key (fail has category and deadline_days)")
    cat, days = value.get("category"), value.get("deadline_days")
    if cat is not None and (not isinstance(cat, str) or cat not in categories):
        problems.add(f"{path}.category", f"unknown category {_fmt(cat)}; see gridpatrol categories list")
    if days is not None and not (_is_int(days) and days > 0):
        problems.add(f"{path}.deadline_days", f"must be a positive whole number of days, got {_fmt(days)}")
    return {"category": cat if isinstance(cat, str) else None, "deadline_days": days if _is_int(days) else None}


def _fail_rule_needed(it: dict, path: str, typ: str | None, problems: _Problems) -> None:
    """A choice or number item with ``fail`` needs the rule saying when it fails, and a rule without ``fail`` would
    never be used (only items with ``fail`` fail)."""
    rule = {"choice": "fail_values", "number": "fail_if"}.get(typ or "")
    if rule is None:
        return
    if it.get("fail") is not None and it.get(rule) is None:
        problems.add(f"{path}.{rule}", f"a {typ} item with fail needs {rule} (when does it fail?)")
    if it.get(rule) is not None and it.get("fail") is None:
        problems.add(f"{path}.fail", f"missing: {rule} is given but only items with fail can fail")


# ---------------------------------------------------------------------------------------------- versions


def canonical(defn: dict) -> str:
    """The canonical JSON of a normalised definition: what is stored and hashed."""
    return json.dumps(defn, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def digest(defn: dict) -> str:
    return hashlib.sha256(canonical(defn).encode("utf-8")).hexdigest()


def active_codes(session: Session) -> set[str]:
    """The codes of the active categories (a checklist's failing item may open a case only in one of them)."""
    return {c.code for c in active_categories(session)}


def load_checklist(session: Session, data: dict | str, *, actor: Actor | None = None,
                   now: dt.datetime | None = None) -> tuple[Checklist, bool]:
    """Store a definition as a new version of its code, unless the latest version has the same content.

    Returns (checklist, created). A new version becomes the only active one of its code; older versions stay, since
    inspections point at them."""
    defn = parse_definition(data, categories=active_codes(session))
    sha = digest(defn)
    latest = session.scalars(select(Checklist).where(Checklist.code == defn["code"])
                             .order_by(Checklist.version.desc()).limit(1)).first()
    if latest is not None and latest.sha256 == sha:
        return latest, False
    session.execute(update(Checklist).where(Checklist.code == defn["code"]).values(active=False))
    row = Checklist(code=defn["code"], version=(latest.version + 1) if latest else 1, title_zh=defn["title"]["zh"],
                    title_en=defn["title"]["en"], target=defn["target"], frequency_days=defn["frequency_days"],
                    definition=canonical(defn), sha256=sha, active=True,
                    created_at=now or dt.datetime.now(dt.UTC), created_by=actor.user_id if actor else None)
    session.add(row)
    session.flush()
    return row, True


def builtin_files() -> list[Path]:
    """The shipped checklist definitions (patrol/data/checklists/*.yaml), by name."""
    folder = resources.files("patrol").joinpath(BUILTIN_DIR)
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_file(session: Session, path: str | Path, *, actor: Actor | None = None) -> tuple[Checklist, bool]:
    """Load one definition file; problems are prefixed with the file name."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file", field="file")
    try:
        return load_checklist(session, path.read_text(encoding="utf-8"), actor=actor)
    except InvalidInput as exc:
        raise InvalidInput(f"{path.name}: {exc.message}", field=exc.field, details=exc.details) from None


def load_builtin_checklists(session: Session) -> int:
    """Load the shipped checklists (楼道消防安全检查, 沿街商户安全检查, 工地巡查, 消防通道检查); returns how many new
    versions were stored (0 when they are all loaded already)."""
    return sum(load_file(session, p)[1] for p in builtin_files())


def definition_of(checklist: Checklist) -> dict:
    return json.loads(checklist.definition)


def latest_checklists(session: Session) -> list[Checklist]:
    """The active (latest) version of every checklist, by code."""
    return list(session.scalars(select(Checklist).where(Checklist.active).order_by(Checklist.code)))


def get_checklist(session: Session, code: str, version: int | None = None) -> Checklist:
    """A checklist by code: the given version, or the latest one."""
    stmt = select(Checklist).where(Checklist.code == code)
    stmt = stmt.where(Checklist.version == version) if version is not None else stmt.order_by(
        Checklist.version.desc())
    found = session.scalars(stmt.limit(1)).first()
    if found is None:
        what = f"checklist {code!r}" + (f" version {version}" if version is not None else "")
        raise NotFound(f"no {what}; see GET /api/v1/checklists", field="code")
    return found


def versions_of(session: Session, code: str) -> list[int]:
    return list(session.scalars(select(Checklist.version).where(Checklist.code == code).order_by(Checklist.version)))


def checklist_summary(c: Checklist) -> dict:
    return {"id": c.id, "code": c.code, "version": c.version, "title": {"zh": c.title_zh, "en": c.title_en},
            "target": c.target, "frequency_days": c.frequency_days, "items": len(definition_of(c)["items"])}


def checklist_detail(c: Checklist) -> dict:
    d = definition_of(c)
    return {"id": c.id, "code": c.code, "version": c.version, "title": d["title"], "target": d["target"],
            "frequency_days": d["frequency_days"], "applies_to": d["applies_to"], "items": d["items"],
            "active": c.active, "sha256": c.sha256}


def count_checklists(session: Session) -> int:
    return int(session.scalar(select(func.count(Checklist.id))) or 0)


# ---------------------------------------------------------------------------------------------- answers


def _blank(item: dict, value: Any) -> bool:
    """No answer: absent or null, an empty note, an empty photo list."""
    return value is None or (item["type"] == "note" and value == "") or (item["type"] == "photo" and value == [])


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps true apart from 1 (Python's True == 1)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def condition_holds(cond: dict | None, given: dict) -> bool:
    """Does a condition hold for the answers ``given`` so far (visible, valid, earlier items only)?"""
    if cond is None:
        return False
    if cond["item"] not in given:
        return False
    value = given[cond["item"]]
    if "equals" in cond:
        return _same(value, cond["equals"])
    return any(_same(value, v) for v in cond["in"])


def _describe(cond: dict) -> str:
    if "equals" in cond:
        return f"{cond['item']} = {_fmt(cond['equals'])}"
    return f"{cond['item']} in {_fmt(cond['in'])}"


def _value_problem(item: dict, v: Any) -> str | None:
    typ = item["type"]
    if typ == "yesno":
        return None if isinstance(v, bool) else f"expected true or false, got {_fmt(v)}"
    if typ == "choice":
        values = [o["value"] for o in item["options"]]
        return None if isinstance(v, str) and v in values else f"{_fmt(v)} is not one of {', '.join(values)}"
    if typ == "number":
        if not _is_number(v):
            return f"expected a number, got {_fmt(v)}"
        if item.get("integer") and not float(v).is_integer():
            return f"expected a whole number, got {_fmt(v)}"
        if item.get("min") is not None and v < item["min"]:
            return f"{_fmt(v)} is below the minimum {_fmt(item['min'])}"
        if item.get("max") is not None and v > item["max"]:
            return f"{_fmt(v)} is above the maximum {_fmt(item['max'])}"
        return None
    if typ == "note":
        if not isinstance(v, str):
            return f"expected text, got {_fmt(v)}"
        return None if len(v) <= NOTE_MAX else f"is {len(v)} characters long; at most {NOTE_MAX}"
    if not isinstance(v, list):  # photo
        return "expected a list of photo client ids (UUIDs)"
    ids = set()
    for p in v:
        try:
            ids.add(uuid.UUID(p))
        except (ValueError, TypeError, AttributeError):
            return f"{_fmt(p)} is not a photo client id (a UUID)"
    return None if len(ids) == len(v) else "lists a photo twice"


def _walk(defn: dict, answers: dict):
    """Yield (item, visible, value, required) in order, tracking the valid answers of visible items for the
    conditions of later items."""
    given: dict[str, Any] = {}
    for item in defn["items"]:
        value = answers.get(item["id"])
        visible = "show_if" not in item or item["show_if"] is None or condition_holds(item["show_if"], given)
        required = visible and (item["required"] or condition_holds(item.get("required_if"), given))
        yield item, visible, value, required
        if visible and not _blank(item, value) and _value_problem(item, value) is None:
            given[item["id"]] = value


def validate_answers(defn: dict, answers: dict) -> list[str]:
    """Every problem with ``answers`` ({item id: value}) against a normalised definition, one line each starting
    with ``answers.<item>``; empty when the answers are acceptable."""
    if not isinstance(answers, dict):
        return [f"answers: must be an object {{item id: value}}, got {type(answers).__name__}"]
    ids = {item["id"] for item in defn["items"]}
    problems = [f"answers.{k}: unknown item (not in {defn['code']})" for k in answers if k not in ids]
    for item, visible, value, required in _walk(defn, answers):
        path = f"answers.{item['id']}"
        if not visible:
            if not _blank(item, value):
                problems.append(f"{path}: hidden (asked only when {_describe(item['show_if'])}) and must not be "
                                "answered")
            continue
        if _blank(item, value):
            if required:
                cond = item.get("required_if")
                why = f" when {_describe(cond)}" if cond and not item["required"] else ""
                what = "a photo is required" if item["type"] == "photo" else "required"
                problems.append(f"{path}: {what}{why}")
            continue
        why = _value_problem(item, value)
        if why:
            problems.append(f"{path}: {why}")
    return problems


def item_fails(item: dict, value: Any) -> bool:
    """Whether an answer fails its item (only items with ``fail`` can fail)."""
    if item.get("fail") is None or _blank(item, value) or _value_problem(item, value) is not None:
        return False
    if item["type"] == "yesno":
        return value != item.get("pass", True)
    if item["type"] == "choice":
        return value in item.get("fail_values", [])
    if item["type"] == "number" and item.get("fail_if"):
        (op, limit), = item["fail_if"].items()
        return {"gt": value > limit, "ge": value >= limit, "lt": value < limit, "le": value <= limit}[op]
    return False


def failed_items(defn: dict, answers: dict) -> list[dict]:
    """The failed items of (valid) answers, in checklist order: ``[{item, text, category, deadline_days}]``;
    category None means a finding that opens no case."""
    out = []
    for item, visible, value, _ in _walk(defn, answers if isinstance(answers, dict) else {}):
        if visible and item_fails(item, value):
            out.append({"item": item["id"], "text": item["text"], "category": item["fail"]["category"],
                        "deadline_days": item["fail"]["deadline_days"]})
    return out


def photo_items(defn: dict) -> dict[str, dict]:
    return {item["id"]: item for item in defn["items"] if item["type"] == "photo"}


def item_of(defn: dict, item_id: str) -> dict | None:
    return next((i for i in defn["items"] if i["id"] == item_id), None)
