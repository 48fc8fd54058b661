"""Buildings' labels stored on both databases: made by the OSM import, numbered again within grids once drawn, made
for a database that has none (``gridpatrol buildings label``, ``db upgrade``), and read back for payloads."""

from __future__ import annotations

import re

from click.testing import CliRunner
from sqlalchemy import select, update

from api.cli import cli
from patrol.city.gridding import generate_city_grids
from patrol.city.labels import UNLABELLED, display_label, label_buildings, labels_of, with_building_labels
from patrol.city.osm_import import store_city
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.models import Building, Community, Grid

BARE_ID = re.compile(r"#\s?\d+|^\d+$")


def _labels(session) -> dict[int, str | None]:
    return dict(session.execute(select(Building.id, Building.label)).all())


def test_labels_are_stored_by_the_import_and_renumbered_within_grids(session, monaco):
    store_city(session, monaco, source="test")
    imported = _labels(session)
    assert imported and all(imported.values())
    assert not any(BARE_ID.search(v) for v in imported.values())
    communities = set(session.scalars(select(Community.name)))
    in_community = {i for i, v in imported.items() if any(v.startswith(f"{c} 第") for c in communities)}

    generate_city_grids(session, households_range=(300, 500))
    gridded = _labels(session)
    grids = set(session.scalars(select(Grid.name)))
    # the fallback labels now count within their grid; every other label stays as the import made it
    assert all(any(gridded[i].startswith(f"{g} 第") for g in grids) or "未入网格" in gridded[i] for i in in_community)
    assert {i: v for i, v in gridded.items() if i not in in_community} == \
        {i: v for i, v in imported.items() if i not in in_community}

    # a database without labels gets the same ones from what it holds (Monaco has no 栋/单元 tags)
    session.execute(update(Building).values(label=None))
    summary = label_buildings(session)
    assert summary.written == len(gridded)
    assert _labels(session) == gridded
    assert sum(summary.kinds.values()) == len(gridded) and summary.kinds["road"] > 0
    assert label_buildings(session).written == 0  # nothing changes when run again

    some = sorted(gridded)[:3]
    assert labels_of(session, [*some, None]) == {i: gridded[i] for i in some}
    rows = with_building_labels(session, [{"building_id": some[0]}, {"building_id": None}])
    assert rows == [{"building_id": some[0], "building_label": gridded[some[0]]},
                    {"building_id": None, "building_label": None}]
    assert display_label(None) == UNLABELLED["zh"] and display_label("X 12号附近", "en") == "near X 12"


def test_the_command_labels_a_database_imported_before_labels(monaco_city_url):
    engine = make_engine(monaco_city_url)
    try:
        with transaction(session_factory(engine)) as s:
            s.execute(update(Building).values(label=None))
        result = CliRunner().invoke(cli, ["db", "upgrade", "--database", monaco_city_url])
        assert result.exit_code == 0, result.output
        assert "building labels 楼栋名称" in result.output and "road" in result.output
        with session_factory(engine)() as s:
            labels = _labels(s)
        assert labels and all(labels.values())
        result = CliRunner().invoke(cli, ["buildings", "label", "--all", "--database", monaco_city_url])
        assert result.exit_code == 0, result.output
        assert f"0 of {len(labels)} written" in result.output  # the same rules give the same labels
    finally:
        engine.dispose()
