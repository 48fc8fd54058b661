"""One settings object for the whole application, read from the environment (prefix ``GRIDPATROL_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``GRIDPATROL_<NAME>`` (e.g. ``GRIDPATROL_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="GRIDPATROL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///gridpatrol.db",
        description="sqlite:///file.db selects SpatiaLite (embedded default); postgresql+psycopg://… selects PostGIS.",
    )
    read_database_url: str = Field(
        "", description="A PostgreSQL streaming replica of database_url (postgresql+psycopg://…) for read-only work "
                        "(dashboards, KPIs, maps, analytics, exports, tiles, OGC / Open311 reads); empty: none. A "
                        "user's own fresh writes are read from the primary; a replica that is down: the primary.")
    spatialite_library: str = Field("mod_spatialite", description="Name or path of the SpatiaLite extension.")
    lang: str = Field("zh", description="Default UI language: zh or en.")
    tiles: str | None = Field("gridpatrol", description="Basemap: gridpatrol (our own vector tiles at /tiles/, "
                                                        "offline), a tile URL or folium name; empty for none.")
    tiles_datum: str = Field("wgs84", description="Datum of an external basemap: wgs84 (OSM, Tianditu) or gcj02 "
                                                  "(AMap, Tencent): with gcj02 every layer is shifted to match it. "
                                                  "Our own basemap is always wgs84.")
    tile_attribution: str | None = None
    households_min: int = Field(300, description="Default lower bound of households per grid.")
    households_max: int = Field(500, description="Default upper bound of households per grid.")
    # people (issue 22): 微网格 of tens of households (S0: 47 楼栋长 for 10 grids of ~240 households)
    micro_households_min: int = Field(30, gt=0, description="Lower bound of households per micro-grid (微网格).")
    micro_households_max: int = Field(80, gt=0, description="Upper bound of households per micro-grid (微网格).")
    dwelling_m2: float = Field(90.0, description="Gross floor area of one dwelling, for household estimates (m²).")
    district_code: str = Field("000000", description="6-digit district code used as the prefix of grid codes.")
    page_size_max: int = Field(5000, description="Largest page a GeoJSON endpoint returns.")
    secret_key: str | None = Field(None, description="Signs access tokens; default: a random key kept in secret_file.")
    secret_file: str = Field("gridpatrol.secret", description="Where the generated secret key is kept.")
    token_hours: float = Field(12.0, description="Lifetime of an access token, hours.")
    refresh_days: float = Field(30.0, description="Lifetime of one refresh token, days (each refresh issues the "
                                                  "next; never past session_absolute_days after the login).")
    timezone: str = Field("Asia/Shanghai", description="The city's timezone (working hours, dates of revisits).")
    work_periods: str = Field("08:30-12:00,13:30-17:30", description="Working periods of a working day.")
    holidays: str = Field("", description="Public holidays: ISO dates or ranges a..b, comma-separated.")
    workdays: str = Field("", description="Make-up working days (调休) on weekends, same format.")
    duplicate_radius_m: float = Field(30.0, description="An open case of the same category this near is a "
                                                        "possible duplicate; a closed one, a recurrence.")
    recurrence_days: int = Field(30, description="A case this soon after a closure nearby is a recurrence.")
    public_worker_names: bool = Field(False, description="Name the grid workers (and their user ids) on the public "
                                                       "grids layer and the overview map; off: no worker fields.")
    photo_max_bytes: int = Field(8 * 1024 * 1024, description="Largest photo accepted, bytes.")
    upload_max_mb: int = Field(200, gt=0, description="Largest GIS upload (a plan's grids), MB; a zip's members "
                                                      "unpacked together count.")
    upload_read_seconds: float = Field(120.0, gt=0, description="Longest a GIS file may take to read (in a child "
                                                                "process, killed after), s.")
    upload_read_memory_mb: int = Field(2048, gt=0, description="Memory the child process reading a GIS file may "
                                                               "add to its interpreter's, MB.")
    max_body_bytes: int = Field(2 * 1024 * 1024, gt=0, description="Largest request body of a route without a "
                                                                    "limit of its own, bytes (413 above).")
    upload_max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Largest body of a plan upload, a batch of "
                                                                      "reports or of GPS fixes, bytes.")
    vulnerable_visit_days: int = Field(7, gt=0, description="How often a vulnerable resident (80+, disabled, living "
                                                            "alone) is visited unless her record says otherwise, days.")
    vulnerable_age: int = Field(80, gt=0, description="From this age a resident counts as vulnerable (高龄).")
    near_deadline_fraction: float = Field(0.2, gt=0, lt=1, description="A running case is 即将超期 (near its "
                                          "deadline) when less than this fraction of its category's time limit "
                                          "(working hours) is left; orange below it, yellow below twice it.")
    sse_seconds: float = Field(300.0, gt=0, description="Longest a live-update stream (/api/v1/desk/events) stays "
                                                         "open, s; the browser reconnects after it ends.")
    public_url: str = Field("http://127.0.0.1:8000", description="Where users reach this server: the base of the "
                                                                 "links in notifications (e-mail, webhooks).")
    # issue 18, stickers: the grid worker's public card (网格员公示牌)
    sticker_hotline: str = Field("12345", description="The service hotline printed on the grid workers' public "
                                                      "cards (网格员公示牌); empty: none.")
    sticker_card_title: str = Field("网格员公示牌", description="The title of the grid workers' public cards.")
    # issue 23, city scale
    fast_reads: bool = Field(True, description="Use the city-scale read paths (summary tables, stored cell ids); "
                                               "off: the original queries (bench/bench_scale.py compares the two).")
    gps_retention_days: int = Field(365, ge=90, description="Raw GPS fixes older than this many days are dropped by "
                                                            "gridpatrol gps retain, once summarised per worker-day "
                                                            "(at least the 90 days the blind spots look back on).")
    # issue 23, heavy analytics on Dask (patrol/analytics/history.py)
    dask_scheduler: str = Field("", max_length=300, description="Where hotspots, emerging hotspots and coverage over "
                                "long periods run: empty: in this process; local: a distributed.LocalCluster of "
                                "dask_workers workers started on first use; tcp://host:8786: a real cluster's "
                                "scheduler (its workers need this Python environment and the database).")
    dask_workers: int = Field(2, gt=0, le=256, description="Workers of the local cluster (dask_scheduler=local).")
    dask_memory: str = Field("2GiB", max_length=20, description="Memory limit of each local worker, e.g. 2GiB "
                             "(dask_scheduler=local).")
    dask_min_days: int = Field(366, gt=0, description="The API sends hotspots, emerging hotspots and coverage to "
                               "the Dask scheduler (when one is set) for periods longer than this many days.")
    notify_max_attempts: int = Field(8, gt=0, description="Deliveries of one notification tried before it is dead.")
    notify_lease_seconds: float = Field(120.0, gt=0, description="How long a sender's claim on an outbox row holds; "
                                                                 "after it a crashed sender's rows are sent again.")
    notify_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one e-mail or webhook delivery, s.")
    notify_batch: int = Field(200, gt=0, description="Outbox rows claimed by one delivery pass at most.")
    notify_threads: int = Field(8, gt=0, description="Deliveries made at once by one delivery pass.")
    smtp_host: str | None = Field(None, description="SMTP server for e-mail notifications; empty: e-mail is not sent "
                                                    "(the rows wait in the outbox).")
    smtp_port: int = Field(25, description="SMTP port (587 with STARTTLS, typically).")
    smtp_user: str | None = Field(None, description="SMTP login, if the server asks for one.")
    smtp_password: str | None = Field(None, description="SMTP password.")
    smtp_from: str = Field("gridpatrol@localhost", description="From address of notification e-mail.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    kpi_thresholds: dict[str, tuple[float, float, float]] = Field(
        default_factory=dict,
        description='黄橙红 warning thresholds per KPI as JSON, e.g. {"on_time_rate": [0.9, 0.8, 0.7]} '
                    "(yellow, orange, red); KPIs not named keep their defaults.")
    session_absolute_days: float = Field(30.0, gt=0, description="Absolute lifetime of a login session: its refresh "
                                                                "tokens are never renewed past this many days after "
                                                                "the login, days.")
    login_window_minutes: float = Field(15.0, gt=0, description="Window in which failed logins are counted, "
                                                               "minutes.")
    login_max_failures_user: int = Field(5, gt=0, description="Failed logins of one user name within the window "
                                                              "before that name is refused with 429.")
    login_max_failures_address: int = Field(20, gt=0, description="Failed logins from one client address within "
                                                                  "the window before that address is refused "
                                                                  "with 429.")
    login_audit_days: int = Field(90, gt=0, description="How long login attempts are kept (the audit), days.")
    api_key_days: float | None = Field(None, gt=0, description="Lifetime of a new Open311 API key, days; empty: "
                                                               "keys do not expire unless given --days.")
    cookie_secure: bool | None = Field(None, description="Mark the login cookie Secure: true always (behind a TLS "
                                                         "proxy), false never; empty: when the request came over "
                                                         "https.")
    clock_skew_allowance_s: int = Field(300, ge=0, description="How far a phone's clock may disagree with the "
                                        "server's before its times are flagged (time_flag 'skew', corrected by the "
                                        "difference) and how far in the future an occurrence may lie before it is "
                                        "clamped to the receipt ('future'), s.")
    occurrence_window_hours: float = Field(72.0, gt=0, description="Oldest accepted occurrence time of offline work "
                                           "(a report, a step, a 回头看): older is clamped to the receipt and "
                                           "flagged 'too_old', hours.")
    refresh_grace_s: float = Field(30.0, ge=0, description="A refresh token presented again this soon after its "
                                   "use, while its successor is still unused (the answer was lost: the phone "
                                   "went offline), is exchanged again instead of ending the session, s.")
    # -- h5: the residents' public pages (/r/, /r/f/<token>) ----------------------------------------------------
    resident_photo_max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="Largest photo of a resident's report "
                                          "(the page downscales to ~1600 px JPEG, a few hundred KB), bytes.")
    resident_ip_limit: int = Field(30, gt=0, description="Reports (and, counted apart, ratings) from one client "
                                   "address within resident_window_minutes before it is refused with 429 (phones "
                                   "on a mobile network often share an address: not too low).")
    resident_phone_limit: int = Field(5, gt=0, description="Reports giving one phone number within "
                                      "resident_window_minutes before it is refused with 429.")
    resident_window_minutes: float = Field(60.0, gt=0, description="The sliding window of the residents' rate "
                                           "limits, minutes.")
    # hotline (the 12345 exchange, patrol/intake/hotline)
    hotline_mapping: str | None = Field(None, description="The 12345 mapping file (YAML) read by the push API "
                                        "(/api/v1/hotline/…) to map 诉求分类 and deadlines; empty: the sample "
                                        "shipped (patrol/data/hotline_mapping.yaml).")

    # kpis (issue 18): 接诉即办 rates (patrol/analytics/responsiveness.py)
    response_hours: float = Field(2.0, gt=0, le=200, description="响应率: a resident's order counts as answered in "
                                  "time when staff register, reject, dispatch or supplement it within this many "
                                  "working hours of its receipt.")
    responsiveness_weights: dict[str, float] = Field(
        default_factory=lambda: {"response": 0.10, "resolution": 0.45, "satisfaction": 0.45},
        description='Weights of the 接诉即办 composite score as JSON {"response": 0.1, "resolution": 0.45, '
                    '"satisfaction": 0.45} (Beijing\'s 三率 考评 weights by default).')
    responsiveness_satisfaction: Literal["rated", "orders"] = Field(
        "rated", description="The 满意率 in the composite score: rated (评价满意率 = satisfied ÷ rated) or orders "
                             "(满意工单率 = satisfied ÷ all orders received).")
    responsiveness_thresholds: dict[str, tuple[float, float, float]] = Field(
        default_factory=dict, description='黄橙红 thresholds of the 接诉即办 rates as JSON, e.g. {"response_rate": '
                                          '[0.9, 0.8, 0.7], "composite": [90, 80, 70]}; rates not named keep theirs.')
    # issue 22, mediation and needs: how long a 民情台账 need may wait for its answer (件件有回应)
    need_due_days: int = Field(7, gt=0, le=365, description="Days a new need of the register has for its answer "
                                                            "(its due date when none is given).")

    # deliberation (issue 22): 研判 and 协商议事 (patrol/cases/lists.py, assessment.py, meetings.py)
    demand_lists_file: str | None = Field(None, description="The city's 诉求清单 (CSV: code, name_zh, name_en, "
                                          "categories) a 研判 sorts cases into; empty: the sample shipped "
                                          "(patrol/data/demand_lists.csv: 党建, 民政, 安全生产, 环境卫生, 物业管理, "
                                          "其他).")
    meeting_kinds_file: str | None = Field(None, description="The kinds of 议事 meeting (CSV: code, name_zh, name_en); "
                                           "empty: the list shipped (patrol/data/meeting_kinds.csv).")
    # assessment (issue 22): 考核 scorecards and the 月报 (patrol/analytics/scorecard*.py)
    assessment_rules: str | None = Field(None, description="The 考核细则 file (YAML) the scorecards score by; empty: "
                                         "the sample shipped (patrol/data/assessment.yaml).")

    @model_validator(mode="after")
    def _own_basemap_is_wgs84(self) -> Settings:
        """Our own basemap (``tiles=gridpatrol``) is drawn from our WGS-84 data: nothing is shifted for it."""
        if (self.tiles or "").strip().lower() == "gridpatrol":
            self.tiles_datum = "wgs84"
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
