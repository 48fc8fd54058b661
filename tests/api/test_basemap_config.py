"""What the pages are told about our own basemap, read from the database on both backends: the phone app's config
carries the tile URL with the current map version (a new version changes the service worker, so phones fetch the new
tiles), and the attribution follows where the data came from — OpenStreetMap, or the city's own layers."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from patrol.city.basemap import OSM_ATTRIBUTION, basemap_facts
from patrol.city.map_version import bump
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.models import Building, City, RoadSegment
from patrol.core.settings import Settings


def _tiles(client: TestClient) -> dict:
    page = client.get("/app/").text
    return json.loads(re.search(r'<script id="gp-config" type="application/json">(.*?)</script>', page,
                                re.DOTALL).group(1))["tiles"]


def test_the_app_config_follows_the_map_version_and_the_source_of_the_data(city_url):
    engine = make_engine(city_url)
    factory = session_factory(engine)
    with factory() as s:
        facts = basemap_facts(s)
    assert facts.attribution == OSM_ATTRIBUTION and facts.version is not None  # Monaco came from OpenStreetMap
    app = create_app(Settings(database_url=city_url, tiles="gridpatrol", tiles_datum="gcj02"))
    with TestClient(app) as client:
        before, sw_before = _tiles(client), client.get("/app/sw.js").text
        assert before == {"kind": "vector", "url": f"/tiles/{{z}}/{{x}}/{{y}}.pbf?v={facts.version}",
                          "attribution": OSM_ATTRIBUTION, "minzoom": 10, "maxzoom": 18}
        with transaction(factory) as s:
            new = bump(s)
            # the same city as if made from official layers: no OSM ids, no OSM source
            s.execute(update(Building).values(osm_id=None))
            s.execute(update(RoadSegment).values(osm_id=None))
            s.execute(update(City).values(source="official layers", name="摩纳哥"))
        after = _tiles(client)
        assert after["url"].endswith(f".pbf?v={new}") and new == facts.version + 1
        assert after["attribution"] == "摩纳哥"
        assert client.get("/app/sw.js").text != sw_before  # a new service worker: the phone takes the new map
        assert '"datum": "wgs84"' in client.get("/app/").text  # our own tiles are never shifted
    app.state.engine.dispose()
    engine.dispose()
