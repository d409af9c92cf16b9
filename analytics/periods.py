"""Calendar periods in ANALYTICS_TIME_ZONE: days, ISO weeks (Monday first), calendar months.

A period is named by its first local date. Reports take every period that intersects the
requested [from, to] whole, so a range's first period may start before `from`.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

DAY, WEEK, MONTH = "day", "week", "month"
PERIODS = (DAY, WEEK, MONTH)
# The most periods one request may span (analytics.md, "Common rules").
MAX_PERIODS = {DAY: 400, WEEK: 60, MONTH: 24}


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.ANALYTICS_TIME_ZONE)


def period_start(day: date, period: str) -> date:
    """The first local date of the period holding `day`."""
    if period == DAY:
        return day
    if period == WEEK:
        return day - timedelta(days=day.weekday())
    if period == MONTH:
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}")


def next_period(start: date, period: str) -> date:
    """The first local date of the period after the one starting on `start`."""
    if period == DAY:
        return start + timedelta(days=1)
    if period == WEEK:
        return start + timedelta(days=7)
    if period == MONTH:
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    raise ValueError(f"unknown period {period!r}")


def shift(start: date, period: str, count: int) -> date:
    """The start of the period `count` periods after (or before, negative) `start`'s."""
    if period == DAY:
        return start + timedelta(days=count)
    if period == WEEK:
        return start + timedelta(days=7 * count)
    months = start.year * 12 + start.month - 1 + count
    return date(months // 12, months % 12 + 1, 1)


def periods_between(date_from: date, date_to: date, period: str) -> list[date]:
    """Starts of every period that intersects [date_from, date_to], oldest first."""
    starts = []
    start = period_start(date_from, period)
    while start <= date_to:
        starts.append(start)
        start = next_period(start, period)
    return starts


def local_midnight(day: date) -> datetime:
    """The instant a local date begins (aware, in ANALYTICS_TIME_ZONE)."""
    return datetime.combine(day, time.min, tzinfo=local_zone())


def local_date(instant: datetime) -> date:
    """The local calendar date of an instant."""
    return instant.astimezone(local_zone()).date()
