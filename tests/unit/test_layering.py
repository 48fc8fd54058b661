"""Dependencies point one way: api → patrol → geo, api → maps → geo. geo/ imports no database, web or map code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "geo": {"sqlalchemy", "geoalchemy2", "fastapi", "starlette", "folium", "branca", "pydantic", "pydantic_settings",
            "patrol", "api", "maps"},
    "maps": {"sqlalchemy", "geoalchemy2", "fastapi", "starlette", "patrol", "api"},
    "patrol": {"fastapi", "starlette", "folium", "api", "maps"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    bad = {str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN[package]) for f in files}
    assert {f: names for f, names in bad.items() if names} == {}
