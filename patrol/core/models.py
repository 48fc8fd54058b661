"""The persistent model: SQLAlchemy 2 typed mappings with GeoAlchemy2 geometries, the same on SpatiaLite and PostGIS.
Long because every table is declared here, in one module, the one the migrations are compared with.

Every geometry is stored in WGS-84 (EPSG:4326); metric work happens in the city's projected CRS (``City.metric_epsg``)
in :mod:`geo`. Areal layers are MULTIPOLYGON so that one column type fits both single and multi-part features.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, attributes, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from patrol.core.cells import column_default, point_h3

SRID = 4326
#: ``grid_lead`` 网格长 (leads several grids: ``Grid.lead_id``); ``building_lead`` a light account of a 楼栋长 /
#: 微网格员 / volunteer, scoped to her 微网格 (``MicroGrid.leader_id``); ``User.post`` says which of them she is
ROLES = ("grid_worker", "supervisor", "subdistrict", "department", "planner", "admin", "grid_lead", "building_lead")
ROLE_CHECK = "role IN ('grid_worker', 'supervisor', 'subdistrict', 'department', 'planner', 'admin', 'grid_lead', " \
             "'building_lead')"
LEVELS = ("grid", "community", "department")
CATEGORY_KINDS = ("component", "event")
CASE_STATUSES = ("reported", "registered", "dispatched", "accepted", "handled", "verified", "closed", "rejected",
                 "suspended", "duplicate")
TASK_STATUSES = ("dispatched", "accepted", "handled", "not_responsible")
PLAN_STATUSES = ("draft", "published", "superseded")
CHECKLIST_TARGETS = ("building", "shop", "place")
NEED_TYPES = ("education", "medical", "housing", "jobs", "elderly_care", "other")
NEED_STATUSES = ("open", "in_progress", "resolved")
#: the resident's word on the answer to her need (and on a service): 满意 / 基本满意 / 不满意
FEEDBACK = ("satisfied", "basically", "dissatisfied")
TEAM_KINDS = ("mediation", "safety", "service", "other")  # 和事佬调解队, 平安志愿者, 志愿服务队, 其他
SERVICE_MEMBER_KINDS = ("liaison", "party_member", "unit")  # 网格服务专员, 双报到党员, 双报到单位
ASSESSMENT_KINDS = ("comprehensive", "special")  # 综合研判, 专题研判
MEETING_STATES = ("planned", "held", "decided", "cancelled")
MEDIATION_OUTCOMES = ("open", "agreed", "failed", "referred")  # 调解中, 达成协议, 未达成, 转交

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """An aware datetime stored in UTC on both databases (SQLite keeps no offset: values are converted to UTC on
    the way in and read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a timezone-aware column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _area() -> Mapped:
    return mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class City(Base):
    """The city this database serves (one row): its name, the metric CRS for its metric work, its district code.

    ``timezone`` overrides the settings' when the city was created with one; ``code_scheme`` is how the city codes
    its areas when not by the national region codes (declared once by ``gridpatrol city create``);
    ``map_version`` is bumped whenever what the basemap tiles show changes (a layer import, a published plan), so
    cached tiles are invalidated."""

    __tablename__ = "city"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    metric_epsg: Mapped[int] = mapped_column(Integer)
    district_code: Mapped[str] = mapped_column(String(6), default="000000")
    source: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    timezone: Mapped[str | None] = mapped_column(String(64))
    code_scheme: Mapped[str | None] = mapped_column(String(200))
    map_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: the households a grid should hold in this city (None: the settings' defaults)
    grid_households_min: Mapped[int | None] = mapped_column(Integer)
    grid_households_max: Mapped[int | None] = mapped_column(Integer)


class Subdistrict(Base):
    """街道 subdistrict."""

    __tablename__ = "subdistrict"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: 3 digits (the street part of grid codes) or, from official layers, the 9-digit region code as given
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    derived: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = _area()
    communities: Mapped[list[Community]] = relationship(back_populates="subdistrict")


class Community(Base):
    """社区 community. ``derived`` marks boundaries the software drew (the source had none), not official ones."""

    __tablename__ = "community"
    id: Mapped[int] = mapped_column(primary_key=True)
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistrict.id", ondelete="CASCADE"), index=True)
    #: 3 digits within the subdistrict or, from official layers, the 12-digit region code as given
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    derived: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = _area()
    subdistrict: Mapped[Subdistrict] = relationship(back_populates="communities")


class Grid(Base):
    """网格 grid: a few hundred households walked by one grid worker. ``code``: 15 digits (district, street,
    community, sequence)."""

    __tablename__ = "grid"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    #: the 网格长 leading this grid (one leads several)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    geom = _area()


class Building(Base):
    """楼栋 building. ``households_estimated`` is true while the count comes from footprint × levels, not a survey."""

    __tablename__ = "building"
    id: Mapped[int] = mapped_column(primary_key=True)
    osm_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    use: Mapped[str | None] = mapped_column(String(60))
    levels: Mapped[float | None] = mapped_column(Float)
    households: Mapped[int] = mapped_column(Integer, default=0)
    households_estimated: Mapped[bool] = mapped_column(Boolean, default=True)
    residents: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(300))
    #: the house number alone (OSM ``addr:housenumber`` or a layer's column), drawn on the basemap at high zoom
    housenumber: Mapped[str | None] = mapped_column(String(40))
    #: what people call it (house number and road, its name, or road + nearest number), set by the import
    label: Mapped[str | None] = mapped_column(String(300))
    geom = _area()
    __table_args__ = (CheckConstraint("households >= 0", name="households_non_negative"),)


class RoadSegment(Base):
    """A street or path as imported (one OSM way); ``length_m`` measured in the city's metric CRS."""

    __tablename__ = "road_segment"
    id: Mapped[int] = mapped_column(primary_key=True)
    osm_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    highway: Mapped[str] = mapped_column(String(40))
    length_m: Mapped[float] = mapped_column(Float)
    oneway: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = mapped_column(Geometry("LINESTRING", srid=SRID, spatial_index=True), nullable=False)


class MapArea(Base):
    """Water and green areas for the basemap (OSM ``natural=water``, ``landuse=grass`` … or a delivered layer);
    ``kind`` is ``water`` or ``green``. Drawn only: no analysis uses them."""

    __tablename__ = "map_area"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    geom = _area()


class ResponsibleUnit(Base):
    """A unit that handles cases (community office, 城管 squad, power company …) with an optional jurisdiction."""

    __tablename__ = "responsible_unit"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=False)
    jurisdiction = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=True)


