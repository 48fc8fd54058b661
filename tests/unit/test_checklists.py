"""Checklist definitions as data (patrol.surveys.checklists): every problem of a bad definition reported at once with
its path, normalisation and hashing, answer validation and failure evaluation. No database."""

from __future__ import annotations

import copy
import uuid

import pytest

from patrol.cases.categories import default_csv, parse_categories
from patrol.core.errors import InvalidInput
from patrol.surveys import checklists as cl

CATEGORIES = {r["code"] for r in parse_categories(default_csv())}


def good() -> dict:
    """The contract's example definition."""
    return {
        "code": "stairwell_fire",
        "title": {"zh": "楼道消防安全检查", "en": "Stairwell fire safety"},
        "target": "building",
        "frequency_days": 30,
        "applies_to": {"building_use": ["residential", "apartments", "house"]},
        "items": [
            {"id": "clutter", "type": "yesno", "text": {"zh": "楼道内无杂物堆放", "en": "Stairwell free of clutter"},
             "pass": True, "fail": {"category": "C0102", "deadline_days": 3}},
            {"id": "extinguisher", "type": "yesno", "text": {"zh": "配备灭火器", "en": "Fire extinguisher present"},
             "fail": {"category": "E0601", "deadline_days": 7}},
            {"id": "extinguisher_photo", "type": "photo", "text": {"zh": "拍摄现场照片", "en": "Photo of the landing"},
             "required_if": {"item": "extinguisher", "equals": False}},
            {"id": "extinguisher_state", "type": "choice", "text": {"zh": "灭火器状态", "en": "Extinguisher state"},
             "options": [{"value": "ok", "zh": "有效期内", "en": "In date"},
                         {"value": "expired", "zh": "已过期", "en": "Expired"}],
             "show_if": {"item": "extinguisher", "equals": True}, "fail_values": ["expired"],
             "fail": {"category": "E0601", "deadline_days": 7}},
            {"id": "ebikes_indoor", "type": "number", "text": {"zh": "楼道内充电电动车数量", "en": "E-bikes charging"},
             "min": 0, "max": 200, "integer": True, "unit": {"zh": "辆", "en": "bikes"}, "fail_if": {"gt": 0},
             "fail": {"category": "C0103", "deadline_days": 1}},
            {"id": "remarks", "type": "note", "text": {"zh": "备注", "en": "Remarks"}},
        ],
    }


def problems(defn) -> list[str]:
    """The problem lines of a bad definition (and a check that the message counts them)."""
    with pytest.raises(InvalidInput) as info:
        cl.parse_definition(defn, categories=CATEGORIES)
    exc = info.value
    n = len(exc.details)
    assert exc.message == f"checklist definition has {n} problem{'s' if n != 1 else ''}"
    assert exc.field == "definition" and exc.status_code == 422
    return exc.details


def changed(**paths) -> dict:
    """The good definition with some parts replaced: keys like ``items__1__type`` address nested values; the
    value ``DELETE`` removes the key."""
    d = copy.deepcopy(good())
    for path, value in paths.items():
        parts = [int(p) if p.isdigit() else p for p in path.split("__")]
        node = d
        for p in parts[:-1]:
            node = node[p]
        if value == "DELETE":
            del node[parts[-1]]
        else:
            node[parts[-1]] = value
    return d


# ---------------------------------------------------------------------------------------------- good definitions


def test_the_contract_example_is_valid_and_normalised():
    d = cl.parse_definition(good(), categories=CATEGORIES)
    assert d["code"] == "stairwell_fire" and d["target"] == "building" and d["frequency_days"] == 30
    assert d["applies_to"] == {"building_use": ["apartments", "house", "residential"]}
    items = {i["id"]: i for i in d["items"]}
    assert [i["id"] for i in d["items"]] == ["clutter", "extinguisher", "extinguisher_photo", "extinguisher_state",
                                            "ebikes_indoor", "remarks"]
    # defaults made explicit: yes/no, choice and number required, photo and note optional; pass defaults to true
    assert {k: i["required"] for k, i in items.items()} == {
        "clutter": True, "extinguisher": True, "extinguisher_photo": False, "extinguisher_state": True,
        "ebikes_indoor": True, "remarks": False}
    assert items["extinguisher"]["pass"] is True
    assert items["ebikes_indoor"]["fail_if"] == {"gt": 0} and items["ebikes_indoor"]["integer"] is True


