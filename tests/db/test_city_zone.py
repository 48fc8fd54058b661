"""The city keeps its own clock: ``city create --timezone`` is applied by the app and the CLI unless
GRIDPATROL_TIMEZONE is set (both databases)."""

from __future__ import annotations

from patrol.city.zone import with_city_timezone
from patrol.core.db import session_factory
from patrol.core.models import City
from patrol.core.settings import Settings


def test_the_city_timezone_applies_unless_set_explicitly(engine):
    factory = session_factory(engine)
    assert with_city_timezone(Settings(), factory).timezone == "Asia/Shanghai"  # no city yet: the default
    with factory() as s:
        s.add(City(name="洛杉矶", district_code="000000", metric_epsg=32611, source="test",
                   timezone="America/Los_Angeles"))
        s.commit()
    try:
        assert with_city_timezone(Settings(), factory).timezone == "America/Los_Angeles"
        assert with_city_timezone(Settings(timezone="Asia/Urumqi"), factory).timezone == "Asia/Urumqi"
    finally:
        with factory() as s:
            s.query(City).delete()
            s.commit()