class Category(Base):
    """A kind of problem (部件 component or 事件 event), its default handling level and deadline in working hours."""

    __tablename__ = "category"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    major_zh: Mapped[str] = mapped_column(String(100))
    major_en: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    deadline_hours: Mapped[float] = mapped_column(Float)
    severity: Mapped[int] = mapped_column(Integer)
    revisit_days: Mapped[int] = mapped_column(Integer, default=7)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the highest level the case may reach by escalation (关怀 stays with grid and community); None: department
    top_level: Mapped[str | None] = mapped_column(String(20))
    #: an enforcement matter (占道经营 …): the grid worker persuades first (劝导), she cannot close it by force;
    #: when persuasion fails it goes to the law-enforcement squad (城管)
    persuade_first: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    __table_args__ = (
        CheckConstraint("kind IN ('component', 'event')", name="kind"),
        CheckConstraint("level IN ('grid', 'community', 'department')", name="level"),
        CheckConstraint("deadline_hours > 0", name="deadline_positive"),
        CheckConstraint("severity BETWEEN 1 AND 3", name="severity_range"),
    )


class User(Base):
    """A person using the system, with a role and a scope (community or unit; a grid worker's grids point at her)."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(Text)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id", ondelete="SET NULL"))
    subdistrict_id: Mapped[int | None] = mapped_column(ForeignKey("subdistrict.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(200))
    #: the work phone printed on a grid worker's public card (网格员公示牌); not her private number
    work_phone: Mapped[str | None] = mapped_column(String(40))
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the post she holds (职务) in words, shown beside her name: 楼栋长, 微网格员, 平安志愿者, 网格长 …
    post: Mapped[str | None] = mapped_column(String(40))
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)


def _point(nullable: bool = False) -> Mapped:
    return mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=nullable)


class ApiKey(Base):
    """A key for an Open311 client (another system or a residents' app); only its SHA-256 is stored."""

    __tablename__ = "api_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: what the key opens: ``open311`` (GeoReport v2 for residents' apps) or ``hotline`` (a 12345 platform pushing
    #: work orders and reading results); a key opens nothing else
    scope: Mapped[str] = mapped_column(String(20), default="open311", server_default="open311")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    #: refused from then on (None: never expires); ``revoked_at`` says when ``active`` was turned off
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: when the key was last accepted, to the minute (written at most once a minute per key)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Patrol(Base):
    """One walk of a grid worker (巡查), from start to end; ``client_id`` makes a retried start idempotent."""

    __tablename__ = "patrol"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)


class GpsFix(Base):
    """A GPS fix of a patrol, stored in WGS-84; ``flag`` marks implausible fixes (kept, excluded from analytics)."""

    __tablename__ = "gps_fix"
    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrol.id", ondelete="CASCADE"), index=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    flag: Mapped[str | None] = mapped_column(String(20))
    geom = _point()
    # On PostgreSQL the table is partitioned by month on ``time`` (migration 0018, patrol.field.retention) and its
    # primary key is (id, time), as a partitioned table's keys must hold the partition column; SpatiaLite keeps
    # the plain table with ``id`` alone. BRIN on time: a few pages per month, for the time ranges every read asks.
    __table_args__ = (UniqueConstraint("patrol_id", "time"),
                      Index("ix_gps_fix_time", "time", postgresql_using="brin"))