def test_spellings_of_the_same_checklist_hash_alike_and_a_change_does_not():
    a = cl.parse_definition(good(), categories=CATEGORIES)
    # pass: true is the default, applies_to is a set, required: false is the default of a photo item
    spelled = changed(items__0__pass="DELETE", applies_to={"building_use": ["house", "residential", "apartments"]},
                      items__2__required=False)
    b = cl.parse_definition(spelled, categories=CATEGORIES)
    assert cl.digest(a) == cl.digest(b) and cl.canonical(a) == cl.canonical(b)
    c = cl.parse_definition(changed(frequency_days=14), categories=CATEGORIES)
    assert cl.digest(c) != cl.digest(a)
    # a plain string is both languages, as is {zh} alone
    plain = cl.parse_definition(changed(items__5__text="备注"), categories=CATEGORIES)
    zh_only = cl.parse_definition(changed(items__5__text={"zh": "备注"}), categories=CATEGORIES)
    assert plain["items"][5]["text"] == {"zh": "备注", "en": "备注"} and cl.digest(plain) == cl.digest(zh_only)


def test_yaml_text_is_parsed_like_the_dict():
    import yaml

    text = yaml.safe_dump(good(), allow_unicode=True)
    assert cl.parse_definition(text, categories=CATEGORIES) == cl.parse_definition(good(), categories=CATEGORIES)


@pytest.mark.parametrize("path", cl.builtin_files(), ids=lambda p: p.name)
def test_the_shipped_checklists_are_valid(path):
    d = cl.parse_definition(path.read_text(encoding="utf-8"), categories=CATEGORIES)
    assert d["code"] == path.stem
    assert d["title"]["zh"] and d["title"]["en"] and d["frequency_days"] > 0
    for item in d["items"]:
        assert item["text"]["zh"] != item["text"]["en"], item["id"]  # Chinese and English written out
    assert any(i.get("fail") and i["fail"]["category"] for i in d["items"])


def test_four_checklists_are_shipped_with_the_contract_codes_and_targets():
    defs = {p.stem: cl.parse_definition(p.read_text(encoding="utf-8"), categories=CATEGORIES)
            for p in cl.builtin_files()}
    assert {k: (d["target"], d["title"]["zh"]) for k, d in defs.items()} == {
        "stairwell_fire": ("building", "楼道消防安全检查"), "shop_safety": ("shop", "沿街商户安全检查"),
        "construction_site": ("place", "工地巡查"), "fire_lane": ("place", "消防通道检查")}
    used = {i["fail"]["category"] for d in defs.values() for i in d["items"] if i.get("fail")} - {None}
    assert {"C0102", "C0103", "C0105", "C0104", "E0601", "E0404", "E0502", "B0304", "E0302", "E0301", "E0304",
            "B0108"} <= used


# ---------------------------------------------------------------------------------------------- one problem each


def test_unknown_top_level_key():
    assert problems(changed(owner="王芳")) == [("owner: unknown key (allowed: code, title, target, frequency_days, "
                                               "applies_to, items)")]


def test_missing_code_title_target_items():
    assert problems({}) == ["code: missing", "title: missing", "target: missing", "items: missing"]


def test_bad_code():
    assert problems(changed(code="Stairwell-Fire")) == [
        'code: "Stairwell-Fire" is not a code: 2-40 characters a-z, 0-9, _ starting with a letter']


def test_unknown_target():
    assert problems(changed(target="street")) == ['target: unknown target "street"; targets: building, shop, place']


def test_unknown_item_type():
    assert problems(changed(items__5__type="signature")) == [
        'items[5].type: unknown item type "signature"; types: yesno, choice, number, photo, note']


def test_duplicate_item_id():
    assert problems(changed(items__5__id="clutter")) == ["items[5].id: duplicate item id 'clutter'"]


def test_missing_text():
    assert problems(changed(items__1__text="DELETE")) == ["items[1].text: missing"]


def test_condition_on_a_missing_item():
    assert problems(changed(items__2__required_if={"item": "extinguisher_ok", "equals": False})) == [
        'items[2].required_if.item: "extinguisher_ok" is not an item of this checklist']


