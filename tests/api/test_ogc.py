"""OGC API Features at /ogc over a real city (Monaco with grids), on both databases — and read by GDAL's ogrinfo."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import shutil
import subprocess

import pytest
import shapely
from sqlalchemy import select, update

from patrol.core.auth import create_api_key
from patrol.core.db import transaction
from patrol.core.frames import read_frame
from patrol.core.models import Case, Grid
from tests.browser.conftest import serve

OGC = "/ogc"
CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
COLLECTIONS = ["communities", "grids", "buildings", "cases"]
PROPERTIES = {
    "communities": {"id", "code", "name", "derived", "subdistrict_id", "buildings", "households",
                    "households_estimated"},
    "grids": {"id", "code", "name", "community_id", "buildings", "households", "households_estimated"},
    "buildings": {"id", "name", "use", "levels", "households", "grid_id", "community_id"},
    "cases": {"id", "category", "status", "level", "channel", "reported_at", "deadline_at", "closed_at", "grid_id",
              "community_id", "overdue"},
}
CONTACT = {"first_name": "Zhang", "last_name": "Xiuying", "email": "zhang.xiuying@example.org",
           "phone": "13800138000"}
SECRET_WORDS = ("Zhang", "Xiuying", "zhang.xiuying", "13800138000", "Flat 3B", "Rue Grimaldi 7")


def links(doc: dict) -> dict[str, dict]:
    return {link["rel"]: link for link in doc["links"]}


def all_pages(client, url: str, params: dict | None = None) -> tuple[list[dict], list[dict]]:
    """Every feature reached by following ``next`` links from the first page, and the pages."""
    pages = [client.get(url, params=params).json()]
    while (nxt := links(pages[-1]).get("next")) is not None:
        assert len(pages) < 500, "next links never end"
        r = client.get(nxt["href"])
        assert r.status_code == 200, r.text
        pages.append(r.json())
    return [f for p in pages for f in p["features"]], pages


def report_cases(client) -> list[int]:
    """Cases filed through Open311 with a resident's contact details and a description and address naming her;
    their report times spread over three days of May 2024."""
    with transaction(client.app.state.session_factory) as s:
        key = create_api_key(s, "residents app")
        grids = read_frame(s, [Grid.id], Grid.geom).geometry.representative_point().tolist()
    ids = []
    for i, p in enumerate(grids[:6]):
        r = client.post("/open311/v2/requests.json", data={
            "api_key": key, "service_code": "C0103", "lat": p.y, "long": p.x, **CONTACT,
            "description": f"Zhang Xiuying, Flat 3B, says the bin overflows ({i})",
            "address_string": "Rue Grimaldi 7"})
        assert r.status_code == 201, r.text
        ids.append(int(r.json()[0]["service_request_id"]))
    with transaction(client.app.state.session_factory) as s:
        for i, cid in enumerate(ids):
            at = dt.datetime(2024, 5, 1 + i // 2, 9 + i, 30, tzinfo=dt.UTC)
            s.execute(update(Case).where(Case.id == cid).values(reported_at=at, deadline_at=at + dt.timedelta(days=1)))
    return ids


# ---------------------------------------------------------------------------------------------- documents


def test_landing_conformance_collections_and_api_definition(client):
    landing = client.get(OGC)
    assert landing.status_code == 200 and landing.headers["content-type"].startswith("application/json")
    rel = links(landing.json())
    assert {"self", "service-desc", "conformance", "data"} <= set(rel)
    assert rel["conformance"]["href"].endswith("/ogc/conformance") and rel["data"]["href"].endswith("/ogc/collections")
    service_descs = [link for link in landing.json()["links"] if link["rel"] == "service-desc"]
    assert {link["href"].removeprefix("http://testserver") for link in service_descs} == {"/ogc/api", "/openapi.json"}
    assert client.get("/openapi.json").json()["paths"]["/ogc/collections/{collectionId}/items"]
    assert client.get(OGC, params={"f": "json"}).json() == landing.json()
    assert client.get(OGC, headers={"Accept": "application/json"}).status_code == 200

    conforms = client.get(f"{OGC}/conformance").json()["conformsTo"]
    assert {CONF + "core", CONF + "geojson", CONF + "oas30"} <= set(conforms)

    api = client.get(f"{OGC}/api")
    assert api.status_code == 200 and "openapi" in api.headers["content-type"]
    doc = api.json()
    assert doc["openapi"].startswith("3.0") and doc["servers"][0]["url"].endswith("/ogc")
    grid_params = {p["name"] for p in doc["paths"]["/collections/grids/items"]["get"]["parameters"]}
    assert {"bbox", "limit", "offset", "code", "community_id"} <= grid_params and "datetime" not in grid_params
    case_params = {p["name"] for p in doc["paths"]["/collections/cases/items"]["get"]["parameters"]}
    assert {"datetime", "status", "category", "grid_id"} <= case_params

    body = client.get(f"{OGC}/collections").json()
    assert links(body)["self"]["href"].endswith("/ogc/collections")
    assert [c["id"] for c in body["collections"]] == COLLECTIONS
    buildings = client.get("/api/v1/buildings", params={"limit": 5000}).json()["features"]
    true_box = shapely.GeometryCollection([shapely.geometry.shape(f["geometry"]) for f in buildings]).bounds
    for c in body["collections"]:
        assert c["itemType"] == "feature" and c["crs"] == [CRS84] and c["title"]
        assert links(c)["items"]["href"].endswith(f"/ogc/collections/{c['id']}/items")
        assert links(c)["items"]["type"] == "application/geo+json"
        (box,) = c["extent"]["spatial"]["bbox"]
        assert len(box) == 4 and box[0] < box[2] and box[1] < box[3] and c["extent"]["spatial"]["crs"] == CRS84
        assert client.get(f"{OGC}/collections/{c['id']}").json() == c
    by_id = {c["id"]: c for c in body["collections"]}
    box = by_id["buildings"]["extent"]["spatial"]["bbox"][0]
    assert box == pytest.approx(list(true_box), abs=1e-6)  # computed from the data
    assert "temporal" in by_id["cases"]["extent"] and "temporal" not in by_id["grids"]["extent"]


# ---------------------------------------------------------------------------------------------- items


def test_items_page_through_next_links_each_feature_once(client):
    first = client.get(f"{OGC}/collections/buildings/items")
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/geo+json")
    fc = first.json()
    assert fc["type"] == "FeatureCollection" and fc["numberMatched"] == 1151
    assert fc["numberReturned"] == len(fc["features"]) == 100  # the default limit
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", fc["timeStamp"])
    rel = links(fc)
    assert {"self", "next", "collection"} <= set(rel) and rel["collection"]["href"].endswith("/collections/buildings")
    assert all(f["id"] == f["properties"]["id"] and set(f["properties"]) == PROPERTIES["buildings"]
               for f in fc["features"])

    features, pages = all_pages(client, f"{OGC}/collections/buildings/items", {"limit": 97})
    ids = [f["id"] for f in features]
    assert len(ids) == 1151 == len(set(ids)) and len(pages) == 12
    assert all(p["numberReturned"] == len(p["features"]) for p in pages) and "next" not in links(pages[-1])

    grids, _ = all_pages(client, f"{OGC}/collections/grids/items", {"limit": 3})
    total = client.get(f"{OGC}/collections/grids/items").json()["numberMatched"]
    assert len(grids) == total == len({g["id"] for g in grids}) >= 6
    assert all(set(g["properties"]) == PROPERTIES["grids"] for g in grids)  # no worker
    assert all(isinstance(g["properties"]["community_id"], int) for g in grids)

    big = client.get(f"{OGC}/collections/buildings/items", params={"limit": 10**6}).json()
    assert big["numberReturned"] == 1151 and "next" not in links(big)  # cut to page_size_max, not refused
    past = client.get(f"{OGC}/collections/buildings/items", params={"offset": 5000}).json()
    assert past["numberReturned"] == 0 and past["numberMatched"] == 1151


def test_bbox_equals_intersects_over_all_features(client):
    report_cases(client)
    for collection, bbox in itertools.product(("buildings", "grids", "communities", "cases"),
                                              ((7.415, 43.728, 7.425, 43.735), (7.42, 43.73, 7.421, 43.731))):
        everything, _ = all_pages(client, f"{OGC}/collections/{collection}/items", {"limit": 5000})
        box = shapely.box(*bbox)
        expected = {f["id"] for f in everything if shapely.geometry.shape(f["geometry"]).intersects(box)}
        got, _ = all_pages(client, f"{OGC}/collections/{collection}/items",
                           {"bbox": ",".join(map(str, bbox)), "limit": 50})
        assert [f["id"] for f in got] == sorted(expected) and len(expected) < len(everything)
        assert expected or collection == "cases"
        three_d = client.get(f"{OGC}/collections/{collection}/items", params={
            "bbox": f"{bbox[0]},{bbox[1]},0,{bbox[2]},{bbox[3]},100", "limit": 5000}).json()
        assert {f["id"] for f in three_d["features"]} == expected


def test_property_filters_and_one_feature(client):
    grids = client.get(f"{OGC}/collections/grids/items", params={"limit": 1000}).json()["features"]
    g = grids[len(grids) // 2]
    by_code = client.get(f"{OGC}/collections/grids/items", params={"code": g["properties"]["code"]}).json()
    assert [f["id"] for f in by_code["features"]] == [g["id"]] and by_code["numberMatched"] == 1
    com = g["properties"]["community_id"]
    in_com = client.get(f"{OGC}/collections/grids/items", params={"community_id": com}).json()
    assert {f["id"] for f in in_com["features"]} == {f["id"] for f in grids if f["properties"]["community_id"] == com}
    buildings = client.get(f"{OGC}/collections/buildings/items",
                           params={"grid_id": g["id"], "community_id": com, "limit": 1000}).json()
    assert buildings["numberMatched"] == g["properties"]["buildings"] > 0
    assert all(b["properties"]["grid_id"] == g["id"] for b in buildings["features"])
    nothing = client.get(f"{OGC}/collections/grids/items", params={"code": "999999999999999"}).json()
    assert nothing["numberMatched"] == 0 and nothing["features"] == []

    one = client.get(f"{OGC}/collections/grids/items/{g['id']}")
    assert one.status_code == 200 and one.headers["content-type"].startswith("application/geo+json")
    feature = one.json()
    assert feature["type"] == "Feature" and feature["id"] == g["id"]
    assert feature["properties"] == g["properties"] and feature["geometry"] == g["geometry"]
    assert {"self", "collection"} <= set(links(feature))
    b = buildings["features"][0]
    assert client.get(f"{OGC}/collections/buildings/items/{b['id']}").json()["properties"] == b["properties"]


def test_errors_are_404_and_400_in_our_shape(client):
    for path, field in ((f"{OGC}/collections/nowhere", "collectionId"),
                        (f"{OGC}/collections/nowhere/items", "collectionId"),
                        (f"{OGC}/collections/grids/items/987654321", "featureId"),
                        (f"{OGC}/collections/grids/items/abc", "featureId"),
                        (f"{OGC}/collections/cases/items/1", "featureId")):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found" and r.json()["field"] == field and r.json()["message"]
    for params, field in (({"bbox": "1,2,3"}, "bbox"), ({"bbox": "a,b,c,d"}, "bbox"), ({"bbox": "10,50,5,40"}, "bbox"),
                          ({"limit": 0}, "limit"), ({"limit": "ten"}, "limit"), ({"offset": -1}, "offset"),
                          ({"datetime": "yesterday"}, "datetime"), ({"datetime": "2024-05-02/2024-05-01"}, "datetime"),
                          ({"datetime": ".."}, "datetime"), ({"datetime": "a/b/c"}, "datetime"),
                          ({"community_id": "x"}, "community_id"), ({"worker": "1"}, "worker"),
                          ({"f": "html"}, "f")):
        r = client.get(f"{OGC}/collections/grids/items", params=params)
        assert r.status_code == 400, (params, r.text)
        body = r.json()
        assert body["code"] == "invalid" and body["field"] == field and body["message"], params
    r = client.get(f"{OGC}/collections/cases/items", params={"overdue": "maybe"})
    assert r.status_code == 400 and r.json()["field"] == "overdue"


def test_registry_lists_dynamic_collections_from_a_callable(client, monkeypatch):
    """Collections listed per request by a provider (as grid plans will be) are served like the fixed ones."""
    from patrol.city.read_models import layer_page
    from patrol.core.models import Community
    from patrol.publication.ogc import REGISTRY, CollectionSpec

    def per_community(session):
        fixed = REGISTRY.get(session, "grids")
        for cid, code in session.execute(select(Community.id, Community.code).order_by(Community.id)):
            yield CollectionSpec(
                f"grids-{code}", f"Grids of community {code}", "the grids of one community", fixed.properties,
                ("code",), lambda s, q, cid=cid: layer_page(s, "grids", bbox=q.bbox, limit=q.limit, offset=q.offset,
                                                             filters={**q.filters, "community_id": cid}),
                lambda s: None)

    monkeypatch.setattr(REGISTRY, "_providers", [per_community])
    ids = [c["id"] for c in client.get(f"{OGC}/collections").json()["collections"]]
    assert ids[:4] == COLLECTIONS and len(ids) == 4 + 6 and all(i.startswith("grids-") for i in ids[4:])
    every = client.get(f"{OGC}/collections/grids/items", params={"limit": 1000}).json()["features"]
    total = 0
    for cid in ids[4:]:
        fc = client.get(f"{OGC}/collections/{cid}/items").json()
        total += fc["numberMatched"]
        assert len({f["properties"]["community_id"] for f in fc["features"]}) == 1
        assert links(fc)["collection"]["href"].endswith(f"/collections/{cid}")
        f = fc["features"][0]
        assert client.get(f"{OGC}/collections/{cid}/items/{f['id']}").json()["properties"] == f["properties"]
        assert client.get(f"{OGC}/collections/{cid}", params={}).json()["extent"]["spatial"]["bbox"]
    assert total == len(every)
    assert f"/collections/{ids[4]}/items" in client.get(f"{OGC}/api").json()["paths"]
    assert client.get(f"{OGC}/collections/{ids[4]}/items", params={"community_id": 1}).status_code == 400
    monkeypatch.undo()
    assert client.get(f"{OGC}/collections/{ids[4]}").status_code == 404


# ---------------------------------------------------------------------------------------------- cases


def test_cases_are_public_without_personal_data_and_filter_by_datetime(client):
    ids = report_cases(client)
    r = client.get(f"{OGC}/collections/cases/items")  # no token
    assert r.status_code == 200
    fc = r.json()
    assert sorted(f["id"] for f in fc["features"]) == sorted(ids) and fc["numberMatched"] == 6
    for f in fc["features"]:
        assert set(f["properties"]) == PROPERTIES["cases"] and f["geometry"]["type"] == "Point"
        assert f["properties"]["channel"] == "open311" and f["properties"]["status"] == "reported"
        assert f["properties"]["category"] == "C0103" and f["properties"]["overdue"] is True
    one = client.get(f"{OGC}/collections/cases/items/{ids[0]}").text
    for text in (r.text, one, client.get(f"{OGC}/collections/cases").text):
        for word in SECRET_WORDS:
            assert word not in text
    with transaction(client.app.state.session_factory) as s:  # the contact is kept, just not published
        assert s.scalar(select(Case.contact_phone).where(Case.id == ids[0])) == CONTACT["phone"]

    def matching(value: str) -> list[int]:
        got = client.get(f"{OGC}/collections/cases/items", params={"datetime": value})
        assert got.status_code == 200, got.text
        return sorted(f["id"] for f in got.json()["features"])

    # reported 2024-05-01 09:30, 10:30; 05-02 11:30, 12:30; 05-03 13:30, 14:30 (UTC)
    assert matching("2024-05-01T10:30:00Z") == [ids[1]]
    assert matching("2024-05-02") == ids[2:4]  # a bare date: that whole day
    assert matching("2024-05-01T10:00:00Z/2024-05-02T11:30:00Z") == ids[1:3]  # both ends included
    assert matching("../2024-05-01T23:59:59Z") == ids[:2]
    assert matching("2024-05-03T14:00:00+00:00/..") == ids[5:]
    assert matching("2024-05-02T19:30:00+08:00/") == ids[2:]  # 19:30 in Beijing is 11:30 UTC
    assert matching("../..") == ids
    assert matching("2024-05-02T") == ids[2:4]  # as GDAL writes a date
    times = client.get(f"{OGC}/collections/cases").json()["extent"]["temporal"]["interval"]
    assert times == [["2024-05-01T09:30:00Z", "2024-05-03T14:30:00Z"]]

    assert client.get(f"{OGC}/collections/cases/items", params={"status": "closed"}).json()["numberMatched"] == 0
    overdue = {"category": "C0103", "channel": "open311", "overdue": "true"}
    assert client.get(f"{OGC}/collections/cases/items", params=overdue).json()["numberMatched"] == 6
    grid = client.get(f"{OGC}/collections/cases/items/{ids[0]}").json()["properties"]["grid_id"]
    by_grid = client.get(f"{OGC}/collections/cases/items", params={"grid_id": grid}).json()
    assert ids[0] in [f["id"] for f in by_grid["features"]]
    assert all(f["properties"]["grid_id"] == grid for f in by_grid["features"])
    assert client.get(f"{OGC}/collections/grids/items", params={"datetime": "2024-05-02"}).json()["numberMatched"] > 0


# ---------------------------------------------------------------------------------------------- a real client


def ogrinfo(*args: str) -> str:
    exe = shutil.which("ogrinfo") or "/usr/bin/ogrinfo"
    if not os.path.exists(exe):
        pytest.fail("GDAL's ogrinfo is missing: make test installs Debian's gdal-bin")
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "60", "CPL_DEBUG": "OFF", "GDAL_HTTP_MAX_RETRY": "0"}
    done = subprocess.run([exe, *args], check=False, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "ERROR" not in done.stderr, done.stderr
    return done.stdout


def test_gdal_ogrinfo_reads_the_layers(client):
    ids = report_cases(client)
    grids = client.get(f"{OGC}/collections/grids/items", params={"limit": 1000}).json()["features"]
    bbox = (7.415, 43.728, 7.425, 43.735)
    inside = sorted((f for f in grids if shapely.geometry.shape(f["geometry"]).intersects(shapely.box(*bbox))),
                    key=lambda f: f["id"])
    assert 0 < len(inside) < len(grids)
    with serve(client.app.state.settings) as base:
        url = f"OAPIF:{base}/ogc"
        summary = ogrinfo("-ro", "-so", url)
        for i, name in enumerate(COLLECTIONS, start=1):
            assert re.search(rf"^{i}: {name} \(title: ", summary, re.MULTILINE), summary

        out = ogrinfo("-ro", "-oo", "PAGE_SIZE=5", url, "grids", "-spat", *map(str, bbox))
        got = [int(m) for m in re.findall(r"^OGRFeature\(grids\):(\d+)$", out, re.MULTILINE)]
        assert got == [f["id"] for f in inside]  # every page followed, each grid once
        assert f"code (String) = {inside[0]['properties']['code']}" in out
        assert not re.search(r"^\s*worker", out, re.MULTILINE)  # no field of the grid's worker

        code = grids[-1]["properties"]["code"]
        one = ogrinfo("-ro", "-so", url, "grids", "-where", f"code = '{code}'")
        assert re.search(r"^Feature Count: 1$", one, re.MULTILINE), one
        assert "Geometry: Multi Polygon" in one and "Extent: (7.4" in one

        cases = ogrinfo("-ro", url, "cases", "-where", "reported_at >= '2024/05/02 00:00:00'")
        got = sorted(int(m) for m in re.findall(r"^OGRFeature\(cases\):(\d+)$", cases, re.MULTILINE))
        assert got == ids[2:], cases
        assert not any(word in cases for word in SECRET_WORDS)
        # deadlines are a day after the reports; compared as text, GDAL filters them itself (see the README)
        late = ogrinfo("-ro", url, "cases", "-where", "CAST(deadline_at AS character(32)) >= '2024/05/04'")
        assert sorted(int(m) for m in re.findall(r"^OGRFeature\(cases\):(\d+)$", late, re.MULTILINE)) == ids[4:]