class PatrolDay(Base):
    """What one worker's GPS fixes of one local day said, per grid of her patrols (simulated ones apart): kept
    when the raw fixes are dropped (``gridpatrol gps retain``). ``track`` holds the day's lines (flagged fixes
    left out), one per patrol in the order of ``lines`` (patrol, started, ended, length_m); ``covered`` the street
    pieces and buildings within ``coverage_m`` of them (geo.coverage.covered_pieces: per grid code the runs of
    covered pieces, distance and time in µm / µs; building ids)."""

    __tablename__ = "patrol_day"
    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    patrols: Mapped[int] = mapped_column(Integer)
    fixes: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    walked_s: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)
    coverage_m: Mapped[float] = mapped_column(Float)
    lines: Mapped[str] = mapped_column(Text)
    covered: Mapped[str] = mapped_column(Text)
    track = mapped_column(Geometry("MULTILINESTRING", srid=SRID, spatial_index=True), nullable=True)
    summarised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: the raw fixes of this day are gone (``gridpatrol gps retain``): every read of the day uses this row
    raw_dropped: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (UniqueConstraint("worker_id", "day", "grid_id", "simulated"),)


class Visit(Base):
    """A household visit check-in at a building (入户走访)."""

    __tablename__ = "visit"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrol.id", ondelete="SET NULL"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"), index=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    geom = _point(nullable=True)


#: the WHERE of the partial indexes for 待评价/回访 (closed without a rating)
UNRATED = "rating IS NULL"


