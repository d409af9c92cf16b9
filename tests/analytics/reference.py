"""Brute-force retention, lifecycle and active users, from analytics.md's definitions.

Plain Python over `stored_events()` (every event on its current person): local dates from
zoneinfo, periods from their calendar definitions, sets of persons. Nothing here reads the
daily activity rollups or the reports' SQL, so that a test comparing the two checks both the
rollups and the reports. `world_fixture` builds the randomised history once per test module.
"""

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from identity.models import Person
from profiles.models import Segment, TagAssignment
from profiles.services.ingest import ingest_events
from profiles.services.tags import bulk_assign_tag
from tests.analytics.history import MINI, History, StoredEvent, build_history, stored_events
from tests.factories import SYSTEM, SegmentFactory, TagFactory


@dataclass
class World:
    history: History
    events: list[StoredEvent]
    segment: Segment
    today: date  # the local date of the history's `now`


def _build_world(seed: int, linked: bool) -> World:
    rng = random.Random(seed)
    history = build_history(rng, linked=linked)
    tag = TagFactory(key="analytics-cohort")
    live = list(Person.objects.live().order_by("pk"))
    bulk_assign_tag(persons=rng.sample(live, len(live) // 2), key=tag.key, actor=SYSTEM)
    segment = SegmentFactory(key="analytics-seg", condition={"tag": tag.key})
    return World(history, stored_events(), segment, local_day(history.now))


def world_fixture(seed: int, *, linked: bool = False):
    """A module-scoped fixture: the history of `seed`, built once, rolled back at the end.
    `linked`: persons with openids in several apps from the start (build_history), so that
    "first-ever" in an app and over all apps differ for more than the merged persons."""

    @pytest.fixture(scope="module")
    def world(django_db_setup, django_db_blocker):
        with (
            django_db_blocker.unblock(),
            override_settings(JOBS_RUN_INLINE=True, ANALYTICS_TIME_ZONE="Asia/Shanghai"),
            transaction.atomic(),
        ):
            yield _build_world(seed, linked)
            transaction.set_rollback(True)

    return world


APPS = ("all", "app", "restricted")
"""Every event's app, `app=` the mini-program, a key restricted to the mini-program and H5."""


def audience_of(world: World, apps: str) -> tuple[dict, set[int] | None, set[int] | None]:
    """(extra query parameters, allowed app ids of the key, the apps the brute force keeps)."""
    pk = {kind: app.pk for kind, app in world.history.apps.items()}
    if apps == "app":
        return {"app": MINI}, None, {pk["mini"]}
    if apps == "restricted":
        return {}, {pk["mini"], pk["h5"]}, {pk["mini"], pk["h5"]}
    return {}, None, None


def ingest_at(*events, at: time = time(12)) -> None:
    """Ingest events given as (app, openid, type, local date), at a local time of that date."""
    zone = ZoneInfo(settings.ANALYTICS_TIME_ZONE)
    batch = [
        {
            "event_id": f"r-{number}-{day}-{at}",
            "appid": app.appid,
            "openid": openid,
            "type": type_,
            "occurred_at": datetime.combine(day, at, tzinfo=zone).isoformat(),
        }
        for number, (app, openid, type_, day) in enumerate(events)
    ]
    assert not ingest_events(events=batch, actor=SYSTEM).errors


def segment_members(segment: Segment) -> set[int]:
    """The live persons holding the segment's tag (its condition is `{"tag": key}`)."""
    holders = TagAssignment.objects.active().filter(tag__key=segment.condition["tag"])
    live = set(Person.objects.live().values_list("pk", flat=True))
    return set(holders.values_list("person_id", flat=True)) & live


def local_day(instant) -> date:
    return instant.astimezone(ZoneInfo(settings.ANALYTICS_TIME_ZONE)).date()


def start_of(day: date, period: str) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return date(day.year, day.month, 1)


def starts_between(date_from: date, date_to: date, period: str) -> list[date]:
    """Every period start whose period meets [date_from, date_to], by walking the days."""
    found = []
    day = date_from
    while day <= date_to:
        if start_of(day, period) not in found:
            found.append(start_of(day, period))
        day += timedelta(days=1)
    return found


def previous_start(start: date, period: str) -> date:
    return start_of(start - timedelta(days=1), period)


def active_days(
    events: list[StoredEvent], type_: str | None, apps: set[int] | None, members: set[int] | None
) -> dict[int, set[date]]:
    """Each person's local days with an event of the type (None: any) in the apps (None: all);
    only members when given."""
    days = defaultdict(set)
    for event in events:
        if type_ is not None and event.type != type_:
            continue
        if apps is not None and event.app_id not in apps:
            continue
        if members is not None and event.person_id not in members:
            continue
        days[event.person_id].add(local_day(event.occurred_at))
    return days


def retention(events, *, period, date_from, date_to, start, ret, mode, cumulative, apps, members):
    """(answer, cells): cells[(cohort index, offset)] is the set of persons of that cell."""
    starts = starts_between(date_from, date_to, period)
    number = {cohort_start: index for index, cohort_start in enumerate(starts)}
    started = active_days(events, start, apps, members)
    returned = {
        person: {number.get(start_of(day, period)) for day in days}
        for person, days in active_days(events, ret, apps, members).items()
    }
    cohorts = [set() for _ in starts]
    for person, days in started.items():
        chosen = [min(days)] if mode == "first_time" else days
        for day in chosen:
            if start_of(day, period) in number:
                cohorts[number[start_of(day, period)]].add(person)
    cells, answer = {}, []
    for index, persons in enumerate(cohorts):
        cells[(index, 0)] = set(persons)
        for offset in range(1, len(starts) - index):
            later = range(index + offset, len(starts)) if cumulative else [index + offset]
            cells[(index, offset)] = {
                person
                for person in persons
                if any(target in returned.get(person, ()) for target in later)
            }
        values = [len(cells[(index, k)]) for k in range(len(starts) - index)]
        answer.append({"start": starts[index].isoformat(), "size": len(persons), "values": values})
    return {"period": period, "mode": mode, "cumulative": cumulative, "cohorts": answer}, cells


def lifecycle(events, *, period, date_from, date_to, event, apps, members):
    """(answer, cells): cells[(period start, state)] is the set of persons of that cell."""
    days = active_days(events, event, apps, members)
    periods = {person: {start_of(day, period) for day in found} for person, found in days.items()}
    first = {person: start_of(min(found), period) for person, found in days.items()}
    cells, answer = {}, []
    for start in starts_between(date_from, date_to, period):
        before = previous_start(start, period)
        now = {person for person, found in periods.items() if start in found}
        was = {person for person, found in periods.items() if before in found}
        new = {person for person in now if first[person] == start}
        states = {
            "new": new,
            "returning": now & was,
            "resurrecting": now - was - new,
            "dormant": was - now,
        }
        cells.update({(start, state): persons for state, persons in states.items()})
        answer.append({"start": start.isoformat(), **{s: len(p) for s, p in states.items()}})
    return {"period": period, "periods": answer}, cells


def active(events, *, date_from, date_to, event, apps, members):
    days = active_days(events, event, apps, members)
    answer = []
    day = date_from
    while day <= date_to:
        counts = [
            sum(
                1
                for found in days.values()
                if any(day - timedelta(days=width - 1) <= seen <= day for seen in found)
            )
            for width in (1, 7, 30)
        ]
        dau, wau, mau = counts
        stickiness = round(dau / mau, 4) if mau else None
        answer.append(
            {"date": day.isoformat(), "dau": dau, "wau": wau, "mau": mau, "stickiness": stickiness}
        )
        day += timedelta(days=1)
    return {"days": answer}
