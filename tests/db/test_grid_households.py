"""A city's households range per grid (``gridpatrol city create --grid-households``), on both databases: stored
with the city, shown by ``city info``, read by everything that judges a grid's size (patrol.city.households), and
back to the settings' range on request; a bad range is one readable line."""

from __future__ import annotations

from click.testing import CliRunner, Result

from api.cli import cli
from patrol.city.households import grid_households
from patrol.core.db import make_engine, session_factory
from patrol.core.settings import Settings


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, [*args, "--database", url])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _range(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return grid_households(s, Settings(database_url=url))
    finally:
        engine.dispose()


def test_a_city_keeps_its_own_households_range(fresh_url):
    r = run(fresh_url, "city", "info")
    assert r.exit_code == 1 and "no city in the database" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run(fresh_url, "city", "create", "--name", "烟台", "--district-code", "370600", "--grid-households", "400-200")
    assert r.exit_code == 2 and "expected 0 < MIN ≤ MAX, got '400-200'" in r.stderr
    r = run(fresh_url, "city", "create", "--name", "烟台", "--district-code", "370600", "--grid-households", "200-400")
    assert r.exit_code == 0, r.stderr
    assert "households per grid: 200-400" in r.stdout
    assert _range(fresh_url) == (200, 400)
    info = run(fresh_url, "city", "info").stdout
    assert "city: 烟台 (district 370600" in info and "households per grid: 200-400 (the city)" in info
    r = run(fresh_url, "city", "set")
    assert r.exit_code == 2 and "nothing to change" in r.stderr
    assert run(fresh_url, "city", "set", "--grid-households", "250-350").exit_code == 0
    assert _range(fresh_url) == (250, 350)
    r = run(fresh_url, "city", "set", "--default-households")
    assert r.exit_code == 0 and "households per grid: 300-500" in r.stdout  # the settings' defaults
    assert "(the settings, households_min/max)" in run(fresh_url, "city", "info").stdout
