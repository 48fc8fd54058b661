"""The modules every page script shares (maps/static/js: datum.js, html.js, i18n.js), loaded in Chromium as the pages
load them: the datum conversion agrees with geo.crs, escaping covers & < > " ', the translator falls back as
documented."""

from __future__ import annotations

import json

import pytest

from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from tests.browser.module_page import module_page

pytestmark = pytest.mark.browser

# (lon, lat): Beijing, Shanghai, Shenzhen, Urumqi, Harbin, Hong Kong; Monaco and a point just outside the China box
# (the identity there); a point near the box's corner.
POINTS = [(116.397, 39.909), (121.4737, 31.2304), (114.0579, 22.5431), (87.6168, 43.8256), (126.535, 45.8038),
          (114.1694, 22.3193), (7.4246, 43.7384), (71.9, 40.0), (137.8, 55.8)]


@pytest.fixture(scope="module")
def page():
    with module_page() as p:
        yield p
        assert not p.errors, p.errors


def _js(page, body: str, arg=None):
    return page.evaluate(f"async (arg) => {{ {body} }}", arg)


def test_wgs84_to_gcj02_agrees_with_geo_crs(page):
    got = _js(page, "const d = await import('/static/js/datum.js');"
                    "return arg.map(([lon, lat]) => d.wgsToGcj(lat, lon));", POINTS)
    for (lon, lat), (glat, glon) in zip(POINTS, got, strict=True):
        plon, plat = wgs84_to_gcj02(lon, lat)
        assert glon == pytest.approx(plon, abs=1e-9) and glat == pytest.approx(plat, abs=1e-9), (lon, lat)
    moved = [abs(g[1] - lon) + abs(g[0] - lat) for (lon, lat), g in zip(POINTS, got, strict=True)]
    assert all(m > 1e-4 for m in moved[:6]) and moved[6] == moved[7] == 0  # shifted in China, not outside


def test_gcj02_to_wgs84_agrees_with_geo_crs_to_a_millimetre(page):
    shifted = [wgs84_to_gcj02(lon, lat) for lon, lat in POINTS]
    got = _js(page, "const d = await import('/static/js/datum.js');"
                    "return arg.map(([lon, lat]) => d.gcjToWgs(lat, lon));", shifted)
    for (lon, lat), (gx, gy), (wlat, wlon) in zip(POINTS, shifted, got, strict=True):
        plon, plat = gcj02_to_wgs84(gx, gy)
        assert wlon == pytest.approx(plon, abs=1e-8) and wlat == pytest.approx(plat, abs=1e-8)
        assert wlon == pytest.approx(lon, abs=1e-8) and wlat == pytest.approx(lat, abs=1e-8)  # ≈1 mm round trip


def test_the_datum_for_leaflet_shifts_only_for_gcj02(page):
    page.add_script_tag(url="/static/vendor/leaflet-1.9.4/leaflet.js")
    got = _js(page, """const { datum } = await import('/static/js/datum.js');
        const g = datum('gcj02'), w = datum('wgs84');
        const ll = g.toMap(arg[1], arg[0]);
        return { gcj: g.gcj, wgs: w.gcj, shifted: [ll.lng, ll.lat], back: g.fromMap(ll),
                 same: w.fromMap(w.toMap(1, 2)) };""",
              list(POINTS[0]))
    assert got["gcj"] is True and got["wgs"] is False
    assert got["shifted"] == [pytest.approx(v, abs=1e-9) for v in wgs84_to_gcj02(*POINTS[0])]
    assert got["back"] == {"lat": pytest.approx(POINTS[0][1], abs=1e-8), "lon": pytest.approx(POINTS[0][0], abs=1e-8)}
    assert got["same"] == {"lat": 1, "lon": 2}


def test_escaping_covers_the_five_characters_everywhere(page):
    text = """<a href="x" title='y'>&amp;</a>"""
    got = _js(page, "const { esc } = await import('/static/js/html.js');"
                    "return [esc(arg), esc(null), esc(undefined), esc(0), esc('安全 ok')];", text)
    assert got == ["&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;", "", "", "0", "安全 ok"]
    # put into an attribute and read back, the text is unchanged
    back = _js(page, """const { esc } = await import('/static/js/html.js');
        const div = document.createElement('div');
        div.innerHTML = `<span title='${esc(arg)}' data-x="${esc(arg)}">${esc(arg)}</span>`;
        const s = div.firstChild;
        return [s.title, s.dataset.x, s.textContent, div.children.length, s.children.length];""", text)
    assert back == [text, text, text, 1, 0]


def test_the_translator_defaults_to_chinese_and_falls_back(page):
    tables = {"zh": {"hello": "你好", "n": "__n__"}, "en": {"hello": "Hello"}}
    got = _js(page, """const { translator, localised, pickLang, locale } = await import('/static/js/i18n.js');
        const tables = JSON.parse(arg);
        tables.zh.n = (n) => `${n} 项`;
        const t = translator(tables, 'fr');
        const out = [t.lang, t('hello'), t('n', 3), t('missing')];
        t.setLang('en');
        out.push(t.lang, t('hello'), t('missing'));
        out.push(localised({ zh: '楼', en: 'Building' }, 'en'), localised({ zh: '楼' }, 'en'), localised(7, 'zh'),
                 localised(null, 'zh'), pickLang('EN'), locale('en'), locale(undefined));
        return out;""", json.dumps(tables))
    assert got == ["zh", "你好", "3 项", "missing", "en", "Hello", "missing", "Building", "楼", "7", "", "zh", "en-GB",
                   "zh-CN"]
