"""Real cities read once per run (reading is pure), stored per test in a rolled-back transaction."""

from __future__ import annotations

import warnings

import pyogrio
import pytest

from patrol.city.osm_import import read_city
from tests.conftest import shared_file


@pytest.fixture(scope="session")
def liechtenstein_path():
    return shared_file("osm/liechtenstein_2015.osm.pbf")


@pytest.fixture(scope="session")
def liechtenstein(liechtenstein_path):
    return read_city(liechtenstein_path)


@pytest.fixture(scope="session")
def monaco_path():
    return shared_file("osm/monaco.osm.pbf")


@pytest.fixture(scope="session")
def monaco(monaco_path):
    return read_city(monaco_path)


def gdal_count(path, layer: str, where: str) -> int:
    """What GDAL itself reads from the file (no geometry, so nothing is dropped or repaired by us)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return len(pyogrio.read_dataframe(path, layer=layer, where=where, read_geometry=False))