class Case(Base):
    """A case (案件) in the closed loop. ``status`` follows :mod:`patrol.cases.lifecycle`; ``level`` is where it is
    handled (grid → community → department); ``deadline_at`` is computed in working hours."""

    __tablename__ = "patrol_case"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    #: the case number people use (``2026-000123``: the local year it was reported, a sequence); set on insert
    number: Mapped[str | None] = mapped_column(String(20), unique=True, index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    level: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    geom = _point()
    input_crs: Mapped[str] = mapped_column(String(10), default="wgs84")
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id", ondelete="SET NULL"), index=True)
    floor: Mapped[str | None] = mapped_column(String(20))
    unit_no: Mapped[str | None] = mapped_column(String(20))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id", ondelete="SET NULL"))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id", ondelete="SET NULL"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    remaining_hours: Mapped[float | None] = mapped_column(Float)
    suspended_from: Mapped[str | None] = mapped_column(String(20))
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(Integer)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="SET NULL"))
    recurrence_of_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: when the server received it (``reported_at`` / ``at`` is when it happened, on the phone's clock within bounds)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: the device clock minus the server's at submission, in seconds
    clock_skew_s: Mapped[int | None] = mapped_column(Integer)
    #: why the device time was not taken as given: ``skew`` (clock disagrees), ``future`` / ``too_old`` (clamped)
    time_flag: Mapped[str | None] = mapped_column(String(20))
    #: the system a case came from and its number there: ``12345`` and the work-order number (工单编号), or a history
    #: import's source name and its row id; unique together, so a re-import updates instead of duplicating
    source: Mapped[str | None] = mapped_column(String(40))
    source_ref: Mapped[str | None] = mapped_column(String(80))
    #: sha256 of the resident's private follow-up link (/r/f/<token>); the token itself is never stored
    follow_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    #: the resident says it was solved (解决率): from her rating on the follow-up page or the hotline's 回访
    resident_solved: Mapped[bool | None] = mapped_column(Boolean)
    #: the 诉求清单 list a 研判 sorted it into (``patrol/data/demand_lists.csv``: 党建, 民政, 安全生产 …)
    demand_list: Mapped[str | None] = mapped_column(String(20))
    #: marked at 研判: a 重难点 (hard) case, a 信访 (petition) case — each has its own list on the desk
    key_case: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    petition: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: the H3 cell (resolution 9, ≈0.1 km²) of ``geom``, stored on insert so hotspots count in SQL (issue 23)
    h3_9: Mapped[str | None] = mapped_column(String(16), default=column_default)
    __table_args__ = (
        Index("ix_patrol_case_source_source_ref", "source", "source_ref", unique=True),
        Index("ix_patrol_case_channel_reported_at", "channel", "reported_at"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("level IN ('grid', 'community', 'department')", name="level"),
        # the desk's queues (patrol.cases.queues; migration 0008, measured in bench/bench_desk_queues.py)
        Index("ix_patrol_case_community_status_deadline", "community_id", "status", "deadline_at", "category_code"),
        Index("ix_patrol_case_status_deadline", "status", "deadline_at", "category_code"),
        Index("ix_patrol_case_status_level", "status", "level", "escalations"),
        Index("ix_patrol_case_unit_status", "unit_id", "status", "rework_count"),
        Index("ix_patrol_case_unrated_community", "community_id", "status", "reported_at",
              postgresql_where=text(UNRATED), sqlite_where=text(UNRATED)),
        Index("ix_patrol_case_unrated", "status", "reported_at",
              postgresql_where=text(UNRATED), sqlite_where=text(UNRATED)),
        # hotspots / emerging hot spots: a period's cases counted per stored cell from the index alone (issue 23,
        # migration 0016)
        Index("ix_patrol_case_reported_at_h3_9", "reported_at", "h3_9"),
        # a community's KPIs: its cases reported / due / closed in a period from one index each (migration 0019)
        Index("ix_patrol_case_community_reported_at", "community_id", "reported_at", postgresql_include=["id"]),
        Index("ix_patrol_case_community_deadline_at", "community_id", "deadline_at", postgresql_include=["id"]),
        Index("ix_patrol_case_community_closed_at", "community_id", "closed_at", postgresql_include=["id"]),
    )


@event.listens_for(Case, "before_update")
def _case_moved(mapper: object, connection: object, case: Case) -> None:
    """A case whose point moved gets the cell of the new point (inserts: the column default)."""
    if attributes.get_history(case, "geom").has_changes():
        case.h3_9 = point_h3(case.geom)


class CaseEvent(Base):
    """One immutable step of a case (全程留痕): who, when, where, what, with a note."""

    __tablename__ = "case_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("patrol_case.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    geom = _point(nullable=True)
    #: when the server received it (``reported_at`` / ``at`` is when it happened, on the phone's clock within bounds)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: the device clock minus the server's at submission, in seconds
    clock_skew_s: Mapped[int | None] = mapped_column(Integer)
    #: why the device time was not taken as given: ``skew`` (clock disagrees), ``future`` / ``too_old`` (clamped)
    time_flag: Mapped[str | None] = mapped_column(String(20))
    __table_args__ = (
        Index("ix_case_event_case_id_to_status_id", "case_id", "to_status", "id"),  # 被退回: the latest to a status
        Index("ix_case_event_action_case_id", "action", "case_id"),  # 已督办: the urged cases, a page's urges
    )


class Photo(Base):
    """A photo of a case (before / after); served without EXIF, the EXIF time and place kept here."""

    __tablename__ = "photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("patrol_case.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_event.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    exif_lon: Mapped[float | None] = mapped_column(Float)
    exif_lat: Mapped[float | None] = mapped_column(Float)
    #: where taken_at / exif_lon / exif_lat came from: ``exif`` (the file) or ``device`` (recorded at capture)
    taken_source: Mapped[str | None] = mapped_column(String(10))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    #: the file as uploaded, kept for evidence (``data`` is what is served)
    original: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class CaseTask(Base):
    """A department whistled in (吹哨报到) on a case: its own deadline, report-in time and result."""

    __tablename__ = "case_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("patrol_case.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("responsible_unit.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    deadline_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    report_in_by: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    reported_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("case_id", "unit_id"),)


class Revisit(Base):
    """回头看: a check some days after closure that the problem stays fixed."""

    __tablename__ = "revisit"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("patrol_case.id", ondelete="CASCADE"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(20))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    #: when the server received it (``done_at`` is when it was done on the phone)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Responsibility(Base):
    """Who handles what (like FixMyStreet's body × category contacts): category × level → a type of unit.

    ``category`` is a code (``B0109``), a prefix (``B01*``) or ``*``; the most specific rule wins and less specific
    ones are the fallback, each ordered by ``priority``. ``profile`` is how the unit travels (walk / drive)."""

    __tablename__ = "responsibility"
    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    unit_type: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(Integer, default=1)
    profile: Mapped[str] = mapped_column(String(10), default="drive")
    note_zh: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (
        UniqueConstraint("category", "level", "unit_type"),
        CheckConstraint("level IN ('grid', 'community', 'department')", name="level"),
        CheckConstraint("profile IN ('walk', 'drive')", name="profile"),
    )


class GridPlan(Base):
    """A version of the city's grids (网格调整方案). A planner edits a ``draft`` copied from the grids in force;
    publishing it writes its grids into ``grid`` (the grids in force) and makes it ``published``, the plan it
    replaces ``superseded``. Published and superseded plans are never changed: they are the history of the grids
    (which plan was in force when, see :mod:`patrol.plans.service`)."""

    __tablename__ = "grid_plan"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("grid_plan.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (CheckConstraint("status IN ('draft', 'published', 'superseded')", name="status"),)


class GridPlanGrid(Base):
    """One grid of a plan: what ``grid`` holds for it once the plan is published (matched by ``code``)."""

    __tablename__ = "grid_plan_grid"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plan.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    geom = _area()
    __table_args__ = (UniqueConstraint("plan_id", "code"),)


# ---------------------------------------------------------------------------------------------- field surveys


class Checklist(Base):
    """One version of an inspection checklist (隐患排查表) defined as data (see :mod:`patrol.surveys.checklists`).

    Loading a changed definition of the same ``code`` adds a version; inspections point at the exact version they
    were answered against, so old answers stay valid. ``definition`` is the validated definition as JSON."""

    __tablename__ = "checklist"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(20))
    frequency_days: Mapped[int | None] = mapped_column(Integer)
    definition: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("target IN ('building', 'shop', 'place')", name="target"),
    )


class Shop(Base):
    """A street-front business (沿街商户) in a building, with a stable code for the QR on its door (一户一码).
    ``code`` never changes, even when grids are redrawn: the grid is the building's."""

    __tablename__ = "shop"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(60))
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    licence_no: Mapped[str | None] = mapped_column(String(60))
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    geom = _point()


class Inspection(Base):
    """A checklist run at a building, a shop or a place (工地, 消防通道) by a grid worker. ``answers`` is JSON
    ``{item id: value}`` validated against ``checklist_id``'s version; ``grid_id`` is the grid at the time."""

    __tablename__ = "inspection"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id", ondelete="SET NULL"), index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id", ondelete="SET NULL"), index=True)
    place_name: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    answers: Mapped[str] = mapped_column(Text)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = _point(nullable=True)


