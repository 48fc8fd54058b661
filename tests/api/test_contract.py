"""The HTTP contract: one case-filter model for /cases, /cases/export and /cases/map; one redirect to /login for
every page; and /docs describing what every JSON route returns."""

from __future__ import annotations

import pytest

from tests.api.conftest import World

CASE_LISTINGS = ("/api/v1/cases", "/api/v1/cases/export", "/api/v1/cases/map")
MAP_VIEW = {"bbox": "7.40,43.72,7.44,43.76", "zoom": 18}  # Monaco, zoomed in: the cases themselves


@pytest.mark.parametrize("path", CASE_LISTINGS)
def test_every_case_listing_refuses_an_unknown_status_naming_the_field(world: World, path: str) -> None:
    r = world.client.get(path, headers=world.h("sup"), params={"status": "reported,lost", **MAP_VIEW})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "status" and "'lost'" in body["message"]


@pytest.mark.parametrize("path", CASE_LISTINGS)
@pytest.mark.parametrize("name", ["since", "until"])
def test_every_case_listing_wants_a_timezone_on_its_times(world: World, path: str, name: str) -> None:
    r = world.client.get(path, headers=world.h("sup"), params={name: "2026-11-01T00:00:00", **MAP_VIEW})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == name


@pytest.mark.parametrize("path", CASE_LISTINGS)
def test_every_case_listing_filters_by_status_the_same_way(world: World, path: str) -> None:
    world.report()
    r = world.client.get(path, headers=world.h("sup"), params={"status": "reported", "format": "geojson",
                                                                **MAP_VIEW})
    assert r.status_code == 200, r.text
    body = r.json()
    statuses = [c["status"] for c in body["cases"]] if "cases" in body else \
        [f["properties"]["status"] for f in body["features"]]
    assert statuses and set(statuses) == {"reported"}


