"""``gridpatrol cases import-history`` on both databases, with the shipped LA 311 mapping: a city of Los Angeles'
neighborhood councils (as README "History import" makes it) and the first 500 requests of the shared LA 311 sample.

Counts and skips as the file says, spot-checked rows (times, status, channel, category, steps), a re-import that
changes one row (updated, never duplicated, then back), a file with bad rows (nothing written, every bad row listed),
the KPIs over the imported days (closure rate recomputed from the file with pandas), GeoJSON / GeoPackage input, a
row placed by its address, and the 2020 export (lower-case headers) through the same mapping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from api.cli.app import cli
from patrol.analytics.kpis import kpis
from patrol.core.db import drop_postgis_database, make_engine, session_factory
from patrol.core.models import Building, Case, CaseEvent, Community
from patrol.core.settings import Settings
from patrol.intake.history import import_history
from patrol.intake.history_mapping import load_mapping
from tests.api.test_case_cells import mismatches
from tests.conftest import new_database_url, shared_file, shared_scope

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "patrol" / "data" / "history" / "la311.yaml"
ROWS = 500
LA_TZ = "America/Los_Angeles"
FMT = "%m/%d/%Y %I:%M:%S %p"


@dataclass
class LA:
    url: str
    engine: Engine
    frame: pd.DataFrame  # the 500 rows as written
    csv: Path
    report: pd.DataFrame
    output: str
    dir: Path


def run(url: str, *args: object) -> object:
    return CliRunner().invoke(cli, [*map(str, args), "--database", url])


@pytest.fixture(scope=shared_scope)
def la(backend, tmp_path_factory):
    source = shared_file("la311/myla311_2017-12-27_to_31.csv")
    councils = shared_file("la311/la_neighborhood_councils_certified.geojson")
    d = tmp_path_factory.mktemp("la311")
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, nrows=ROWS)
    csv = d / "la311_500.csv"
    frame.to_csv(csv, index=False)
    url = new_database_url(backend, d)
    made = run(url, "city", "create", "--name", "Los Angeles", "--district-code", "000000", "--timezone", LA_TZ,
               "--code-scheme", "own")
    assert made.exit_code == 0, made.output
    layer = run(url, "import", councils, "--layer", "communities", "--code-column", "nc_id", "--name-column", "name")
    assert layer.exit_code == 0, layer.output
    r = run(url, "cases", "import-history", csv, "--mapping", MAPPING, "--report", d / "report.csv")
    assert r.exit_code == 0, r.output
    engine = make_engine(url)
    yield LA(url, engine, frame, csv, pd.read_csv(d / "report.csv", dtype=str, keep_default_na=False), r.output, d)
    engine.dispose()
    if backend == "postgis":
        drop_postgis_database(url)


def _utc(text: str) -> dt.datetime:
    return pd.Timestamp(dt.datetime.strptime(text, FMT)).tz_localize(LA_TZ).tz_convert("UTC").to_pydatetime()


def test_counts_skips_and_rows_as_in_the_file(la):
    f, report = la.frame, la.report
    unlocated = int((f["Latitude"] == "").sum())
    assert len(report) == ROWS and set(report["outcome"]) == {"created", "skipped"}
    skipped = report[report["outcome"] == "skipped"]
    assert (skipped["message"].str.startswith("no coordinates")).sum() == unlocated
    assert set(skipped["id"]) >= set(f.loc[f["Latitude"] == "", "SRNumber"])
    created = set(report.loc[report["outcome"] == "created", "id"])
    assert f"{len(created)} created, 0 updated, 0 unchanged" in la.output
    assert mismatches(la.engine) == []  # the Core insert stored each case's H3 cell (issue 23)
    with session_factory(la.engine)() as s:
        assert s.scalar(select(func.count(Case.id)).where(Case.source == "la311")) == len(created)
        assert set(s.scalars(select(Case.source_ref).where(Case.source == "la311"))) == created
        first = s.scalars(select(Case).where(Case.source_ref == "1-870704831")).one()
        # 12/31/2017 11:59:58 PM in Los Angeles; closed 04/09/2018 09:18:35 AM; Homeless Encampment by Call
        assert (first.reported_at, first.closed_at) == (_utc("12/31/2017 11:59:58 PM"), _utc("04/09/2018 09:18:35 AM"))
        assert (first.status, first.channel, first.category_code, first.description) == (
            "closed", "12345", "LA01", "Homeless Encampment")
        assert first.number.startswith("2017-") and first.community_id is not None
        assert first.deadline_at > first.reported_at and first.closed_on_time is False  # 3 months later
        steps = s.execute(select(CaseEvent.action, CaseEvent.at).where(CaseEvent.case_id == first.id)
                          .order_by(CaseEvent.id)).all()
        assert steps == [("report", first.reported_at), ("register", first.reported_at),
                         ("close", first.closed_at)]
        # every created row: status, channel and category as the mapping says
        mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
        rows = f[f["SRNumber"].isin(created)].set_index("SRNumber")
        got = pd.DataFrame(s.execute(select(Case.source_ref, Case.status, Case.channel, Case.category_code)
                                     .where(Case.source == "la311")).all(),
                           columns=["id", "status", "channel", "category"]).set_index("id").loc[rows.index]
        assert (got["status"] == rows["Status"].map(mapping["status"]["values"])).all()
        assert (got["channel"] == rows["RequestSource"].map(mapping["channel"]["values"])).all()
        assert (got["category"] == rows["RequestType"].map(mapping["category"]["values"])).all()
        cancelled = rows.index[rows["Status"] == "Cancelled"][0]
        case_id = s.scalar(select(Case.id).where(Case.source_ref == cancelled))
        assert [a for (a,) in s.execute(select(CaseEvent.action).where(CaseEvent.case_id == case_id)
                                        .order_by(CaseEvent.id))] == ["report", "reject"]


def test_reimport_updates_a_changed_row_and_never_duplicates(la):
    f = la.frame.copy()
    ref = f.loc[(f["Status"] == "Closed") & (f["Latitude"] != ""), "SRNumber"].iloc[3]
    f.loc[f["SRNumber"] == ref, ["Status", "ClosedDate"]] = ["Open", ""]
    changed = la.dir / "changed.csv"
    f.to_csv(changed, index=False)
    with session_factory(la.engine)() as s:
        before = s.scalar(select(func.count(Case.id)))
        closed_at = s.scalar(select(Case.closed_at).where(Case.source_ref == ref))
    r = run(la.url, "cases", "import-history", changed, "--mapping", MAPPING)
    assert r.exit_code == 0 and " 0 created, 1 updated, " in r.output, r.output
    with session_factory(la.engine)() as s:
        assert s.scalar(select(func.count(Case.id))) == before
        case = s.scalars(select(Case).where(Case.source_ref == ref)).one()
        assert (case.status, case.closed_at) == ("registered", None)
    back = run(la.url, "cases", "import-history", la.csv, "--mapping", MAPPING)  # the file as it was
    assert back.exit_code == 0 and " 0 created, 1 updated, " in back.output, back.output
    with session_factory(la.engine)() as s:
        assert s.scalar(select(func.count(Case.id))) == before
        case = s.scalars(select(Case).where(Case.source_ref == ref)).one()
        assert (case.status, case.closed_at) == ("closed", closed_at)
        actions = [a for (a,) in s.execute(select(CaseEvent.action).where(CaseEvent.case_id == case.id)
                                           .order_by(CaseEvent.id))]
        assert actions == ["report", "register", "close", "reopen", "close"]


def test_bad_rows_are_all_listed_and_nothing_is_written(la):
    f = la.frame.copy()
    f.loc[10, "CreatedDate"] = "31/12/2017 25:61"
    f.loc[20, "RequestType"] = "Pothole Repair"
    f.loc[30, "SRNumber"] = "NEW-1"  # a new row, otherwise fine: not written either
    bad = la.dir / "bad.csv"
    f.to_csv(bad, index=False)
    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    del mapping["category"]["default"]
    mapping["location"]["outside"] = "error"  # the default: rows outside every council are errors too
    strict = la.dir / "strict.yaml"
    strict.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    with session_factory(la.engine)() as s:
        before = (s.scalar(select(func.count(Case.id))), s.scalar(select(func.count(CaseEvent.id))))
    r = run(la.url, "cases", "import-history", bad, "--mapping", strict, "--report", la.dir / "bad_report.csv")
    assert r.exit_code == 1 and "nothing was imported" in r.output
    assert f"row 12 (id {f.loc[10, 'SRNumber']}), CreatedDate: cannot read the time '31/12/2017 25:61'" in r.output
    assert f"row 22 (id {f.loc[20, 'SRNumber']}), RequestType: no category for 'Pothole Repair'" in r.output
    errors = pd.read_csv(la.dir / "bad_report.csv", dtype=str, keep_default_na=False).query("outcome == 'error'")
    outside = la.report.query("outcome == 'skipped' and message.str.contains('outside')", engine="python")
    assert set(errors["row"]) == {"12", "22"} | set(outside["row"]) and len(outside) > 0
    assert errors.loc[errors["row"].isin(outside["row"]), "message"].str.contains("outside every community").all()
    with session_factory(la.engine)() as s:
        assert (s.scalar(select(func.count(Case.id))), s.scalar(select(func.count(CaseEvent.id)))) == before
        assert s.scalar(select(func.count(Case.id)).where(Case.source_ref == "NEW-1")) == 0
    broken = run(la.url, "cases", "import-history", la.csv, "--mapping", la.dir / "nowhere.yaml")
    assert broken.exit_code == 1 and "cannot read the mapping" in broken.output


def test_kpis_over_the_imported_days(la):
    """办结率 over the sample's local days: the cases registered then whose status at the end was closed, as a pandas
    recomputation from the file (created rows; Cancelled and Referred Out are 不予立案, never registered)."""
    f = la.frame[la.frame["SRNumber"].isin(la.report.loc[la.report["outcome"] == "created", "id"])]
    created = pd.to_datetime(f["CreatedDate"], format=FMT).dt.tz_localize(LA_TZ)
    closed = pd.to_datetime(f["ClosedDate"], format=FMT).dt.tz_localize(LA_TZ).where(lambda c: c >= created, created)
    start = created.min().normalize()
    end = created.max().normalize() + pd.Timedelta(days=1)
    registered = ~f["Status"].isin(["Cancelled", "Referred Out"])
    done = registered & (f["Status"] == "Closed") & (closed < end)
    with session_factory(la.engine)() as s:
        k = kpis(s, start=start.to_pydatetime(), end=end.to_pydatetime(),
                 settings=Settings(timezone=LA_TZ)).iloc[0]
    assert k["received"] == len(f) and k["registered"] == registered.sum() > 0
    assert k["rejected"] == (~registered & (closed < end)).sum()  # rejected when cancelled
    assert (k["closure_rate_num"], k["closure_rate_den"]) == (done.sum(), registered.sum())
    assert k["closure_rate"] == pytest.approx(done.sum() / registered.sum())
    assert k["on_time_rate_den"] > 0 and k["closed"] == done.sum()


def test_geojson_and_geopackage_input(la, tmp_path):
    """The same requests as features (points in WGS-84, and in Web Mercator in a GeoPackage): located in the same
    communities as from the CSV's columns (written under another source name, rolled back)."""
    f = la.frame[la.frame["Latitude"] != ""].head(30)
    points = gpd.GeoDataFrame(f.drop(columns=["Latitude", "Longitude"]),
                              geometry=gpd.points_from_xy(f["Longitude"].astype(float), f["Latitude"].astype(float)),
                              crs=4326)
    points.to_file(tmp_path / "la.geojson", driver="GeoJSON")
    points.to_crs(3857).to_file(tmp_path / "la.gpkg", layer="requests", driver="GPKG")
    raw = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    del raw["location"]["lon"], raw["location"]["lat"], raw["location"]["crs"]
    raw["source"] = "la311-features"
    mapping_file = tmp_path / "features.yaml"
    mapping_file.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    mapping = load_mapping(mapping_file)
    with session_factory(la.engine)() as s:
        from_csv = dict(s.execute(select(Case.source_ref, Community.code).join(Community)
                                  .where(Case.source == "la311", Case.source_ref.in_(f["SRNumber"]))).all())
    for name in ("la.geojson", "la.gpkg"):
        with session_factory(la.engine)() as s:
            out = import_history(s, Settings(), tmp_path / name, mapping)
            got = dict(s.execute(select(Case.source_ref, Community.code).join(Community)
                                 .where(Case.source == "la311-features")).all())
            s.rollback()
        assert out.created + out.skipped["outside"] == len(f) and out.created > 20, name
        assert got == {k: v for k, v in from_csv.items() if k in got} and len(got) == out.created, name


