"""The persistent model: SQLAlchemy 2 typed mappings with GeoAlchemy2 geometries, the same on SpatiaLite and PostGIS.

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
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4326
ROLES = ("grid_worker", "supervisor", "department", "planner", "admin")
LEVELS = ("grid", "community", "department")
CATEGORY_KINDS = ("component", "event")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _area() -> Mapped:
    return mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class City(Base):
    """The city this database serves (one row): its name, the metric CRS for its metric work, its district code."""

    __tablename__ = "city"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    metric_epsg: Mapped[int] = mapped_column(Integer)
    district_code: Mapped[str] = mapped_column(String(6), default="000000")
    source: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)


class Subdistrict(Base):
    """街道 subdistrict."""

    __tablename__ = "subdistrict"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
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
    code: Mapped[str] = mapped_column(String(3))
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
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (
        CheckConstraint("role IN ('grid_worker', 'supervisor', 'department', 'planner', 'admin')", name="role"),
    )
