"""Working-hour deadlines (patrol.cases.worktime): every expected value below is worked out by hand in the comments.

Default calendar: Monday-Friday, 08:30-12:00 (3.5 h) and 13:30-17:30 (4 h), 7.5 h a day, Asia/Shanghai (UTC+8).
March 2025 has no Chinese public holiday: 2025-03-07 is a Friday, 03-08 Saturday, 03-10 Monday.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from patrol.cases.worktime import CHINA_2025, WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


# -- add_working_hours -----------------------------------------------------------------------------------------


def test_four_hours_from_friday_afternoon_land_monday_morning():
    # Fri 16:00-17:30 uses 1.5 h; the weekend is skipped; Mon 08:30 + the remaining 2.5 h = 11:00.
    assert CAL.add_working_hours(at(2025, 3, 7, 16), 4) == at(2025, 3, 10, 11)


def test_deadline_crosses_the_lunch_break():
    # 11:00-12:00 is 1 h; 12:00-13:30 is lunch; the second hour runs 13:30-14:30.
    assert CAL.add_working_hours(at(2025, 3, 5, 11), 2) == at(2025, 3, 5, 14, 30)


def test_deadline_that_uses_up_a_period_is_the_period_end():
    # 11:00 + 1 h is exactly 12:00: the deadline is the end of the morning, not 13:30.
    assert CAL.add_working_hours(at(2025, 3, 5, 11), 1) == at(2025, 3, 5, 12)


def test_report_on_saturday_counts_from_monday_morning():
    # Saturday is not a working day: the clock starts Monday 08:30; 3 h later is 11:30.
    assert CAL.add_working_hours(at(2025, 3, 8, 10), 3) == at(2025, 3, 10, 11, 30)
    # Reported in the lunch break: the clock starts at 13:30; 13:30 + 1 h = 14:30.
    assert CAL.add_working_hours(at(2025, 3, 5, 12, 45), 1) == at(2025, 3, 5, 14, 30)


def test_public_holiday_is_skipped():
    # Wed 2025-04-30 16:00-17:30 uses 1.5 h; 1-5 May (劳动节) are holidays, the 3rd and 4th also a weekend;
    # Tue 05-06 08:30 + 2.5 h = 11:00.
    assert CHINA_2025.add_working_hours(at(2025, 4, 30, 16), 4) == at(2025, 5, 6, 11)
    # The plain calendar (no holidays) would finish on Thu 05-01 at 11:00 instead.
    assert CAL.add_working_hours(at(2025, 4, 30, 16), 4) == at(2025, 5, 1, 11)
    # 国庆: Tue 09-30 16:00 uses 1.5 h, 1-8 Oct are holidays, Thu 10-09 08:30 + 2.5 h = 11:00.
    assert CHINA_2025.add_working_hours(at(2025, 9, 30, 16), 4) == at(2025, 10, 9, 11)


def test_make_up_working_days_are_counted():
    # Sat 2025-10-11 is a make-up working day (调休): Fri 10-10 16:00 uses 1.5 h, Sat 08:30 + 2.5 h = 11:00.
    assert CHINA_2025.add_working_hours(at(2025, 10, 10, 16), 4) == at(2025, 10, 11, 11)
    # Sun 2025-09-28 is one too, Sat 09-27 is not: Fri 09-26 16:00 + 4 h = Sun 09-28 11:00.
    assert CHINA_2025.add_working_hours(at(2025, 9, 26, 16), 4) == at(2025, 9, 28, 11)
    # A report on the make-up Saturday itself starts at once: 09:00 + 1 h = 10:00.
    assert CHINA_2025.add_working_hours(at(2025, 10, 11, 9), 1) == at(2025, 10, 11, 10)


def test_zero_hours_is_the_next_working_moment():
    inside = at(2025, 3, 5, 9, 17)
    assert CAL.add_working_hours(inside, 0) == inside           # inside working time: start itself
    assert CAL.add_working_hours(at(2025, 3, 5, 8, 30), 0) == at(2025, 3, 5, 8, 30)   # a period start is inside
    assert CAL.add_working_hours(at(2025, 3, 5, 12), 0) == at(2025, 3, 5, 13, 30)     # 12:00 is not (half-open)
    assert CAL.add_working_hours(at(2025, 3, 5, 12, 30), 0) == at(2025, 3, 5, 13, 30)  # lunch -> 13:30
    assert CAL.add_working_hours(at(2025, 3, 5, 6), 0) == at(2025, 3, 5, 8, 30)        # early morning -> 08:30
    assert CAL.add_working_hours(at(2025, 3, 7, 18), 0) == at(2025, 3, 10, 8, 30)      # Friday evening -> Monday
    assert CAL.add_working_hours(at(2025, 3, 9, 23, 59), 0) == at(2025, 3, 10, 8, 30)  # Sunday night -> Monday


def test_large_hours_are_exact():
    start = at(2025, 3, 3, 8, 30)  # a Monday morning
    # 75 h = 10 working days of 7.5 h: Mon 03-03..Fri 03-07 and Mon 03-10..Fri 03-14, ending Fri 17:30.
    assert CAL.add_working_hours(start, 75) == at(2025, 3, 14, 17, 30)
    # 720 h = 96 working days = 19 whole weeks (95 days, Mon 03-03..Fri 07-11) + Mon 07-14; ends 07-14 17:30.
    assert CAL.add_working_hours(start, 720) == at(2025, 7, 14, 17, 30)
    # 75.5 h: the 10 days plus half an hour of Mon 03-17: 09:00.
    assert CAL.add_working_hours(start, 75.5) == at(2025, 3, 17, 9)


def test_result_is_aware_in_the_calendar_zone():
    result = CAL.add_working_hours(at(2025, 3, 5, 9, tz=ZoneInfo("UTC")), 1)
    assert result.tzinfo == SH
    assert result.utcoffset() == timedelta(hours=8)


def test_utc_input_is_read_in_shanghai_time():
    # 2025-03-07 08:00 UTC is Friday 16:00 in Shanghai, so this is the Friday example: Monday 11:00 local,
    # which is Monday 03:00 UTC.
    result = CAL.add_working_hours(datetime(2025, 3, 7, 8, tzinfo=UTC), 4)
    assert result == at(2025, 3, 10, 11)
    assert result.astimezone(UTC) == datetime(2025, 3, 10, 3, tzinfo=UTC)
    assert (result.hour, result.minute) == (11, 0)
    # 01:00 UTC is 09:00 local (working), 04:30 UTC is 12:30 local (lunch), 10:00 UTC is 18:00 local.
    assert CAL.is_working_time(datetime(2025, 3, 5, 1, tzinfo=UTC))
    assert not CAL.is_working_time(datetime(2025, 3, 5, 4, 30, tzinfo=UTC))
    assert not CAL.is_working_time(datetime(2025, 3, 5, 10, tzinfo=UTC))
    # Thursday 20:00 UTC is already Friday 04:00 in Shanghai: the clock starts Fri 08:30, + 1 h = 09:30.
    assert CAL.add_working_hours(datetime(2025, 3, 6, 20, tzinfo=UTC), 1) == at(2025, 3, 7, 9, 30)


def test_daylight_saving_change_counts_real_elapsed_time():
    # Berlin springs forward on Sun 2025-03-30 at 02:00 -> 03:00: a 01:00-04:00 period lasts only 2 real hours.
    berlin = ZoneInfo("Europe/Berlin")
    cal = WorkCalendar(periods=((time(1), time(4)),), weekdays=frozenset(range(7)), timezone="Europe/Berlin")
    assert cal.working_hours_between(at(2025, 3, 30, tz=berlin), at(2025, 3, 31, tz=berlin)) == 2.0
    # 01:00 CET is 00:00 UTC; + 1.5 h = 01:30 UTC = 03:30 CEST.
    assert cal.add_working_hours(at(2025, 3, 30, 1, tz=berlin), 1.5) == at(2025, 3, 30, 3, 30, tz=berlin)


# -- working_hours_between -------------------------------------------------------------------------------------


def test_hours_between_across_weekend_and_lunch():
    # Fri 11:00-12:00 (1) + 13:30-17:30 (4) + weekend (0) + Mon 08:30-12:00 (3.5) + 13:30-14:00 (0.5) = 9 h.
    fri, mon = at(2025, 3, 7, 11), at(2025, 3, 10, 14)
    assert CAL.working_hours_between(fri, mon) == 9.0
    assert CAL.working_hours_between(mon, fri) == -9.0
    assert CAL.working_hours_between(fri, fri) == 0.0
    # The lunch break and a weekend alone hold no working time.
    assert CAL.working_hours_between(at(2025, 3, 5, 12), at(2025, 3, 5, 13, 30)) == 0.0
    assert CAL.working_hours_between(at(2025, 3, 7, 17, 30), at(2025, 3, 10, 8, 30)) == 0.0
    # A whole ordinary week is 5 x 7.5 = 37.5 h. The two 2025 National Day weeks (Mon 09-29 to Mon 10-13) hold
    # only Mon 09-29, Tue 09-30 (1-8 Oct are holidays), Thu 10-09, Fri 10-10 and the make-up Sat 10-11:
    # 5 x 7.5 = 37.5 h, against 10 x 7.5 = 75 h on the plain calendar.
    assert CAL.working_hours_between(at(2025, 3, 3), at(2025, 3, 10)) == 37.5
    assert CHINA_2025.working_hours_between(at(2025, 9, 29), at(2025, 10, 13)) == 37.5
    assert CAL.working_hours_between(at(2025, 9, 29), at(2025, 10, 13)) == 75.0


def test_hours_between_is_half_open_and_mixes_zones():
    # [09:00, 09:30) is half an hour; 09:30 local given as 01:30 UTC.
    assert CAL.working_hours_between(at(2025, 3, 5, 9), datetime(2025, 3, 5, 1, 30, tzinfo=UTC)) == 0.5


def test_round_trip_add_then_measure():
    # For random starts through 2025 (holidays and make-up days included) and random hours, the working time
    # from the effective start (next working moment) to the deadline is exactly the hours asked for.
    rng = random.Random(20250101)
    year_start = at(2025, 1, 1)
    for _ in range(400):
        start = year_start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        hours = rng.choice([0.0, rng.uniform(0, 8), rng.uniform(0, 200), rng.randrange(0, 400) / 2])
        deadline = CHINA_2025.add_working_hours(start, hours)
        effective = CHINA_2025.add_working_hours(start, 0)
        assert CHINA_2025.is_working_time(effective)
        assert effective >= start and deadline >= effective
        assert CHINA_2025.working_hours_between(effective, deadline) == pytest.approx(hours, abs=1e-9)
        # Time before the effective start is not working time, so measuring from the report itself agrees.
        assert CHINA_2025.working_hours_between(start, deadline) == pytest.approx(hours, abs=1e-9)


# -- days and moments ------------------------------------------------------------------------------------------


def test_working_days_and_times():
    assert CAL.is_working_day(date(2025, 3, 7))          # Friday
    assert not CAL.is_working_day(date(2025, 3, 8))      # Saturday
    assert not CHINA_2025.is_working_day(date(2025, 1, 1))    # 元旦, a Wednesday
    assert CHINA_2025.is_working_day(date(2025, 2, 8))        # make-up Saturday
    assert CHINA_2025.is_working_day(date(2025, 4, 27))       # make-up Sunday
    assert not CHINA_2025.is_working_day(date(2025, 4, 26))   # an ordinary Saturday
    assert CAL.is_working_time(at(2025, 3, 5, 8, 30))
    assert not CAL.is_working_time(at(2025, 3, 5, 17, 30))    # end of a period is outside (half-open)
    assert not CAL.is_working_time(at(2025, 3, 8, 10))        # Saturday


def test_china_2025_arrangement():
    # 1 (元旦) + 8 (春节 01-28..02-04) + 3 (清明) + 5 (劳动节) + 3 (端午) + 8 (国庆中秋) = 28 holiday dates.
    assert len(CHINA_2025.holidays) == 28
    assert {date(2025, 1, 28), date(2025, 2, 4), date(2025, 6, 2), date(2025, 10, 8)} <= CHINA_2025.holidays
    assert CHINA_2025.workdays == {date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28),
                                   date(2025, 10, 11)}


# -- configuration text and bad input --------------------------------------------------------------------------


def test_from_text_parses_ranges_and_ignores_blanks():
    cal = WorkCalendar.from_text(periods=" 09:00-12:00 , ,14:00-18:00", holidays=" 2026-10-01..2026-10-03, ,2026-12-25",
                                 workdays="2026-10-10,")
    assert cal.periods == ((time(9), time(12)), (time(14), time(18)))
    assert cal.holidays == {date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3), date(2026, 12, 25)}
    assert cal.workdays == {date(2026, 10, 10)}
    assert WorkCalendar.from_text() == WorkCalendar()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"holidays": "2026-10-01,2026-13-01"}, "holidays: '2026-13-01' is not a date"),
    ({"workdays": "tomorrow"}, "workdays: 'tomorrow' is not a date"),
    ({"holidays": "2026-10-08..2026-10-01"}, "holidays: range '2026-10-08..2026-10-01' ends before it starts"),
    ({"holidays": "2026-10-01..x"}, "holidays: 'x' is not a date"),
    ({"periods": "08:30-12:00,11:00-14:00"}, "periods: '11:00-14:00' overlaps"),
    ({"periods": "13:30-17:30,08:30-12:00"}, "periods: '08:30-12:00' overlaps or comes before"),
    ({"periods": "12:00-08:30"}, "periods: '12:00-08:30' does not end after it starts"),
    ({"periods": "08:30-25:00"}, "periods: '08:30-25:00' is not a period HH:MM-HH:MM"),
    ({"periods": "morning"}, "periods: 'morning' is not a period HH:MM-HH:MM"),
    ({"periods": " , "}, "periods: at least one working period is required"),
    ({"timezone": "Mars/Base"}, "timezone: 'Mars/Base' is not a known IANA time zone"),
    ({"holidays": "2026-10-10", "workdays": "2026-10-10"}, "holidays and workdays both contain 2026-10-10"),
])
def test_bad_text_is_rejected_naming_the_bad_part(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        WorkCalendar.from_text(**kwargs)


def test_naive_datetimes_are_rejected():
    naive = datetime(2025, 3, 5, 9)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        CAL.add_working_hours(naive, 1)
    with pytest.raises(ValueError, match="t must be timezone-aware"):
        CAL.is_working_time(naive)
    with pytest.raises(ValueError, match="a must be timezone-aware"):
        CAL.working_hours_between(naive, at(2025, 3, 5, 10))
    with pytest.raises(ValueError, match="b must be timezone-aware"):
        CAL.working_hours_between(at(2025, 3, 5, 10), naive)


def test_bad_hours_are_rejected():
    with pytest.raises(ValueError, match="hours must not be negative"):
        CAL.add_working_hours(at(2025, 3, 5, 9), -1)
    with pytest.raises(ValueError, match="hours must be a finite number"):
        CAL.add_working_hours(at(2025, 3, 5, 9), float("nan"))


def test_calendar_without_working_days_raises_instead_of_looping():
    never = WorkCalendar(weekdays=frozenset())
    with pytest.raises(ValueError, match="no working days"):
        never.add_working_hours(at(2025, 3, 5, 9), 1)
    # Only one make-up day (7.5 h) and no working weekdays: 7 h fit (Sat 08:30-12:00 + 13:30-17:00),
    # 8 h cannot be reached.
    once = WorkCalendar(weekdays=frozenset(), workdays=frozenset({date(2025, 3, 8)}))
    assert once.add_working_hours(at(2025, 3, 5, 9), 7) == at(2025, 3, 8, 17)
    with pytest.raises(ValueError, match="no working days after 2025-03-08"):
        once.add_working_hours(at(2025, 3, 5, 9), 8)


def test_month_bounds_are_the_citys_calendar_month_and_bad_months_name_the_field():
    import datetime as dt

    import pytest

    from patrol.cases.worktime import local_today, month_bounds
    from patrol.core.errors import InvalidInput

    label, start, end = month_bounds("2026-12", "Asia/Shanghai")
    assert label == "2026-12" and start.isoformat() == "2026-12-01T00:00:00+08:00"
    assert end.isoformat() == "2027-01-01T00:00:00+08:00"
    assert month_bounds(None, "UTC", today=dt.date(2026, 2, 17))[0] == "2026-02"
    for bad in ("2026-13", "2026-1", "26-01", "november"):
        with pytest.raises(InvalidInput) as e:
            month_bounds(bad, "UTC")
        assert e.value.field == "month"
    # 23:30 UTC on 23 November is already the 24th in Shanghai
    assert local_today("Asia/Shanghai", dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)) == dt.date(2026, 11, 24)