def test_a_row_without_coordinates_is_placed_at_the_building_its_address_names(la, tmp_path):
    """The address column is matched to the city's buildings (geo.addresses through the building index): a sure
    match places the case at that building, in its community (written in a session that is rolled back)."""
    f = la.frame[la.frame["Latitude"] == ""].head(2)
    f.to_csv(tmp_path / "no_coordinates.csv", index=False)
    address = f["Address"].iloc[0]
    with session_factory(la.engine)() as s:
        community = s.scalars(select(Community).order_by(Community.id).limit(1)).one()
        inside = s.scalar(select(func.ST_AsText(func.ST_PointOnSurface(Community.geom)))
                          .where(Community.id == community.id))
        x, y = map(float, inside[inside.index("(") + 1:-1].split())
        square = f"MULTIPOLYGON((({x} {y}, {x + 1e-4} {y}, {x + 1e-4} {y + 1e-4}, {x} {y + 1e-4}, {x} {y})))"
        building = Building(community_id=community.id, address=address, households=0,
                            geom=f"SRID=4326;{square}")
        s.add(building)
        s.flush()
        out = import_history(s, Settings(), tmp_path / "no_coordinates.csv", load_mapping(MAPPING))
        case = s.scalars(select(Case).where(Case.source_ref == f["SRNumber"].iloc[0])).one()
        placed, expected = (case.building_id, case.community_id, case.address), (building.id, community.id, address)
        s.rollback()
    assert (out.updated, out.created, out.skipped["no_location"]) == (0, 1, 1)  # the other has no building
    assert placed == expected


def test_the_same_mapping_reads_the_2020_export(la, tmp_path):
    """2020's export has lower-case headers and ISO-like times: the shipped mapping reads it as it is (written in a
    session that is rolled back)."""
    f = pd.read_csv(shared_file("la311/myla311_2020-01-01_to_03.csv"), dtype=str, keep_default_na=False, nrows=200)
    f.to_csv(tmp_path / "la311_2020.csv", index=False)
    with session_factory(la.engine)() as s:
        out = import_history(s, Settings(), tmp_path / "la311_2020.csv", load_mapping(MAPPING))
        first = s.scalars(select(Case).where(Case.source_ref == "1-1523590121")).one()
        got = (first.reported_at, first.closed_at, first.status, first.channel, first.category_code)
        s.rollback()
    assert out.created + sum(out.skipped.values()) == len(f) and out.created > 150
    # "2020-01-01 00:05:00", closed "2020-01-02 08:43:00" in Los Angeles; Illegal Dumping Pickup by Call
    assert got == (dt.datetime(2020, 1, 1, 8, 5, tzinfo=dt.UTC), dt.datetime(2020, 1, 2, 16, 43, tzinfo=dt.UTC),
                   "closed", "12345", "E0101")