def test_condition_on_a_later_item():
    assert problems(changed(items__1__show_if={"item": "remarks", "equals": "x"})) == [
        'items[1].show_if.item: "remarks" comes later in the list; a condition may only refer to an earlier item']


def test_condition_value_not_among_the_options():
    d = changed()
    d["items"][4]["show_if"] = {"item": "extinguisher_state", "in": ["ok", "broken"]}
    assert problems(d) == [('items[4].show_if.in: "broken" is not one of its options (ok, expired) (item '
                           "'extinguisher_state' is choice)")]


def test_condition_value_not_a_boolean_for_a_yesno_item():
    assert problems(changed(items__2__required_if={"item": "extinguisher", "equals": "no"})) == [
        ('items[2].required_if.equals: "no" is not a valid answer: expected true or false (item \'extinguisher\' '
        "is yesno)")]


def test_unknown_category():
    assert problems(changed(items__0__fail={"category": "X9999", "deadline_days": 3})) == [
        'items[0].fail.category: unknown category "X9999"; see gridpatrol categories list']


def test_fail_on_a_photo_item_and_on_a_note_item():
    d = changed(items__2__fail={"category": "C0102"}, items__5__fail={"category": "C0102"})
    assert problems(d) == ["items[2].fail: a photo item cannot fail (only yesno, choice, number items)",
                           "items[5].fail: a note item cannot fail (only yesno, choice, number items)"]


def test_fail_values_not_among_the_options():
    assert problems(changed(items__3__fail_values=["expired", "missing"])) == [
        'items[3].fail_values: "missing" not among the options (ok, expired)']


def test_choice_without_options():
    assert problems(changed(items__3__options="DELETE", items__3__fail_values="DELETE", items__3__fail="DELETE")) \
        == ["items[3].options: a choice item needs options: a non-empty list of {value, zh, en}"]


def test_min_greater_than_max():
    assert problems(changed(items__4__min=10, items__4__max=5)) == ["items[4].min: 10 is greater than max 5"]


@pytest.mark.parametrize("days", [0, -2, 1.5, "3", True])
def test_deadline_days_not_a_positive_integer(days):
    import json

    assert problems(changed(items__0__fail={"category": "C0102", "deadline_days": days})) == [
        f"items[0].fail.deadline_days: must be a positive whole number of days, got {json.dumps(days)}"]


def test_fail_if_with_an_unknown_operator():
    assert problems(changed(items__4__fail_if={"eq": 0})) == [
        'items[4].fail_if: unknown operator "eq"; use one of gt, ge, lt, le']


def test_applies_to_on_a_shop_checklist():
    assert problems(changed(target="shop")) == [
        "applies_to: only building checklists have applies_to (this one's target is shop)"]


def test_frequency_not_a_positive_integer():
    assert problems(changed(frequency_days=0)) == ["frequency_days: must be a positive whole number of days, got 0"]


def test_failing_rules_need_fail_and_fail_needs_its_rule():
    d = changed(items__3__fail="DELETE", items__4__fail_if="DELETE")
    assert problems(d) == ["items[3].fail: missing: fail_values is given but only items with fail can fail",
                           "items[4].fail_if: a number item with fail needs fail_if (when does it fail?)"]


def test_a_key_of_another_item_type():
    assert problems(changed(items__0__options=[{"value": "a", "zh": "甲"}])) == [
        "items[0].options: not used by yesno items (only by choice items)"]


def test_five_different_problems_are_five_lines():
    d = changed(code="1bad", target="street", items__1__type="checkbox", items__4__fail_if={"eq": 1},
                items__0__fail={"category": "Z0000", "deadline_days": 3})
    lines = problems(d)
    assert len(lines) == 5
    assert [line.split(":")[0] for line in lines] == ["code", "target", "items[0].fail.category", "items[1].type",
                                                     "items[4].fail_if"]


def test_yaml_syntax_error_is_one_line_with_the_line_number():
    text = "code: stairwell_fire\ntitle: {zh: 楼道, en: Stairwell\ntarget: building\n"
    with pytest.raises(InvalidInput) as info:
        cl.parse_definition(text, categories=CATEGORIES)
    assert info.value.details == []
    assert info.value.message.startswith("checklist definition is not valid YAML: line 3, column 7: ")
    assert "\n" not in info.value.message