class InspectionFinding(Base):
    """A failed checklist item and the case it opened for rectification by a deadline (限期整改)."""

    __tablename__ = "inspection_finding"
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(40))
    category_code: Mapped[str | None] = mapped_column(ForeignKey("category.code"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="SET NULL"), index=True)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class InspectionPhoto(Base):
    """A photo answering a checklist item; served without EXIF like case photos."""

    __tablename__ = "inspection_photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class Household(Base):
    """A household (户) of the 民情台账 register, in a building; its grid is the building's. Personal data: see
    :mod:`patrol.surveys.residents` for who may read it."""

    __tablename__ = "household"
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"), index=True)
    room: Mapped[str] = mapped_column(String(40))
    head_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    members: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    __table_args__ = (UniqueConstraint("building_id", "room"),)


class Resident(Base):
    """A resident of a household. Vulnerable residents (80+, disabled, living alone; 重点人员) carry a visit
    frequency; ``visit_every_days`` overrides the configured default."""

    __tablename__ = "resident"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disability: Mapped[str | None] = mapped_column(String(200))
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    health: Mapped[str | None] = mapped_column(Text)
    visit_every_days: Mapped[int | None] = mapped_column(Integer)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (CheckConstraint("visit_every_days IS NULL OR visit_every_days > 0", name="visit_every_positive"),)


class HouseholdVisit(Base):
    """Which household a visit (入户走访) was to: the visit of the patrol model, tied to the register."""

    __tablename__ = "household_visit"
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)


class ResidentNeed(Base):
    """One need or concern in the 民情台账 (education, medical care, housing, jobs, elderly care), raised at a visit and
    followed until resolved."""

    __tablename__ = "resident_need"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="SET NULL"), index=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    detail: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: who answers it (事事有着落) and by when (a local date)
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    #: the answer given to the resident (件件有回应) and when
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: the resident's word on the answer (:data:`FEEDBACK`)
    feedback: Mapped[str | None] = mapped_column(String(20))
    feedback_note: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (
        CheckConstraint("feedback IS NULL OR feedback IN ('satisfied', 'basically', 'dissatisfied')",
                        name="feedback"),
        CheckConstraint("type IN ('education', 'medical', 'housing', 'jobs', 'elderly_care', 'other')", name="type"),
        CheckConstraint("status IN ('open', 'in_progress', 'resolved')", name="status"),
    )


class ResidentAudit(Base):
    """Who read or changed which resident record, when and how (every read of personal data is logged)."""

    __tablename__ = "resident_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    household_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no foreign key: the trail outlives
    resident_id: Mapped[int | None] = mapped_column(Integer, index=True)   # the record
    via: Mapped[str] = mapped_column(String(100))
    #: a case whose reporter's contact (a resident's phone on the H5 page or a 12345 order) was read
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)


# ------------------------------------------------------------------------------- the people of the grid (issue 22)