PAGES = ("/maps/cases", "/maps/heat", "/maps/hotspots", "/maps/coverage", "/maps/grids", "/dashboard", "/planner",
         "/surveys", "/desk", "/desk/unlocated", "/desk/people", "/desk/meetings", "/desk/scorecards")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_visitor_without_login_to_login_and_back(world: World, path: str) -> None:
    world.client.cookies.clear()
    r = world.client.get(path, params={"lang": "en"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/login?next={path}%3Flang%3Den"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_with_the_login_cookie(world: World, path: str) -> None:
    world.client.cookies.set("gridpatrol_token", world.tokens["admin"])
    try:
        r = world.client.get(path, follow_redirects=False)
    finally:
        world.client.cookies.clear()
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")


# Routes whose answer is not a JSON document: files, pages, images and the OpenAPI document of the OGC API itself.
NOT_JSON = {
    ("get", "/"), ("get", "/login"), ("get", "/dashboard"), ("get", "/planner"), ("get", "/surveys"),
    ("get", "/maps/cases"), ("get", "/maps/heat"), ("get", "/maps/hotspots"), ("get", "/maps/coverage"),
    ("get", "/maps/grids"), ("get", "/app/"), ("get", "/desk"), ("get", "/api/v1/desk/events"),
    ("get", "/api/v1/cases/export"), ("get", "/api/v1/residents/export.csv"),
    ("get", "/api/v1/plans/{plan_id}/download"),
    ("get", "/api/v1/photos/{photo_id}"), ("get", "/api/v1/photos/{photo_id}/thumbnail"),
    ("get", "/api/v1/photos/{photo_id}/original"),
    ("get", "/api/v1/inspection-photos/{photo_id}"), ("get", "/api/v1/shops/{code}/qr.svg"),
    ("get", "/api/v1/stickers"),  # stickers: PDF, SVG or a zip
    ("get", "/ogc/api"), ("get", "/desk/cases/{number}"), ("get", "/desk/cases/{number}/print"),
    ("get", "/tiles/{z}/{x}/{y}.pbf"),
    ("get", "/r/"), ("get", "/r/f/{token}"), ("get", "/api/v1/public/follow/{token}/photos/{n}"),  # h5
    ("get", "/desk/unlocated"), ("get", "/api/v1/hotline/photos/{photo_id}"),
    ("get", "/desk/people"),
    ("get", "/desk/meetings"), ("get", "/desk/meetings/{number}"),  # 研判议事 pages
    ("get", "/api/v1/reports/monthly.xlsx"),  # 考核 (issue 22): the 月报 workbook
}


def _is_described(schema: dict, components: dict) -> bool:
    """A schema that says something: a named model, a typed list of one, or a union of such — not ``{}``, not a
    bare ``object``."""
    if "$ref" in schema:
        target = components[schema["$ref"].rsplit("/", 1)[1]]
        return bool(target.get("properties")) or _is_described(target, components)
    if schema.get("type") == "array":
        return _is_described(schema.get("items", {}), components)
    if "anyOf" in schema or "oneOf" in schema:
        return all(_is_described(s, components) for s in schema.get("anyOf", schema.get("oneOf", [])))
    return bool(schema.get("properties"))


def test_docs_describe_what_every_json_route_returns(tmp_path) -> None:
    from api.app import create_app
    from patrol.core.settings import Settings

    spec = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}", tiles=None)).openapi()
    components = spec["components"]["schemas"]
    vague = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if (method, path) in NOT_JSON or method == "delete":
                continue
            ok = [r for code, r in op["responses"].items() if code.startswith("2")]
            schemas = [c.get("schema", {}) for r in ok for c in r.get("content", {}).values()]
            if not schemas or not all(_is_described(s, components) for s in schemas):
                vague.append(f"{method.upper()} {path}")
    assert not vague, "routes without a response model: " + ", ".join(sorted(vague))
    for method, path in NOT_JSON:  # the allow-list names real routes only
        assert method in spec["paths"].get(path, {}), (method, path)


def test_a_response_model_keeps_fields_it_does_not_name_and_adds_none() -> None:
    from api.schemas.cases import CaseTask

    task = CaseTask.model_validate({"id": 1, "unit_id": 2, "status": "open", "deadline_at": None, "extra": 5})
    assert task.model_dump(exclude_unset=True) == {"id": 1, "unit_id": 2, "status": "open", "deadline_at": None,
                                                   "extra": 5}


RECORDS = [  # (schema, the importer's check, a valid record, the text fields with a limit)
    ("HouseholdIn", "clean_household", {"building_id": 1, "room": "3-1-502"}, ("room", "head_name", "note")),
    ("ResidentIn", "clean_resident", {"name": "王芳"}, ("name", "disability", "health")),
]


@pytest.mark.parametrize(("schema", "check", "record", "fields"), RECORDS)
def test_the_api_and_the_importer_take_the_same_text_lengths(schema: str, check: str, record: dict,
                                                               fields: tuple[str, ...]) -> None:
    import datetime as dt

    from pydantic import ValidationError

    from patrol.core.errors import InvalidInput
    from patrol.surveys import residents, schemas

    model, clean = getattr(schemas, schema), getattr(residents, check)
    kwargs = {"today": dt.date(2026, 12, 1)} if check == "clean_resident" else {}
    for name in fields:
        limit = schemas.MAX_CHARS[name]
        longest = {**record, name: "x" * limit}
        model.model_validate(longest)
        clean(longest, **kwargs)
        too_long = {**record, name: "x" * (limit + 1)}
        with pytest.raises(ValidationError):
            model.model_validate(too_long)
        with pytest.raises(InvalidInput, match=f"at most {limit} characters"):
            clean(too_long, **kwargs)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_with_a_bearer_token(world: World, path: str) -> None:
    world.client.cookies.clear()
    r = world.client.get(path, headers=world.h("admin"), follow_redirects=False)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")


def test_no_operation_lists_a_tag_twice(tmp_path) -> None:
    """A route's own ``tags=`` adds to its router's: repeating the router's tag lists the operation twice under it."""
    from api.app import create_app
    from patrol.core.settings import Settings

    spec = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}", tiles=None)).openapi()
    twice = [f"{method.upper()} {path}: {op['tags']}" for path, methods in spec["paths"].items()
             for method, op in methods.items() if len(op.get("tags", [])) != len(set(op.get("tags", [])))]
    assert not twice, twice