def test_a_key_given_twice_in_yaml_is_an_error_with_its_line():
    text = "code: stairwell_fire\ntarget: building\ncode: other\n"
    with pytest.raises(InvalidInput) as info:
        cl.parse_definition(text, categories=CATEGORIES)
    assert info.value.message == "checklist definition is not valid YAML: line 3, column 1: duplicate key 'code'"


def test_a_bare_yes_in_yaml_gets_a_hint():
    text = ("code: c1\ntitle: 楼道\ntarget: building\napplies_to: {building_use: [yes]}\n"
            "items: [{id: a, type: yesno, text: 有}]\n")
    assert problems(text) == [('applies_to.building_use: must be a non-empty list of building uses (OSM building=* '
                              'values) (write "yes" in quotes: YAML reads a bare yes as true)')]


# ---------------------------------------------------------------------------------------------- answers


@pytest.fixture
def defn() -> dict:
    return cl.parse_definition(good(), categories=CATEGORIES)


PHOTO = str(uuid.UUID(int=1))


def test_complete_answers_are_accepted(defn):
    ok = {"clutter": True, "extinguisher": True, "extinguisher_state": "ok", "ebikes_indoor": 0, "remarks": "好"}
    assert cl.validate_answers(defn, ok) == []
    assert cl.validate_answers(defn, {"clutter": True, "extinguisher": False, "extinguisher_photo": [PHOTO],
                                      "ebikes_indoor": 0}) == []


def test_every_answer_problem_is_reported(defn):
    answers = {"clutter": "yes", "extinguisher": True, "extinguisher_state": "broken", "ebikes_indoor": 2.5,
               "remarks": 7, "colour": "red"}
    assert cl.validate_answers(defn, answers) == [
        "answers.colour: unknown item (not in stairwell_fire)",
        'answers.clutter: expected true or false, got "yes"',
        'answers.extinguisher_state: "broken" is not one of ok, expired',
        "answers.ebikes_indoor: expected a whole number, got 2.5",
        "answers.remarks: expected text, got 7",
    ]


def test_missing_required_answers_and_a_hidden_item_answered(defn):
    assert cl.validate_answers(defn, {"extinguisher": False, "extinguisher_state": "ok"}) == [
        "answers.clutter: required",
        "answers.extinguisher_photo: a photo is required when extinguisher = false",
        "answers.extinguisher_state: hidden (asked only when extinguisher = true) and must not be answered",
        "answers.ebikes_indoor: required",
    ]


def test_the_shown_item_becomes_required_only_when_its_condition_holds(defn):
    base = {"clutter": True, "ebikes_indoor": 0}
    assert cl.validate_answers(defn, {**base, "extinguisher": True}) == ["answers.extinguisher_state: required"]
    assert cl.validate_answers(defn, {**base, "extinguisher": False, "extinguisher_photo": []}) == [
        "answers.extinguisher_photo: a photo is required when extinguisher = false"]


def test_ranges_photo_ids_and_note_length(defn):
    base = {"clutter": True, "extinguisher": False}
    assert cl.validate_answers(defn, {**base, "ebikes_indoor": 201, "extinguisher_photo": ["not-a-uuid"],
                                      "remarks": "字" * 2001}) == [
        'answers.extinguisher_photo: "not-a-uuid" is not a photo client id (a UUID)',
        "answers.ebikes_indoor: 201 is above the maximum 200",
        "answers.remarks: is 2001 characters long; at most 2000",
    ]
    assert cl.validate_answers(defn, {**base, "ebikes_indoor": -1, "extinguisher_photo": [PHOTO, PHOTO]}) == [
        "answers.extinguisher_photo: lists a photo twice", "answers.ebikes_indoor: -1 is below the minimum 0"]
    assert cl.validate_answers(defn, {**base, "ebikes_indoor": True, "extinguisher_photo": [PHOTO]}) == [
        "answers.ebikes_indoor: expected a number, got true"]  # a boolean is not a number
    assert cl.validate_answers(defn, ["clutter"]) == ["answers: must be an object {item id: value}, got list"]


