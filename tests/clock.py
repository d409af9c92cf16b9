"""Times relative to now, so that the suite means the same on any date.

A fixed date ages: an event dated on the day a test is written is recent that day and falls out
of every "within 7 days" window a month later. Tests that need a recent or an old event build it
from these helpers; tests that need an exact calendar date pin the clock with time-machine.
"""

from datetime import datetime, timedelta, timezone

from django.utils import timezone as django_timezone

BEIJING = timezone(timedelta(hours=8))


def ago(*, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """An aware datetime this long before now (UTC)."""
    return django_timezone.now() - timedelta(days=days, hours=hours, minutes=minutes)


def iso_ago(*, days: float = 0, hours: float = 0, minutes: float = 0) -> str:
    """`ago(...)` as the ISO 8601 text a backend sends, in Beijing time, to the second."""
    moment = ago(days=days, hours=hours, minutes=minutes).astimezone(BEIJING)
    return moment.replace(microsecond=0).isoformat()
