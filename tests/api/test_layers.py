"""The HTTP API over a real city, on both databases."""

from __future__ import annotations

import shapely


def test_health_names_the_database(client, backend):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == {"spatialite": "sqlite", "postgis": "postgresql"}[backend]
    assert body["revision"]


def test_communities_are_geojson_with_households(client):
    r = client.get("/api/v1/communities")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["numberMatched"] == 6 == len(fc["features"])
    names = {f["properties"]["name"] for f in fc["features"]}
    assert {"Monaco-Ville", "Monte-Carlo", "Fontvieille"} <= names
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in fc["features"])
    assert sum(f["properties"]["households"] for f in fc["features"]) > 0


def test_grids_have_15_digit_codes_and_lie_in_their_community(client):
    grids = client.get("/api/v1/grids").json()["features"]
    communities = {f["id"]: shapely.geometry.shape(f["geometry"])
                   for f in client.get("/api/v1/communities").json()["features"]}
    assert len(grids) >= 6
    for g in grids:
        assert len(g["properties"]["code"]) == 15 and g["properties"]["code"].isdigit()
        inside = shapely.geometry.shape(g["geometry"]).buffer(-1e-6)
        assert communities[g["properties"]["community_id"]].covers(inside)


def test_bbox_filters_buildings_and_pages_link_onwards(client):
    everything = client.get("/api/v1/buildings", params={"limit": 5000}).json()
    assert everything["numberMatched"] == 1151
    bbox = (7.415, 43.728, 7.425, 43.735)
    part = client.get("/api/v1/buildings", params={"bbox": ",".join(map(str, bbox)), "limit": 5000}).json()
    box = shapely.box(*bbox)
    expected = sum(shapely.geometry.shape(f["geometry"]).intersects(box) for f in everything["features"])
    assert part["numberMatched"] == expected and 0 < expected < 1151
    page = client.get("/api/v1/buildings", params={"limit": 100, "offset": 100}).json()
    assert page["numberReturned"] == 100
    rels = {link["rel"]: link["href"] for link in page["links"]}
    assert "offset=200" in rels["next"] and "offset=0" in rels["prev"]
    ids_a = [f["id"] for f in client.get("/api/v1/buildings", params={"limit": 100}).json()["features"]]
    assert not set(ids_a) & {f["id"] for f in page["features"]}


def test_bad_input_gets_one_error_shape(client):
    for params, field in (({"bbox": "1,2,3"}, "bbox"), ({"bbox": "a,b,c,d"}, "bbox"),
                          ({"bbox": "10,50,5,40"}, "bbox"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset")):
        r = client.get("/api/v1/buildings", params=params)
        assert r.status_code == 422, params
        body = r.json()
        assert body["field"] == field and body["code"] == "invalid" and body["message"]
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_overview_page_uses_only_local_assets(client):
    html = client.get("/").text
    assert "/static/vendor/leaflet-1.9.4/leaflet.js" in html
    assert "cdn." not in html and "https://" not in html.split("<body")[0]
    assert "网格" in html and "Grids" in client.get("/?lang=en").text
    assert client.get("/static/vendor/leaflet-1.9.4/leaflet.js").status_code == 200
