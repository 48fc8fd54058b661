"""Working-time arithmetic for case deadlines (工作时限): deadlines counted in working hours, not clock hours.

Chinese city management gives case deadlines in working hours ("4 个工作时"): the clock only runs inside the
working periods of working days. By default those are Monday to Friday, 08:30-12:00 and 13:30-17:30 (7.5 hours a
day) in the city's time zone; public holidays are not working days and make-up working days (调休, e.g. a Saturday
that is worked) are working days even on a weekend.

A :class:`WorkCalendar` holds one such arrangement. Every datetime it accepts must be timezone-aware and is
converted to the calendar's time zone first; every datetime it returns is aware and in that time zone. Durations
are computed exactly as elapsed time (``timedelta``, in UTC, so a daylight-saving change inside a working period
counts as the time that really passed); only :meth:`WorkCalendar.working_hours_between` converts to float hours.

``CHINA_2025`` is the official 2025 arrangement of mainland China. Holidays are published by the State Council
year by year, so a city supplies its own (and next year's) dates through configuration, e.g.
``WorkCalendar.from_text(holidays="2026-10-01..2026-10-07", workdays="2026-10-10")``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from patrol.core.errors import InvalidInput
from patrol.core.settings import Settings

__all__ = ["CHINA_2025", "WorkCalendar"]

_ONE_DAY = timedelta(days=1)
_ONE_HOUR = timedelta(hours=1)
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

Period = tuple[time, time]


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M:%S") if t.second or t.microsecond else t.strftime("%H:%M")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"timezone: {name!r} is not a known IANA time zone (e.g. 'Asia/Shanghai')") from None


def _parse_time(text: str, whole: str) -> time:
    m = _TIME_RE.fullmatch(text.strip())
    hour, minute = (int(m.group(1)), int(m.group(2))) if m else (-1, -1)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"periods: {whole!r} is not a period HH:MM-HH:MM (bad time {text.strip()!r})")
    return time(hour, minute)


def _parse_periods(text: str) -> tuple[Period, ...]:
    periods: list[Period] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part.count("-") != 1:
            raise ValueError(f"periods: {part!r} is not a period HH:MM-HH:MM")
        start, end = part.split("-")
        periods.append((_parse_time(start, part), _parse_time(end, part)))
    return tuple(periods)


def _parse_date(text: str, field: str) -> date:
    text = text.strip()
    try:
        if not _DATE_RE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a date (expected YYYY-MM-DD)") from None


def _parse_dates(text: str, field: str) -> frozenset[date]:
    days: set[date] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if ".." in part:
            first_text, _, last_text = part.partition("..")
            first, last = _parse_date(first_text, field), _parse_date(last_text, field)
            if last < first:
                raise ValueError(f"{field}: range {part!r} ends before it starts")
            days.update(first + timedelta(days=i) for i in range((last - first).days + 1))
        else:
            days.add(_parse_date(part, field))
    return frozenset(days)


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and working periods of a city, and deadline arithmetic in working hours.

    Parameters
    ----------
    periods : tuple of (datetime.time, datetime.time)
        The working periods of a working day, in local wall-clock time, each half-open ``[start, end)``;
        increasing and non-overlapping. Default: 08:30-12:00 and 13:30-17:30.
    weekdays : frozenset of int
        The days of the week that are working days (Monday = 0 ... Sunday = 6). Default: Monday to Friday.
    holidays : frozenset of datetime.date
        Public holidays: never working days, whatever the weekday.
    workdays : frozenset of datetime.date
        Make-up working days (调休): working days even when their weekday is not in ``weekdays``.
    timezone : str
        IANA time zone of the city, in which periods and dates are read. Default: ``"Asia/Shanghai"``.

    Raises
    ------
    ValueError
        If the periods are empty, reversed or overlapping, a weekday is outside 0-6, a date is both a holiday and
        a make-up working day, or the time zone is unknown.
    """

    periods: tuple[Period, ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        # Accept any iterables (lists, sets) but store the immutable, hashable forms the annotations promise.
        object.__setattr__(self, "periods", tuple((start, end) for start, end in self.periods))
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        if not self.periods:
            raise ValueError("periods: at least one working period is required")
        previous: Period | None = None
        for start, end in self.periods:
            if not (isinstance(start, time) and isinstance(end, time)):
                raise TypeError(f"periods: ({start!r}, {end!r}) is not a pair of datetime.time")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("periods: times must be naive wall-clock times (the calendar has the time zone)")
            if end <= start:
                raise ValueError(f"periods: '{_hhmm(start)}-{_hhmm(end)}' does not end after it starts")
            if previous is not None and start < previous[1]:
                raise ValueError(f"periods: '{_hhmm(start)}-{_hhmm(end)}' overlaps or comes before "
                                 f"'{_hhmm(previous[0])}-{_hhmm(previous[1])}' (periods must be increasing "
                                 "and non-overlapping)")
            previous = (start, end)
        bad = sorted(d for d in self.weekdays if not (isinstance(d, int) and 0 <= d <= 6))
        if bad:
            raise ValueError(f"weekdays: {bad} are not weekday numbers 0 (Monday) to 6 (Sunday)")
        both = sorted(self.holidays & self.workdays)
        if both:
            raise ValueError(f"holidays and workdays both contain {', '.join(d.isoformat() for d in both)}")
        _zone(self.timezone)
        # each day's working periods as UTC instants, computed once per day (a KPI read asks for the same days
        # tens of thousands of times); not a field: equality and hashing ignore it
        object.__setattr__(self, "_day_intervals", {})
        object.__setattr__(self, "_day_totals", {})

    @classmethod
    def from_text(cls, *, periods: str = "08:30-12:00,13:30-17:30", holidays: str = "", workdays: str = "",
                  timezone: str = "Asia/Shanghai") -> WorkCalendar:
        """Build a calendar from configuration text.

        Parameters
        ----------
        periods : str
            Comma-separated working periods ``HH:MM-HH:MM``, e.g. ``"08:30-12:00,13:30-17:30"``.
        holidays : str
            Comma-separated ISO dates or inclusive ranges, e.g. ``"2026-01-01,2026-10-01..2026-10-08"``.
            Blank items are ignored.
        workdays : str
            Make-up working days, in the same form as ``holidays``.
        timezone : str
            IANA time zone of the city.

        Returns
        -------
        WorkCalendar
            The calendar, working Monday to Friday.

        Raises
        ------
        ValueError
            If any part of the text is malformed; the message names the setting and the bad part, e.g.
            ``"holidays: '2026-13-01' is not a date (expected YYYY-MM-DD)"``.
        """
        return cls(periods=_parse_periods(periods), holidays=_parse_dates(holidays, "holidays"),
                   workdays=_parse_dates(workdays, "workdays"), timezone=timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone as a ``ZoneInfo``."""
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day.

        Parameters
        ----------
        day : datetime.date
            A calendar date. An aware ``datetime`` is also accepted and means its local date in the calendar's
            time zone.

        Returns
        -------
        bool
            False on holidays, True on make-up working days, otherwise whether its weekday is a working weekday.
        """
        if isinstance(day, datetime):
            day = _aware(day, "day").astimezone(self.zone).date()
        if day in self.holidays:
            return False
        return day in self.workdays or day.weekday() in self.weekdays

    def is_working_time(self, t: datetime) -> bool:
        """Whether the moment ``t`` lies inside a working period of a working day.

        Parameters
        ----------
        t : datetime.datetime
            A timezone-aware moment.

        Returns
        -------
        bool
            True if ``start <= t < end`` for one of the working periods of its local date (periods are half-open,
            so 12:00 and 17:30 are not working time by default).

        Raises
        ------
        ValueError
            If ``t`` is naive.
        """
        instant = _aware(t, "t").astimezone(UTC)
        local_day = instant.astimezone(self.zone).date()
        return any(start <= instant < end for start, end in self._intervals(local_day))

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The deadline: the moment when ``hours`` working hours have elapsed after ``start``.

        Parameters
        ----------
        start : datetime.datetime
            A timezone-aware moment (e.g. when a case was reported). Outside working time the count starts at the
            next working period.
        hours : float
            Working hours to add, >= 0. Zero gives the next working moment at or after ``start`` (``start``
            itself when it is working time).

        Returns
        -------
        datetime.datetime
            An aware datetime in the calendar's time zone. A deadline that uses up a period exactly is that
            period's end (e.g. 12:00), not the start of the next one.

        Raises
        ------
        ValueError
            If ``start`` is naive, ``hours`` is negative or not finite, or the calendar runs out of working days.
        """
        _aware(start, "start")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)):
            raise TypeError(f"hours must be a number, got {type(hours).__name__}")
        if not math.isfinite(hours):
            raise ValueError(f"hours must be a finite number, got {hours!r}")
        if hours < 0:
            raise ValueError(f"hours must not be negative, got {hours!r}")
        remaining = timedelta(hours=hours)
        now = start.astimezone(UTC)
        for day in self._working_days_from(now.astimezone(self.zone).date()):
            intervals = self._intervals(day)
            if intervals and intervals[0][0] >= now:
                # The whole day lies ahead: skip it in one step when it does not reach the deadline.
                total = sum((end - begin for begin, end in intervals), timedelta())
                if remaining > total:
                    remaining -= total
                    continue
            for begin, end in intervals:
                begin = max(begin, now)
                if end <= begin:
                    continue
                if remaining <= end - begin:
                    return (begin + remaining).astimezone(self.zone)
                remaining -= end - begin
        raise AssertionError("unreachable: _working_days_from ends by raising")  # pragma: no cover

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours in the half-open interval ``[a, b)``.

        Parameters
        ----------
        a, b : datetime.datetime
            Timezone-aware moments.

        Returns
        -------
        float
            The working hours between them; negative when ``b < a`` (``-working_hours_between(b, a)``).

        Raises
        ------
        ValueError
            If ``a`` or ``b`` is naive.
        """
        first, last = _aware(a, "a").astimezone(UTC), _aware(b, "b").astimezone(UTC)
        if last < first:
            return -(self._between(last, first) / _ONE_HOUR)
        return self._between(first, last) / _ONE_HOUR

    # -- internals ---------------------------------------------------------------------------------------------

    def _between(self, first: datetime, last: datetime) -> timedelta:
        """Exact working time in ``[first, last)``, both UTC, ``first <= last``."""
        total = timedelta()
        first_day, last_day = first.astimezone(self.zone).date(), last.astimezone(self.zone).date()
        day = first_day
        while day <= last_day:
            if first_day < day < last_day:  # wholly inside: its whole working time
                total += self._day_total(day)
            else:
                for begin, end in self._intervals(day):
                    overlap = min(end, last) - max(begin, first)
                    if overlap > timedelta():
                        total += overlap
            day += _ONE_DAY
        return total

    def _day_total(self, day: date) -> timedelta:
        """The working time of ``day`` (exact: a sum of whole microseconds, as the overlaps would give)."""
        totals: dict[date, timedelta] = self._day_totals  # type: ignore[attr-defined]
        found = totals.get(day)
        if found is None:
            found = totals[day] = sum((end - begin for begin, end in self._intervals(day)), timedelta())
        return found

    def _intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working periods of ``day`` as UTC instants (empty on non-working days), never going backwards."""
        cache: dict[date, tuple[tuple[datetime, datetime], ...]] = self._day_intervals  # type: ignore[attr-defined]
        found = cache.get(day)
        if found is None:
            found = cache[day] = tuple(self._compute_intervals(day))
        return found

    def _compute_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        zone, out = self.zone, []
        floor: datetime | None = None
        for start, end in self.periods:
            begin = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
            finish = datetime.combine(day, end, tzinfo=zone).astimezone(UTC)
            if floor is not None:  # a daylight-saving gap can map wall times backwards; keep intervals ordered
                begin, finish = max(begin, floor), max(finish, floor)
            out.append((begin, finish))
            floor = finish
        return out

    def _working_days_from(self, day: date) -> Iterator[date]:
        """Working days from ``day`` on; raises ValueError once none can follow (no working weekdays)."""
        last = None
        if not self.weekdays:
            last = max(self.workdays, default=None)
            if last is None:
                raise ValueError("calendar has no working days (no working weekdays and no make-up workdays)")
        while True:
            if last is not None and day > last:
                raise ValueError(f"calendar has no working days after {last.isoformat()} (no working weekdays), "
                                 "so the working hours cannot be reached")
            if self.is_working_day(day):
                yield day
            day += _ONE_DAY


CHINA_2025 = WorkCalendar.from_text(
    holidays=(
        "2025-01-01,"                # 元旦 New Year's Day
        "2025-01-28..2025-02-04,"    # 春节 Spring Festival
        "2025-04-04..2025-04-06,"    # 清明节 Qingming
        "2025-05-01..2025-05-05,"    # 劳动节 Labour Day
        "2025-05-31..2025-06-02,"    # 端午节 Dragon Boat Festival
        "2025-10-01..2025-10-08"     # 国庆节、中秋节 National Day and Mid-Autumn
    ),
    workdays=(
        "2025-01-26,2025-02-08,"     # 春节调休 (Sunday, Saturday)
        "2025-04-27,"                # 劳动节调休 (Sunday)
        "2025-09-28,2025-10-11"      # 国庆节调休 (Sunday, Saturday)
    ),
)
"""Mainland China's official 2025 arrangement (国务院办公厅关于2025年部分节假日安排的通知), default periods.

This is the 2025 calendar, not 2026: holidays are announced by the State Council each year, and a city replaces
this constant with its own dates through configuration (:meth:`WorkCalendar.from_text`).
"""


def local_today(timezone: str, now: datetime | None = None) -> date:
    """Today's date in the city's timezone (due dates and months are calendar days where the city is)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


def month_bounds(month: str | None, timezone: str, *, today: date | None = None) -> tuple[str, datetime, datetime]:
    """``("YYYY-MM", start, end)`` of a calendar month in the city's timezone, end exclusive (default: the month of
    ``today``, itself by default today in the city). A malformed month is an InvalidInput on ``month``."""
    zone = ZoneInfo(timezone)
    if month is None:
        today = today or local_today(timezone)
        year, mon = today.year, today.month
    else:
        m = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise InvalidInput(f"month must be YYYY-MM, e.g. 2026-11, got {month!r}", field="month")
        year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return f"{year:04d}-{mon:02d}", start, end


@lru_cache(maxsize=8)
def _calendar(periods: str, holidays: str, workdays: str, timezone: str) -> WorkCalendar:
    return WorkCalendar.from_text(periods=periods, holidays=holidays, workdays=workdays, timezone=timezone)


def calendar(settings: Settings) -> WorkCalendar:
    """The working calendar configured for the city (deadlines are in working hours); built once per setting."""
    try:
        return _calendar(settings.work_periods, settings.holidays, settings.workdays, settings.timezone)
    except ValueError as exc:
        raise InvalidInput(f"working calendar: {exc}", field="holidays") from exc
