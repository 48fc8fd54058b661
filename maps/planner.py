"""The planner's grid editor page (/planner): plans, split / merge / move a boundary on a Leaflet map, proposal,
validation with locations, impact before/after, publish with an effective date, rollback, download and upload.
Renders only: the page works through the plans API (``/api/v1/plans``) with the logged-in planner's token."""

from __future__ import annotations

import html
import json

LABELS = {
    "zh": {
        "title": "网格规划", "plans": "方案", "new_draft": "新建草案（复制现行网格）", "delete": "删除草案",
        "tools": "编辑", "select": "选择", "split": "沿线拆分", "merge": "合并所选", "boundary": "移动边界",
        "finish": "完成画线", "cancel": "取消", "propose": "自动平衡", "community": "社区",
        "validation": "校验", "impact": "影响", "publish": "发布", "effective": "生效日期",
        "rollback": "回退到上一方案",
        "download": "下载", "upload": "上传（GeoPackage / GeoJSON / Shapefile 压缩包）", "code": "编码",
        "status": "状态", "households": "户数", "buildings": "楼栋", "street": "街道(米)", "open_cases": "在办案件",
        "cases_90d": "近90天案件", "worker": "网格员", "before": "调整前", "after": "调整后",
        "ok": "校验通过", "errors": "错误", "warnings": "警告", "draft": "草案", "published": "现行",
        "superseded": "已替代", "readonly": "现行或历史方案只读：新建草案后编辑", "hint_select": "点击网格选择",
        "hint_split": "先选一个网格，再在地图上点击画出穿过它的线，然后“完成画线”",
        "hint_merge": "点击选择两个或多个相邻网格，然后“合并所选”",
        "hint_boundary": "选择两个相邻网格，画出新的分界线，然后“完成画线”", "moved": "变动的楼栋与案件",
        "added": "新增", "removed": "撤销", "changed": "调整", "unchanged": "不变", "saved": "已保存",
        "published_ok": "已发布", "confirm_publish": "确定发布此方案？楼栋、在办案件和回头看将随新网格调整。",
        "confirm_rollback": "确定回退到上一方案？", "no_plans": "还没有方案：新建一个草案开始", "lang": "English",
        "range": "户数范围", "locate": "定位", "logout": "退出",
        "proposal_done": "已自动平衡{0}：{1} 个网格（调整 {2} 个，不变 {3} 个）",
        "proposal_households": "每格 {0}–{1} 户（平均 {2} 户），{3}% 在户数范围内",
        "proposal_new": "新编码：{0}", "proposal_retired": "撤销编码：{0}", "proposal_out": "仍超出户数范围：{0}",
        "proposal_all_in": "全部网格都在户数范围内", "list_sep": "、", "sentence_sep": "；",
        "print_qr": "打印二维码", "hint_print": "先在地图上选择网格（现行方案的网格），再打印它的二维码或网格员公示牌",
    },
    "en": {
        "title": "Grid planning", "plans": "Plans", "new_draft": "New draft (copy of the grids in force)",
        "delete": "Delete draft", "tools": "Edit", "select": "Select", "split": "Split along a line",
        "merge": "Merge selected", "boundary": "Move boundary", "finish": "Finish line", "cancel": "Cancel",
        "propose": "Rebalance", "community": "Community", "validation": "Validation", "impact": "Impact",
        "publish": "Publish", "effective": "Effective from", "rollback": "Roll back to the previous plan",
        "download": "Download", "upload": "Upload (GeoPackage / GeoJSON / zipped Shapefile)", "code": "Code",
        "status": "Status", "households": "Households", "buildings": "Buildings", "street": "Streets (m)",
        "open_cases": "Open cases", "cases_90d": "Cases, 90 days", "worker": "Worker", "before": "before",
        "after": "after", "ok": "Valid", "errors": "errors", "warnings": "warnings", "draft": "draft",
        "published": "in force", "superseded": "superseded",
        "readonly": "Plans in force or past are read-only: open a new draft to edit",
        "hint_select": "Click a grid to select it",
        "hint_split": "Select one grid, click points of a line across it on the map, then Finish line",
        "hint_merge": "Click two or more neighbouring grids, then Merge selected",
        "hint_boundary": "Select two neighbouring grids, draw the new boundary, then Finish line",
        "moved": "Buildings and cases that move", "added": "added", "removed": "removed", "changed": "changed",
        "unchanged": "unchanged", "saved": "Saved", "published_ok": "Published",
        "confirm_publish": "Publish this plan? Buildings, open cases and revisits will follow the new grids.",
        "confirm_rollback": "Roll back to the previous plan?", "no_plans": "No plans yet: open a draft to start",
        "lang": "中文", "range": "Households range", "locate": "Show", "logout": "Log out",
        "proposal_done": "Rebalanced {0}: {1} grids ({2} changed, {3} kept)",
        "proposal_households": "{0}–{1} households per grid (mean {2}), {3}% within the range",
        "proposal_new": "new codes: {0}", "proposal_retired": "retired codes: {0}",
        "proposal_out": "still out of range: {0}", "proposal_all_in": "every grid within the range",
        "list_sep": ", ", "sentence_sep": "; ", "print_qr": "Print QR codes",
        "hint_print": "Select grids on the map (of the plan in force) first, then print their QR codes or cards",
    },
}