def test_optional_items_and_required_false():
    d = cl.parse_definition(changed(items__0__required=False), categories=CATEGORIES)
    assert cl.validate_answers(d, {"extinguisher": True, "extinguisher_state": "ok", "ebikes_indoor": 0}) == []


# ---------------------------------------------------------------------------------------------- failures


def test_failed_items_yesno_choice_number(defn):
    answers = {"clutter": False, "extinguisher": True, "extinguisher_state": "expired", "ebikes_indoor": 3}
    assert cl.failed_items(defn, answers) == [
        {"item": "clutter", "text": {"zh": "楼道内无杂物堆放", "en": "Stairwell free of clutter"},
         "category": "C0102", "deadline_days": 3},
        {"item": "extinguisher_state", "text": {"zh": "灭火器状态", "en": "Extinguisher state"},
         "category": "E0601", "deadline_days": 7},
        {"item": "ebikes_indoor", "text": {"zh": "楼道内充电电动车数量", "en": "E-bikes charging"},
         "category": "C0103", "deadline_days": 1},
    ]
    passing = {"clutter": True, "extinguisher": True, "extinguisher_state": "ok", "ebikes_indoor": 0}
    assert cl.failed_items(defn, passing) == []


def test_a_hidden_item_never_fails_and_items_without_fail_never_fail(defn):
    # extinguisher_state "expired" is hidden when there is no extinguisher: only the missing extinguisher fails
    failed = cl.failed_items(defn, {"clutter": True, "extinguisher": False, "extinguisher_state": "expired",
                                    "ebikes_indoor": 0})
    assert [f["item"] for f in failed] == ["extinguisher"]
    d = cl.parse_definition(changed(items__0__fail="DELETE"), categories=CATEGORIES)
    assert cl.failed_items(d, {"clutter": False, "extinguisher": True, "extinguisher_state": "ok",
                               "ebikes_indoor": 0}) == []


@pytest.mark.parametrize("op,limit,fails,passes", [("gt", 0, 1, 0), ("ge", 2, 2, 1), ("lt", 1, 0, 1),
                                                   ("le", 3, 3, 4)])
def test_number_comparisons(op, limit, fails, passes):
    d = cl.parse_definition(changed(items__4__fail_if={op: limit}), categories=CATEGORIES)
    base = {"clutter": True, "extinguisher": True, "extinguisher_state": "ok"}
    assert [f["item"] for f in cl.failed_items(d, {**base, "ebikes_indoor": fails})] == ["ebikes_indoor"]
    assert cl.failed_items(d, {**base, "ebikes_indoor": passes}) == []


def test_a_yesno_that_passes_on_no_and_a_finding_without_a_case():
    d = changed(items__0__pass=False, items__0__text={"zh": "楼道内有杂物", "en": "Clutter in the stairwell"},
                items__0__fail={})
    defn = cl.parse_definition(d, categories=CATEGORIES)
    base = {"extinguisher": True, "extinguisher_state": "ok", "ebikes_indoor": 0}
    assert cl.failed_items(defn, {**base, "clutter": False}) == []
    assert cl.failed_items(defn, {**base, "clutter": True}) == [
        {"item": "clutter", "text": {"zh": "楼道内有杂物", "en": "Clutter in the stairwell"}, "category": None,
         "deadline_days": None}]


def test_conditions_with_in_and_strict_booleans():
    d = good()
    d["items"].insert(4, {"id": "state_photo", "type": "photo", "text": "灭火器照片",
                          "required_if": {"item": "extinguisher_state", "in": ["expired"]}})
    defn = cl.parse_definition(d, categories=CATEGORIES)
    base = {"clutter": True, "extinguisher": True, "ebikes_indoor": 0}
    assert cl.validate_answers(defn, {**base, "extinguisher_state": "expired"}) == [
        'answers.state_photo: a photo is required when extinguisher_state in ["expired"]']
    assert cl.validate_answers(defn, {**base, "extinguisher_state": "ok"}) == []
    assert cl.condition_holds({"item": "a", "equals": True}, {"a": 1}) is False  # 1 is not true
    assert cl.condition_holds({"item": "a", "equals": 1}, {"a": 1}) is True
