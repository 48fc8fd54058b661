"""Inputs bounded everywhere, on both databases: the request-body limit (413 before authentication, larger for
uploads), values within what the database and the calendar hold (ids, offsets, dates: 422, never 500), deadlines in
working hours, lengths of every free-text field (JSON bodies and the Open311 form), and the security headers."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import uuid

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.schemas.bounds import MAX_PARAM_CHARS
from tests.conftest import ENGLISH

BIG = str(2**63)  # one more than the largest 64-bit id
BIG32 = str(2**31)  # one more than an INTEGER column holds on PostGIS
THREE_MB = 3 * 1024 * 1024


@pytest.fixture
def client(world) -> TestClient:
    """The world's app, answering a server error with a 500 (not raising it), as a real server does."""
    return TestClient(world.client.app, raise_server_exceptions=False, headers=ENGLISH)


def _big_json() -> bytes:
    return json.dumps({"client_id": str(uuid.uuid4()), "category": "C0103", "lon": 7.42, "lat": 43.73,
                       "description": "x" * THREE_MB}).encode()


# ---------------------------------------------------------------------------------------------- the body limit


@pytest.mark.parametrize("path", ["/api/v1/cases", "/open311/v2/requests.json", "/api/v1/auth/token",
                                  "/api/v1/cases/1/actions/dispatch"])
def test_a_large_body_is_refused_before_authentication(client, path):
    r = client.post(path, content=_big_json(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert r.json()["code"] == "too_large" and r.json()["field"] == "body"


def test_a_streamed_body_without_a_length_is_counted(client, world):
    def chunks():
        for _ in range(3):
            yield b" " * (1024 * 1024)
    r = client.post("/api/v1/cases", content=chunks(), headers={**world.h("worker_a"),
                                                                 "Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert r.json()["field"] == "body"


def test_a_body_within_the_limit_is_read_as_before(client, world):
    r = client.post("/api/v1/cases", headers=world.h("worker_a"), json={
        "client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1],
        "description": "x" * 3000})
    assert r.status_code == 201, r.text


def test_a_photo_larger_than_the_body_limit_still_uploads(client, world):
    """Photos have their own limit (photo_max_bytes): a 3 MB PNG is more than the 2 MB of other routes."""
    case = world.report()
    out = io.BytesIO()
    Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3)).save(out, "PNG", compress_level=0)
    data = out.getvalue()
    assert THREE_MB <= len(data) < world.settings.photo_max_bytes
    r = client.post(f"/api/v1/cases/{case['id']}/photos", headers=world.h("worker_a"),
                    files={"file": ("big.png", data, "image/png")})
    assert r.status_code == 201, r.text[:300]
    too_big = b"\0" * (world.settings.photo_max_bytes + 128 * 1024)
    r = client.post(f"/api/v1/cases/{case['id']}/photos", headers=world.h("worker_a"),
                    files={"file": ("huge.png", too_big, "image/png")})
    assert r.status_code == 413


# ---------------------------------------------------------------------------------------------- values in bounds

OUT_OF_BOUNDS = [  # (url, the parameter named in the answer)
    (f"/api/v1/cases/{BIG}", "case_id"),
    (f"/api/v1/cases/{BIG32}", "case_id"),
    (f"/api/v1/households/{BIG32}", "household_id"),
    (f"/api/v1/grids?community_id={BIG32}", "community_id"),
    (f"/api/v1/cases?offset={BIG}", "offset"),
    (f"/api/v1/cases?limit={BIG}", "limit"),
    ("/api/v1/cases?since=0001-01-01T00:00:00Z", "since"),
    (f"/api/v1/grids?offset={BIG}", "offset"),
    (f"/api/v1/grids?community_id={BIG}", "community_id"),
    (f"/api/v1/communities?limit={BIG}", "limit"),
    (f"/api/v1/buildings?offset={BIG}", "offset"),
    (f"/api/v1/households?grid_id={BIG}", "grid_id"),
    (f"/api/v1/photos/{BIG}", "photo_id"),
    (f"/api/v1/patrols/-{BIG}0", "patrol_id"),
    ("/open311/v2/requests.json?start_date=0001-01-01T00:00:00Z", "start_date"),
    ("/open311/v2/requests.json?end_date=9999-12-31T00:00:00Z", "end_date"),
    ("/api/v1/analytics/kpis?start=0001-01-01", "start"),
    ("/api/v1/analytics/kpis?end=9999-12-31", "end"),
    ("/api/v1/workers/1/route?date=0001-01-01", "date"),
    ("/maps/coverage?day=0001-01-01", "day"),
    (f"/api/v1/cases?grid={'g' * (MAX_PARAM_CHARS + 1)}", "grid"),
    ("/api/v1/analytics/emerging?category=%00&measure=cases", "category"),  # found by the fuzzer: 500 on PostGIS
    ("/api/v1/cases?category=C01%0003", "category"),
]


@pytest.mark.parametrize("who", ["admin", None])
@pytest.mark.parametrize("url,field", OUT_OF_BOUNDS)
def test_values_beyond_the_database_answer_422_naming_the_parameter(client, world, url, field, who):
    r = client.get(url, headers=world.h(who) if who else {})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["code"] == "invalid" and r.json()["field"] == field


@pytest.mark.parametrize("field,value", [("building_id", 2**63), ("building_id", 2**31), ("lon", float("inf")),
                                         ("description", "a\x00b")])
def test_json_values_beyond_the_database_answer_422(client, world, field, value):
    body = {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1],
            field: value}
    r = client.post("/api/v1/cases", headers={**world.h("worker_a"), "Content-Type": "application/json"},
                    content=json.dumps(body))
    assert r.status_code == 422, r.text[:300]
    assert r.json()["field"] == field


@pytest.mark.parametrize("url", [f"/open311/v2/requests/{BIG}.json",
                                 f"/open311/v2/requests.json?service_request_id=1,{BIG}"])
def test_open311_ids_beyond_the_database_are_not_found_or_refused(client, url):
    r = client.get(url)
    assert r.status_code in (400, 404), r.text[:300]


def test_dates_and_numbers_within_bounds_pass(client, world):
    assert client.get("/api/v1/cases?since=2000-01-01T00:00:00Z&offset=0",
                      headers=world.h("admin")).status_code == 200
    assert client.get(f"/api/v1/cases/{2**31 - 1}", headers=world.h("admin")).status_code == 404
    # digits in a text parameter are text: a long number searched for is not a whole number out of bounds
    assert client.get(f"/api/v1/households?q={'1' * 30}", headers=world.h("sup")).status_code == 200


# ---------------------------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize("action,body,field", [
    ("dispatch", {"hours": 2e7}, "hours"),
    ("dispatch", {"hours": 2000.5}, "hours"),
    ("whistle", {"hours": 2e7}, "hours"),
    ("whistle", {"report_in_hours": 1e9}, "report_in_hours"),
])
def test_a_deadline_is_at_most_2000_working_hours(client, world, action, body, field):
    case = world.report()
    world.act("sup", case["id"], "register")
    extra = {"unit_id": world.units[0]} if action == "dispatch" else {"units": [world.units[0]]}
    r = client.post(f"/api/v1/cases/{case['id']}/actions/{action}", headers=world.h("sup"), json={**extra, **body})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["field"] == field
    ok = client.post(f"/api/v1/cases/{case['id']}/actions/{action}", headers=world.h("sup"),
                     json={**extra, field: 2000})
    assert ok.status_code == 200, ok.text[:300]