class MicroGrid(Base):
    """微网格: a set of buildings inside a grid (tens of households) looked after by a 楼栋长 / 微网格员
    (``leader_id``, a ``building_lead`` user). ``plan_id`` None: in force; otherwise the micro-grids of that grid plan
    (a draft's are edited in the planner and come into force when it is published)."""

    __tablename__ = "micro_grid"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("grid_plan.id", ondelete="CASCADE"), index=True)
    #: the grid code + 2 digits (``…00101``); unique within a plan (or among those in force)
    code: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(200))
    grid_code: Mapped[str] = mapped_column(String(20), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    households: Mapped[int] = mapped_column(Integer, default=0)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = _area()
    __table_args__ = (UniqueConstraint("plan_id", "code"),)


class MicroGridBuilding(Base):
    """A building of a micro-grid (a building is in one micro-grid per plan, and in one in force)."""

    __tablename__ = "micro_grid_building"
    id: Mapped[int] = mapped_column(primary_key=True)
    micro_grid_id: Mapped[int] = mapped_column(ForeignKey("micro_grid.id", ondelete="CASCADE"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"), index=True)
    __table_args__ = (UniqueConstraint("micro_grid_id", "building_id"),)


class VolunteerTeam(Base):
    """A volunteer team of a community (和事佬调解队, 平安志愿者 …: ``kind`` in :data:`TEAM_KINDS`)."""

    __tablename__ = "volunteer_team"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    __table_args__ = (CheckConstraint("kind IN ('mediation', 'safety', 'service', 'other')", name="kind"),)


class TeamMember(Base):
    """A member of a volunteer team: a user (``user_id``) or a person without an account. ``phone`` is personal data
    (the team's community's desk only)."""

    __tablename__ = "team_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_team.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    role_in_team: Mapped[str | None] = mapped_column(String(40))  # 队长, 队员
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TeamTask(Base):
    """A task given to a volunteer team (a patrol of a night market, a mediation, a visit), optionally for a case."""

    __tablename__ = "team_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_team.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="SET NULL"), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class ServiceMember(Base):
    """网格服务专员 and 双报到 (``kind`` in :data:`SERVICE_MEMBER_KINDS`): a party member or a unit reporting to the
    community, with the services pledged (``pledges``) and, for a person, a grid. ``phone`` is personal data."""

    __tablename__ = "service_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    pledges: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    __table_args__ = (CheckConstraint("kind IN ('liaison', 'party_member', 'unit')", name="kind"),)


class ServicePairing(Base):
    """A service member paired with a (vulnerable) household (结对帮扶), from ``since`` until ``until``."""

    __tablename__ = "service_pairing"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("service_member.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    since: Mapped[dt.date] = mapped_column(Date)
    until: Mapped[dt.date | None] = mapped_column(Date)


class ServiceRecord(Base):
    """One service done by a service member (a monthly visit, a repair, a talk), for a household or the grid."""

    __tablename__ = "service_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("service_member.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id", ondelete="SET NULL"), index=True)
    on: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    hours: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class CaseAssessment(Base):
    """研判: a case sorted into the city's 诉求清单 (``demand_list``), its level decided with a reason, marked 重难点 /
    信访, and whether it needs the residents' agreement first (``needs_meeting``: dispatch waits for a 议事 decision).
    The latest one counts; the earlier ones are the record."""

    __tablename__ = "case_assessment"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("patrol_case.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_event.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), default="comprehensive")
    demand_list: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    key_case: Mapped[bool] = mapped_column(Boolean, default=False)
    petition: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_meeting: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    __table_args__ = (
        CheckConstraint("kind IN ('comprehensive', 'special')", name="kind"),
        CheckConstraint("level IN ('grid', 'community', 'department')", name="level"),
    )


class Meeting(Base):
    """协商议事: a meeting of a community on a topic (问需会, 流动民主日, 议事会 …: ``kind`` free text from a list in
    :mod:`patrol.cases.meetings`), with its options, its decision and the vote when one was taken. Cases and needs
    are linked by :class:`MeetingLink` (topics, and follow-up cases created from the decision)."""

    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: what people call it: ``YS2026-0007`` (议事, the local year, a sequence)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    place: Mapped[str | None] = mapped_column(String(200))
    participants: Mapped[int | None] = mapped_column(Integer)
    representatives: Mapped[int | None] = mapped_column(Integer)  # 居民代表
    #: the options put to the meeting, JSON ``["…", "…"]``
    options: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(Text)
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    votes_abstain: Mapped[int | None] = mapped_column(Integer)
    minutes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'held', 'decided', 'cancelled')", name="status"),
        CheckConstraint("participants IS NULL OR participants >= 0", name="participants_non_negative"),
    )


class MeetingLink(Base):
    """A case or a need on a meeting's agenda (``role`` ``topic``) or created from its decision (``follow_up``)."""

    __tablename__ = "meeting_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="CASCADE"), index=True)
    need_id: Mapped[int | None] = mapped_column(ForeignKey("resident_need.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="topic")
    __table_args__ = (CheckConstraint("role IN ('topic', 'follow_up')", name="role"),)


class Mediation(Base):
    """调解 of a dispute case: the mediator (a user or a team), the outcome (:data:`MEDIATION_OUTCOMES`), the
    agreement and its follow-up. Parties and sessions are in their own tables; parties are personal data."""

    __tablename__ = "mediation"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("patrol_case.id", ondelete="CASCADE"), unique=True)
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_team.id", ondelete="SET NULL"), index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="open", index=True)
    agreement: Mapped[str | None] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    follow_up_on: Mapped[dt.date | None] = mapped_column(Date)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (CheckConstraint("outcome IN ('open', 'agreed', 'failed', 'referred')", name="outcome"),)


class MediationParty(Base):
    """A party to a mediation (申请人 / 被申请人 …): personal data, read like the register (the case's grid worker and
    community supervisor, reads audited)."""

    __tablename__ = "mediation_party"
    id: Mapped[int] = mapped_column(primary_key=True)
    mediation_id: Mapped[int] = mapped_column(ForeignKey("mediation.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[str | None] = mapped_column(String(40))


class MediationSession(Base):
    """One sitting of a mediation: when, where, who mediated, what was said (a staff note: never public)."""

    __tablename__ = "mediation_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    mediation_id: Mapped[int] = mapped_column(ForeignKey("mediation.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    place: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))


HOTLINE_STATES = ("pending", "placed")


class HotlineOrder(Base):
    """A 12345 work order (工单) as the hotline platform sent it (imported file or pushed JSON). An order whose address
    matched one building becomes a case at once (``placed``); one that matched none or several waits in the desk's
    待定位 queue (``pending``, ``candidates`` holding the best guesses) until a supervisor places it on the map, which
    creates its case. ``contact_*`` is personal data (the case's community's desk only, reads audited)."""

    __tablename__ = "hotline_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(80), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    category_code: Mapped[str | None] = mapped_column(ForeignKey("category.code"))
    category_text: Mapped[str | None] = mapped_column(String(200))  # 诉求分类 as the hotline wrote it
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    subdistrict_text: Mapped[str | None] = mapped_column(String(200))  # 所属街道 as written
    urgency: Mapped[str | None] = mapped_column(String(20))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    #: the address match: the best score (0–1) and the candidates as JSON ``[{"building_id", "score", "label"}]``
    match_score: Mapped[float | None] = mapped_column(Float)
    candidates: Mapped[str | None] = mapped_column(Text)
    #: the scope of a pending order on the desk (from 所属街道 / the community named in the address), when known
    subdistrict_id: Mapped[int | None] = mapped_column(ForeignKey("subdistrict.id", ondelete="SET NULL"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="SET NULL"), unique=True)
    #: the order's row as received (JSON), for the record and a re-match
    raw: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    __table_args__ = (CheckConstraint("state IN ('pending', 'placed')", name="state"),)


NOTIFY_KINDS = ("email", "webhook", "wecom", "dingtalk")
OUTBOX_STATES = ("pending", "sending", "sent", "dead")


class Notice(Base):
    """A message to one user about a case (dispatched to you, returned, urged, nearing its deadline …): what the
    in-app bell shows. ``dedupe_key`` makes emitting the same notice twice (a retried job) write it once."""

    __tablename__ = "notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow, index=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)


class NotifyChannel(Base):
    """Where a user's or a unit's notices are also sent: an e-mail address, a webhook URL (plain JSON), or a WeCom
    / DingTalk group robot URL (their message shapes)."""

    __tablename__ = "notify_channel"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    __table_args__ = (
        CheckConstraint("kind IN ('email', 'webhook', 'wecom', 'dingtalk')", name="kind"),
        CheckConstraint("user_id IS NOT NULL OR unit_id IS NOT NULL", name="owner"),
    )


class Outbox(Base):
    """One message to deliver through one channel (the durable outbox): written in the transaction of the change it
    reports, delivered later with retries and backoff; ``dedupe_key`` keeps it single, ``lease_until`` lets a crashed
    sender's claim expire."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id", ondelete="SET NULL"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("notify_channel.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_case.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(500))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow, index=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'dead')", name="status"),
    )


class RefreshToken(Base):
    """One refresh token of a login session (a *family*: the tokens that rotation chains from one login). Only the
    token's SHA-256 is stored. Refreshing marks the token used and issues the next one of the family, never past the
    family's ``absolute_expires_at``; presenting a used token again (reuse: a stolen copy) revokes the whole family.
    Access tokens carry the family as ``sid`` and are refused once it is revoked."""

    __tablename__ = "refresh_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    absolute_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    replaced_by: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: the client's address and user agent at login (shown to the user or an admin, never used to decide)
    address: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(200))


class LoginAttempt(Base):
    """One login attempt (never the password): what throttling counts (failures per user name and per address in a
    window) and the audit of failures (``gridpatrol users audit``). ``username`` is the name as typed, cut to 80
    characters; ``reason`` says why one failed (wrong_password, unknown_user, disabled)."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow, index=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(20))
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )


#: the partial index's condition on each database, as SQLAlchemy writes ``CaseKpiFact.simple.is_(False)``
#: the per-day sums of ``case_kpi_day`` (migration 0021): the features of ``patrol.analytics.kpis_fast._features``
#: but the snapshot
DAY_SUMS = ("received", "self_handled", "handled_in_p", "settled_in_grid_rate_num", "registered", "rejected", "merged",
            "closed", "escalated", "suspended", "urges", "urged", "closure_rate_num", "on_time_closed",
            "late_closed", "due_unclosed", "rework_rate_num", "reopen_rate_num", "rated", "satisfied",
            "dissatisfied", "ratings_unknown", "handle_hours_sum", "handle_n", "close_hours_sum", "close_n")
FACT_COMPLEX = "simple IS false"
FACT_COMPLEX_SQLITE = "simple IS 0"


class CaseKpiFact(Base):
    """The steps of one case the KPIs read (issue 23, :mod:`patrol.analytics.summaries`): kept by database triggers
    on ``case_event`` (migration 0017), rebuilt by ``gridpatrol db rebuild-summaries``. ``simple``: the case's
    history lets every KPI be read from these instants exactly (else the KPIs read its events); the working hours
    (``handle_hours``, ``close_hours``, for the calendar ``hours_cal``) are filled by Python, NULL until then."""

    __tablename__ = "case_kpi_fact"
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    simple: Mapped[bool] = mapped_column(Boolean)
    first_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # NULL: a case without steps (0021)
    last_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    register_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reject_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    merge_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    close_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    suspend_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resume_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    rate_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    handle_first_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    handle_last_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    escalate_first_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    escalate_last_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    urge_first_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    urge_last_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    urge_n: Mapped[int] = mapped_column(Integer)
    handle_before_close_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    rework_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    final_status: Mapped[str | None] = mapped_column(String(20))
    final_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    susp_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    unsusp_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    handle_hours: Mapped[float | None] = mapped_column(Float)
    close_hours: Mapped[float | None] = mapped_column(Float)
    hours_cal: Mapped[str | None] = mapped_column(String(16))
    # the case's place (migration 0019), kept by the upsert and by a trigger on patrol_case when a case moves
    community_id: Mapped[int | None] = mapped_column(Integer)
    grid_id: Mapped[int | None] = mapped_column(Integer)
    # the case's span (migration 0021; PostgreSQL only, NULL on SQLite): its first and last instant (steps,
    # reported, deadline, closed) and the local day of the first, the key of case_kpi_day; a GiST index on
    # tstzrange(span_lo, span_hi, '[]') finds the cases that straddle a period's bound
    span_lo: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    span_hi: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    span_day: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        # the fact rows of a (day, community, grid) row of case_kpi_day, and the cases not final by now (snapshot)
        Index("ix_case_kpi_fact_span_day", "span_day", "community_id", "grid_id"),
        Index("ix_case_kpi_fact_final_at", "final_at"),
        # covering on PostgreSQL (index-only scans): the candidates of a community's period read no table page
        Index("ix_case_kpi_fact_community_last_at", "community_id", "last_at",
              postgresql_include=["first_at", "case_id"]),
        Index("ix_case_kpi_fact_grid_last_at", "grid_id", "last_at", postgresql_include=["first_at", "case_id"]),
        # the few cases the KPIs read from their events, per community (kpis_fast's pandas part)
        Index("ix_case_kpi_fact_complex", "community_id",
              postgresql_where=text(FACT_COMPLEX), sqlite_where=text(FACT_COMPLEX_SQLITE)),
        # simple closed cases whose working hours are missing or for another calendar
        Index("ix_case_kpi_fact_hours", "hours_cal", "close_at"),
    )


class CaseKpiDay(Base):
    """Per local day, community and grid (0 for none), the KPI features summed over the simple cases whose span
    begins that day, each counted as if the period held its whole life (issue 23, PostgreSQL only:
    :mod:`patrol.analytics.kpi_days_sql`, kept by triggers on ``case_kpi_fact``; empty on SQLite). ``cal_lo`` /
    ``cal_hi``: the calendars of the stored working hours of its closed cases. A long period's KPIs add the days it
    holds (:mod:`patrol.analytics.kpis_days`)."""

    __tablename__ = "case_kpi_day"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    grid_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer)
    cal_lo: Mapped[str | None] = mapped_column(String(16))
    cal_hi: Mapped[str | None] = mapped_column(String(16))


for _name in DAY_SUMS:  # one column per summed feature
    _column = Column(_name, Float if _name.endswith("hours_sum") else Integer, nullable=False)
    CaseKpiDay.__table__.append_column(_column)
    CaseKpiDay.__mapper__.add_property(_name, _column)
del _name, _column


class CaseKpiDayMeta(Base):
    """The time zone whose local days key ``case_kpi_day`` (one row; migration 0021)."""

    __tablename__ = "case_kpi_day_meta"
    tz: Mapped[str] = mapped_column(String(64), primary_key=True)


class CaseMapCell(Base):
    """The cases map's clusters at city scale (issue 23, :mod:`patrol.cases.map_cells`): per cell of the base zoom's
    lon/lat grid (``gx``, ``gy``: the cell index of zoom 15, computed as the map's live query computes it), final
    status and the columns the map's scopes and filters read (0 for none), the count of the cases in a final status
    (closed, rejected, duplicate: never overdue) and the sums of their lon and lat. Kept by database triggers on
    ``patrol_case`` (migration 0020), rebuilt by ``gridpatrol db rebuild-summaries``."""

    __tablename__ = "case_map_cell"
    gx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    gy: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    grid_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer)
    sx: Mapped[float] = mapped_column(Float)
    sy: Mapped[float] = mapped_column(Float)
