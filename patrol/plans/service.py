"""Versioned grid plans (网格调整方案): draft, edit, validate, see the impact, publish on a date, roll back.

The ``grid`` table always holds the grids **in force**; every other module reads it. A plan (:class:`GridPlan`) is a
version of the whole grid layer in ``grid_plan_grid``:

- **baseline**: the first time plans are used, the grids in force are recorded as a published plan, so history
  starts somewhere. When the grids were changed outside plans since (``grids generate --replace``, a grids layer
  import), the next plan operation records them again as a new baseline.
- **draft**: a copy of the grids in force that a planner edits — split a grid along a line, merge grids, move the
  boundary between two neighbours, reshape a grid (its neighbours in the community lose what it gains and take
  what it gives up), set a grid's geometry / name / worker, or replace everything with an uploaded layer
  (GeoPackage, GeoJSON, zipped Shapefile). Edits are done in the city's metric CRS.
- **validate**: :func:`geo.grids.check.check_grids` on the draft (gaps, overlaps, slivers, grids leaving their
  community, buildings cut or in no grid, households out of range, multipart grids, duplicate codes, invalid
  geometries), every problem at once with its place in WGS-84.
- **impact**: per grid, before and after: households, buildings, street length, open cases, cases of the last 90
  days, worker; and GeoJSON of what moves (areas, buildings, open cases).
- **publish**: in one transaction: refused (409) while validation finds a fatal problem; ``grid`` is updated in
  place by code (same code → same row id), new codes are inserted, and grids whose code disappears are deleted
  once nothing points at them any more. Then:

  * buildings are placed again by their representative point;
  * **open cases** move to the grid now holding their point, with a ``regrid`` event in their timeline
    ("网格调整 A → B"); an open case assigned to its old grid's worker follows the new grid's worker when that
    grid has one and it is someone else;
  * pending 回头看 revisits move with their case's point, to the new grid and its worker;
  * **closed cases** (closed, rejected, duplicate) are history: they keep their grid while its code survives
    (same row, possibly a new shape), and only when their grid is deleted do they move to the grid now holding
    their point (no timeline event). The grid a case had when it was reported is always recoverable from the
    plans (:func:`grid_at`);
  * patrols of a deleted grid keep no grid (``grid_id`` NULL, as the foreign key says);
  * the plan in force before becomes ``superseded``; :func:`grid_version` changes, so the per-process caches of
    :mod:`patrol.cases.batch` (point location) and :mod:`patrol.analytics.service` (coverage) are rebuilt.

- **history**: a plan is in force from the moment it was published (``published_at``) until the next one; a case
  reported before the first plan had the baseline's grids. ``effective_from`` is the official date the planner
  gives (today or earlier; scheduling a future date is not supported: publish on that day).
- **rollback**: publishes a copy of the plan in force before the current one, as a new plan, so history stays
  linear (rolling back twice returns to where one started). It takes the same path as publishing but is not
  refused for validation problems: those grids were in force before.

The parts live in their own modules; this one is the surface the API, the CLI and the rest of patrol call:

- :mod:`patrol.plans.base`: who may plan, finding a plan, grids as frames, the baseline, new grid codes
- :mod:`patrol.plans.geometry`: GeoJSON input, reprojection, tidying and cutting shapes, placing points in grids
- :mod:`patrol.plans.drafts`: list plans, open and delete a draft, a plan as GeoJSON
- :mod:`patrol.plans.edits`: split, merge, move a boundary, reshape, set / add / delete one grid
- :mod:`patrol.plans.proposal`: a rebalancing proposal for one community
- :mod:`patrol.plans.checks`: validation (every problem at once, with its place)
- :mod:`patrol.plans.impact`: before / after per grid and what changes hands
- :mod:`patrol.plans.publish`: publish and roll back (grids in force rewritten; cases, revisits, buildings moved)
- :mod:`patrol.plans.exchange`: download and upload files
- :mod:`patrol.plans.history`: the grid a case had when it was reported
"""

from __future__ import annotations

from patrol.plans.base import (
    PLANNERS,
    RECENT_DAYS,
    ensure_baseline,
    grid_version,
    plan_dict,
    require_planner,
)
from patrol.plans.checks import validate
from patrol.plans.drafts import create_draft, delete_draft, get_plan, list_plans, plan_geojson
from patrol.plans.edits import delete_grid, merge_grids, move_boundary, reshape_grid, set_grid, split_grid
from patrol.plans.exchange import FORMATS, check_upload, download, read_upload, upload
from patrol.plans.history import case_grid_history, grid_at
from patrol.plans.impact import impact
from patrol.plans.proposal import propose
from patrol.plans.publish import publish, rollback

__all__ = [
    "FORMATS", "PLANNERS", "RECENT_DAYS", "case_grid_history", "check_upload", "create_draft", "delete_draft",
    "delete_grid", "download", "ensure_baseline", "get_plan", "grid_at", "grid_version", "impact", "list_plans",
    "merge_grids", "move_boundary", "plan_dict", "plan_geojson", "propose", "publish", "read_upload",
    "require_planner", "reshape_grid", "rollback", "set_grid", "split_grid", "upload", "validate",
]