def test_the_service_bounds_the_hours_too(world):
    from patrol.cases.service import check_hours
    from patrol.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="at most 2000"):
        check_hours(2e7, "hours")
    check_hours(2000, "hours")


# ---------------------------------------------------------------------------------------------- lengths

# fields bounded by the body limit only: files, the checklist's YAML text, the OAuth2 login form (its standard
# fields), and the plan upload's layer name (the GIS upload work)
UNBOUNDED_OK = {*((route, f"body.{name}") for route in ("/api/v1/auth/token", "/login")
                  for name in ("client_id", "client_secret", "grant_type", "scope", "username", "password")),
                ("/api/v1/checklists", "body"), ("/api/v1/plans/{plan_id}/upload", "body.layer"),
                # a roster CSV as the body (text/csv): bounded by the upload limit, its rows by the import's checks
                ("/api/v1/volunteers/members/import", "body")}


def _unbounded_strings(schema: dict, components: dict, path: str, seen: frozenset = frozenset()):
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        if name in seen:
            return
        seen, schema = seen | {name}, components[name]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _unbounded_strings(sub, components, path, seen)
    if (schema.get("type") == "string" and not {"maxLength", "enum", "const", "contentMediaType"} & set(schema)
            and schema.get("format") not in ("binary", "uuid", "date", "date-time")):
        yield path
    if schema.get("type") == "array" and "items" in schema:
        yield from _unbounded_strings(schema["items"], components, f"{path}[]", seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _unbounded_strings(sub, components, f"{path}.{name}", seen)


def test_every_text_field_of_a_request_body_has_a_length(world):
    spec = world.client.app.openapi()
    components = spec["components"]["schemas"]
    unbounded = sorted({(route, field) for route, ops in spec["paths"].items() for op in ops.values()
                        for content in op.get("requestBody", {}).get("content", {}).values()
                        for field in _unbounded_strings(content.get("schema", {}), components, "body")}
                       - UNBOUNDED_OK)
    assert not unbounded


def _open311(world, **fields) -> dict:
    return {"api_key": world.api_key, "service_code": "C0103", "lat": world.point_a[1], "long": world.point_a[0],
            **fields}


@pytest.mark.parametrize("fields,field", [
    ({"description": "x" * 4001}, "description"),
    ({"first_name": "x" * 301}, "first_name"),
    ({"attribute[a]": "x" * 301}, "attribute[a]"),
    ({"description": "x" * 3000, **{f"attribute[a{i}]": "y" * 200 for i in range(10)}}, "description"),
    ({f"attribute[a{i}]": "y" for i in range(51)}, "attribute"),
])
def test_open311_fields_keep_their_lengths(client, world, fields, field):
    r = client.post("/open311/v2/requests.json", data=_open311(world, **fields))
    assert r.status_code == 400, r.text[:300]
    assert r.json()[0]["description"].startswith(f"{field}: at most"), r.text[:300]


def test_open311_within_the_lengths_files_the_request(client, world):
    r = client.post("/open311/v2/requests.json", data=_open311(world, description="x" * 3000,
                                                                **{"attribute[a]": "y" * 300}))
    assert r.status_code == 201, r.text[:300]


def test_case_text_fields_keep_their_lengths(client, world):
    r = client.post("/api/v1/cases", headers=world.h("worker_a"), json={
        "client_id": str(uuid.uuid4()), "category": "C" * 41, "lon": world.point_a[0], "lat": world.point_a[1]})
    assert r.status_code == 422 and r.json()["field"] == "category"


# ---------------------------------------------------------------------------------------------- security headers


@pytest.mark.parametrize("path", ["/health", "/login", "/api/v1/cases", "/open311/v2/services.json",
                                  "/static/does-not-exist.js"])
def test_every_answer_has_the_security_headers(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_a_refused_body_has_the_security_headers_too(client):
    r = client.post("/api/v1/cases", content=_big_json(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["x-frame-options"] == "DENY"


# ---------------------------------------------------------------------------------------------- open redirect

ELSEWHERE = ["/%5Cevil.example/", "//evil.example", "https://evil.example", "/\\evil", "%2F%2Fevil.example",
             "/%09/evil.example", "javascript:alert(1)", "evil.example", "///evil.example", "/%0A/evil.example"]


@pytest.mark.parametrize("target", ELSEWHERE)
def test_login_goes_on_only_to_a_path_of_this_site(client, target):
    r = client.get(f"/login?next={target}")
    assert r.status_code == 200
    assert 'data-next="/dashboard"' in r.text
    assert "evil" not in r.text


@pytest.mark.parametrize("target", ["/maps/cases?grid=G1&lang=en", "/dashboard", "/surveys?month=2026-11"])
def test_login_goes_on_to_the_page_asked_for(client, target):
    from urllib.parse import quote

    from markupsafe import escape

    r = client.get(f"/login?next={quote(target)}")
    assert f'data-next="{escape(target)}"' in r.text  # static/js/login.js goes there after logging in


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example/"])
def test_the_login_redirect_of_a_page_keeps_to_this_site(target):
    from api.deps import login_redirect

    assert login_redirect(target) == "/login?next=/dashboard"


def test_a_page_without_a_login_goes_to_login_and_back(client):
    r = client.get("/maps/cases?lang=en", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/maps/cases%3Flang%3Den"


def test_no_script_of_the_login_page_writes_the_cookie(client):
    """POST /login sets the cookie, HttpOnly, SameSite=Lax, Secure over https (tests/api/test_sessions.py); the
    page's script keeps only the bearer token for the pages' API calls."""
    page, script = client.get("/login"), client.get("/static/js/login.js")
    assert page.status_code == script.status_code == 200
    assert "document.cookie" not in page.text + script.text and 'fetch("/login"' in script.text


# ---------------------------------------------------------------------------------------------- CSV formulas

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize("cell,shown", [
    (FORMULA, "'" + FORMULA), ("+86 139 0617 2845", "'+86 139 0617 2845"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-3.5", "-3.5"), ("+12", "+12"), ("-1e3", "-1e3"), ("plain", "plain"),
    ("a=b", "a=b"), ("", ""),
])
def test_a_cell_that_a_spreadsheet_would_run_is_shown_as_text(cell, shown):
    from api.csv_safe import safe_cell

    assert safe_cell(cell) == shown


def test_safe_csv_keeps_the_bom_the_line_ends_and_multiline_cells():
    from api.csv_safe import safe_csv

    text = "\ufeffa,b\r\n\"=1,\n2\",-4\r\n"
    assert safe_csv(text) == "\ufeffa,b\r\n\"'=1,\n2\",-4\r\n"


def test_a_formula_in_a_description_comes_out_as_text_in_the_cases_csv(client, world):
    r = client.post("/open311/v2/requests.json", data=_open311(world, description=FORMULA))
    assert r.status_code == 201, r.text
    case_id = r.json()[0]["service_request_id"]
    world.report(description="-42")
    r = client.get("/api/v1/cases/export?format=csv&headers=keys", headers=world.h("admin"))
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    row = next(x for x in rows if x["id"] == case_id)
    assert row["description"] == "'" + FORMULA
    assert any(x["description"] == "-42" for x in rows)  # a number stays a number
    assert all(not x["description"].startswith(("=", "+", "@")) for x in rows)


def test_the_register_export_is_safe_and_imports_again_unchanged(client, world, tmp_path):
    from sqlalchemy import select

    from patrol.core.db import session_factory, transaction
    from patrol.core.models import Building
    from patrol.surveys.residents.exchange import read_csv

    with transaction(session_factory(world.engine)) as s:
        building = s.scalar(select(Building.id).where(Building.grid_id == world.grid_a).order_by(Building.id))
    room = f"=R{uuid.uuid4().hex[:6]}"
    r = client.post("/api/v1/households", headers=world.h("sup"), json={
        "building_id": building, "room": room, "head_name": FORMULA, "phone": "+86 13906172845"})
    assert r.status_code == 201, r.text
    text = client.get("/api/v1/residents/export.csv?headers=keys", headers=world.h("sup")).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    row = next(x for x in rows if x["room"] == "'" + room)
    assert row["head_name"] == "'" + FORMULA and row["phone"] == "'+86 13906172845"
    # the download as people get it (Chinese headers) imports again too
    text = client.get("/api/v1/residents/export.csv", headers=world.h("sup")).text
    assert text.lstrip("\ufeff").startswith("住户编号,")
    (tmp_path / "register.csv").write_text(text, encoding="utf-8")
    again = next(x for x in read_csv(tmp_path / "register.csv") if x["room"] == room)
    assert again["head_name"] == FORMULA and again["phone"] == "+86 13906172845"


# ---------------------------------------------------------------------------------------------- YAML aliases

LAUGHS = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                   + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(5)]
                   + ["code: X1", "frequency_days: *f"])


@pytest.mark.parametrize("text", [LAUGHS, "base: &b {type: yesno}\nitems:\n  - <<: *b\n    id: q1\n"])
def test_a_checklist_with_aliases_is_refused_small(client, world, text):
    assert len(LAUGHS) < 600
    r = client.post("/api/v1/checklists", headers={**world.h("admin"), "Content-Type": "application/yaml"},
                    content=text.encode())
    assert r.status_code == 422, r.text[:300]
    assert len(r.content) < 1000 and "aliases" in r.json()["message"] and r.json()["field"] == "definition"


def test_a_problem_quotes_a_long_value_cut_short(client, world):
    r = client.post("/api/v1/checklists", headers=world.h("admin"),
                    json={"code": "X" * 100_000, "title": {"zh": "t"}, "target": "building", "items": []})
    assert r.status_code == 422
    assert len(r.content) < 5000, len(r.content)


def test_a_page_policy_lists_exactly_its_inline_scripts():
    from api.middleware import page_policy

    body = (b"<html><script>var a = 1;</script><script src='/static/x.js'></script>"
            b"<script type=\"module\">import '/y.js';</script></html>")
    policy = page_policy(body)
    digests = [base64.b64encode(hashlib.sha256(s).digest()).decode() for s in (b"var a = 1;", b"import '/y.js';")]
    assert all(f"'sha256-{d}'" in policy for d in digests)
    assert policy.count("'sha256-") == 2  # the external script needs no hash
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_html_pages_carry_the_full_policy_and_json_the_bare_one(client):
    page = client.get("/login")
    assert page.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    api = client.get("/api/v1/categories")
    assert api.headers["content-security-policy"] == "frame-ancestors 'none'"