# 微网格 (people, issue 22): the micro-grid layer of a draft — show it, pick a micro-grid, click buildings into it
LABELS["zh"] |= {"micro": "微网格", "micro_show": "显示微网格",
                 "micro_help": "点击一个微网格作为目标，再点击楼栋把它移入（草案中编辑，发布后生效）",
                 "micro_target": "目标微网格：{0}", "micro_moved": "楼栋 {0} 已移入 {1}",
                 "micro_zoom": "放大地图以显示楼栋",
                 "micro_none": "此方案还没有微网格，请先生成",
                 "micro_readonly": "只有草案的微网格可以编辑", "micro_leader": "楼栋长"}
LABELS["en"] |= {"micro": "Micro-grids (微网格)", "micro_show": "Show micro-grids",
                 "micro_help": "Click a micro-grid to pick it, then click buildings to move them into it (in a draft; "
                               "in force once published)",
                 "micro_target": "Target micro-grid: {0}", "micro_moved": "Building {0} moved into {1}",
                 "micro_zoom": "Zoom in to see the buildings",
                 "micro_none": "This plan has no micro-grids yet (gridpatrol people microgrids generate --plan …)",
                 "micro_readonly": "Only a draft's micro-grids are edited", "micro_leader": "Building lead"}

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/vendor/leaflet-1.9.4/leaflet.css">
<link rel="stylesheet" href="/static/css/planner.css">
<link rel="stylesheet" href="/static/css/stickers.css">
<script id="cfg" type="application/json">{config}</script>
</head><body>
<header><h1>{title}</h1>
 <select id="plan-select" aria-label="{plans}"></select>
 <button type="button" id="new-draft">{new_draft}</button>
 <button type="button" id="delete-draft">{delete}</button>
 <span class="grow"></span>
 <a href="?lang={other}">{lang_label}</a> · <a href="/login?next=/planner">{logout}</a>
</header>
<main>
 <div id="map"></div>
 <aside>
  <p id="message" role="status"></p>
  <section id="tools"><h2>{tools}</h2>
   <div class="row">
    <button type="button" data-mode="select" class="active">{select}</button>
    <button type="button" data-mode="split">{split}</button>
    <button type="button" data-mode="merge">{merge_mode}</button>
    <button type="button" data-mode="boundary">{boundary}</button>
   </div>
   <p id="hint" class="muted"></p>
   <div class="row"><button type="button" id="finish" hidden>{finish}</button>
    <button type="button" id="do-merge" hidden>{merge}</button>
    <button type="button" id="cancel" hidden>{cancel}</button></div>
   <div class="row"><label>{community} <select id="community"></select></label>
    <button type="button" id="propose">{propose}</button></div>
   <p id="selected" class="muted"></p>
  </section>
  <section><h2>{validation} <small id="valid-summary"></small></h2><ul id="problems"></ul></section>
  <section><h2>{impact} <small id="impact-summary"></small></h2>
   <div class="scroll"><table id="impact"><thead><tr><th>{code}</th><th>{status}</th><th>{households}</th>
   <th>{buildings}</th><th>{street}</th><th>{open_cases}</th><th>{cases_90d}</th><th>{worker}</th></tr></thead>
   <tbody></tbody></table></div></section>
  <section id="publishing"><h2>{publish}</h2>
   <div class="row"><label>{effective} <input type="date" id="effective"></label>
    <button type="button" id="publish" class="primary">{publish}</button></div>
   <div class="row"><button type="button" id="rollback">{rollback}</button></div>
   <div class="row">{download}: <a href="#" data-format="gpkg">GeoPackage</a>
    · <a href="#" data-format="geojson">GeoJSON</a> · <a href="#" data-format="shp">Shapefile</a></div>
   <label class="upload">{upload}<input type="file" id="upload" accept=".gpkg,.geojson,.json,.zip"></label>
   <div class="row"><button type="button" id="print-qr">{print_qr}</button></div>
  </section>
  <section id="micro"><h2>{micro}</h2>
   <label><input type="checkbox" id="micro-show"> {micro_show}</label>
   <p class="muted">{micro_help}</p><p id="micro-state" role="status"></p></section>
 </aside>
</main>
<script src="/static/vendor/leaflet-1.9.4/leaflet.js"></script>
<script src="/static/js/leaflet-lang.js"></script>
<script type="module" src="/static/js/planner.js"></script>
<script type="module" src="/static/js/planner-micro.js"></script>
</body></html>"""


def planner_page(*, lang: str = "zh", tiles: dict | None = None, datum: str = "wgs84",
                 households_range: tuple[int, int] = (300, 500)) -> str:
    lang = "en" if lang == "en" else "zh"
    labels = LABELS[lang]
    config = json.dumps({"lang": lang, "labels": labels, "tiles": tiles, "datum": datum,
                         "range": list(households_range)}, ensure_ascii=False).replace("</", "<\\/")
    text = {k: html.escape(v) for k, v in labels.items()}
    text["merge_mode"] = html.escape("合并" if lang == "zh" else "Merge")
    return PAGE.format(config=config, other="en" if lang == "zh" else "zh", lang_label=text.pop("lang"),
                       **{"lang": lang, **text})
