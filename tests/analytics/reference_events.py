"""Brute-force funnel, settle rate and acquisition, from analytics.md's definitions.

Plain Python over `stored_events()` (every event on its current person) and the identities'
recorded follow times: local dates from zoneinfo, periods walked day by day, one person at a
time. Nothing here reads stats, daily activity or the reports' SQL. `events_world` builds the
randomised history once per test class, with a segment (a manual tag half the live persons
hold).
"""

import random
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from identity.models import App, Identity, Person
from profiles.models import Segment, TagAssignment
from profiles.services.ingest import ingest_events
from profiles.services.tags import bulk_assign_tag
from tests.analytics.history import History, StoredEvent, build_history, stored_events
from tests.analytics.reference import start_of
from tests.factories import SYSTEM, SegmentFactory, TagFactory

SUBSCRIBE, UNSUBSCRIBE = "subscribe", "unsubscribe"


@dataclass
class EventsWorld:
    history: History
    events: list[StoredEvent]
    segment: Segment
    today: date


def events_world(seed: int, **history_options):
    """A class-scoped fixture: the history of `seed`, built once for the tests of a class and
    rolled back after them (so that the module's hand-built tests start from nothing)."""

    @pytest.fixture(scope="class")
    def world(django_db_setup, django_db_blocker):
        with (
            django_db_blocker.unblock(),
            override_settings(JOBS_RUN_INLINE=True),
            transaction.atomic(),
        ):
            rng = random.Random(seed)
            history = build_history(rng, **history_options)
            tag = TagFactory(key=f"events-seg-{seed}")
            live = list(Person.objects.live().order_by("pk"))
            bulk_assign_tag(persons=rng.sample(live, len(live) // 2), key=tag.key, actor=SYSTEM)
            segment = SegmentFactory(key=f"events-seg-{seed}", condition={"tag": tag.key})
            yield EventsWorld(history, stored_events(), segment, local_day(history.now))
            transaction.set_rollback(True)

    return world


def zone() -> ZoneInfo:
    return ZoneInfo(settings.ANALYTICS_TIME_ZONE)


def local_day(instant: datetime) -> date:
    return instant.astimezone(zone()).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone())


def segment_members(segment: Segment) -> set[int]:
    """The live persons holding the segment's tag (its condition is `{"tag": key}`)."""
    holders = TagAssignment.objects.active().filter(tag__key=segment.condition["tag"])
    live = set(Person.objects.live().values_list("pk", flat=True))
    return set(holders.values_list("person_id", flat=True)) & live


def period_starts(date_from: date, date_to: date, period: str) -> list[date]:
    """The first day of every period meeting [date_from, date_to], walking the days."""
    starts = []
    day = date_from
    while day <= date_to:
        start = start_of(day, period)
        if start not in starts:
            starts.append(start)
        day += timedelta(days=1)
    return starts


def end_of(start: date, period: str) -> datetime:
    """The instant the period after the one starting on `start` begins."""
    day = start + timedelta(days=1)
    while start_of(day, period) == start:
        day += timedelta(days=1)
    return midnight(day)


def rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _kept(events, apps: set[int] | None, members: set[int] | None) -> list[StoredEvent]:
    return [
        e
        for e in events
        if (apps is None or e.app_id in apps) and (members is None or e.person_id in members)
    ]


def _by_person(events) -> dict[int, list[StoredEvent]]:
    persons = defaultdict(list)
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        persons[event.person_id].append(event)
    return persons


# Funnel ----------------------------------------------------------------------------------


def _matches(event: StoredEvent, step: str | None) -> bool:
    return step is None or event.type == step


def funnel_paths(events, *, steps, window_days, date_from, date_to, apps=None, members=None):
    """Each entering person's chosen path: the events of the steps it reached, in order."""
    window = timedelta(days=window_days)
    chosen = {}
    for person, own in _by_person(_kept(events, apps, members)).items():
        best: list[StoredEvent] = []
        for entry in own:
            if not _matches(entry, steps[0]):
                continue
            if not date_from <= local_day(entry.occurred_at) <= date_to:
                continue
            path = [entry]
            for step in steps[1:]:
                used = {e.id for e in path}
                found = next(
                    (
                        e
                        for e in own
                        if _matches(e, step)
                        and e.id not in used
                        and e.occurred_at >= path[-1].occurred_at
                        and e.occurred_at - entry.occurred_at <= window
                    ),
                    None,
                )
                if found is None:
                    break
                path.append(found)
            if len(path) > len(best):  # entries in order: ties keep the earliest
                best = path
        if best:
            chosen[person] = best
    return chosen


def furthest_reach(events, *, steps, window_days, date_from, date_to, apps=None, members=None):
    """Each person's furthest step by exhaustive search over distinct events (no greedy):
    the check that the greedy walk of the definition loses nothing."""
    window = timedelta(days=window_days)
    reach = {}
    for person, own in _by_person(_kept(events, apps, members)).items():

        def deepest(path: list[StoredEvent], own=own) -> int:
            if len(path) == len(steps):
                return len(path)
            best = len(path)
            for e in own:
                if (
                    _matches(e, steps[len(path)])
                    and e not in path
                    and e.occurred_at >= path[-1].occurred_at
                    and e.occurred_at - path[0].occurred_at <= window
                ):
                    best = max(best, deepest([*path, e]))
                    if best == len(steps):
                        break
            return best

        entries = [
            e
            for e in own
            if _matches(e, steps[0]) and date_from <= local_day(e.occurred_at) <= date_to
        ]
        if entries:
            reach[person] = max(deepest([e]) for e in entries)
    return reach


def funnel_answer(paths: dict, *, steps, window_days) -> dict:
    counts = [sum(1 for p in paths.values() if len(p) > k) for k in range(len(steps))]
    answer = []
    for k, step in enumerate(steps):
        gaps = [
            (p[k].occurred_at - p[k - 1].occurred_at).total_seconds()
            for p in paths.values()
            if len(p) > k and k > 0
        ]
        median = statistics.median(gaps) if gaps else None
        if median is not None and float(median).is_integer():
            median = int(median)
        answer.append(
            {
                "type": step or "any",
                "count": counts[k],
                "conversion": rate(counts[k], counts[0]),
                "from_previous": None if k == 0 else rate(counts[k], counts[k - 1]),
                "median_seconds": median,
            }
        )
    return {"window_days": window_days, "steps": answer}


# Settle rate -----------------------------------------------------------------------------


def follow_timelines(events, records, service_account: App) -> dict[int, list[tuple]]:
    """Each person's follow items in the service account, in order: (time, rank, sub).

    The items are the person's subscribe / unsubscribe events there and, standing for what an
    import saw before any event, the recorded times of the person's identities: followed_at as
    a subscribe and unfollowed_at as an unsubscribe, each only when it is earlier than the
    person's first subscribe / unsubscribe event there, or when the person has none. Events
    rank above a recorded time at the same instant, a higher id above a lower one; of an
    identity's two recorded times at one instant, the one its current state agrees with is the
    later."""
    follow_events = defaultdict(list)
    for e in events:
        if e.app_id == service_account.pk and e.type in (SUBSCRIBE, UNSUBSCRIBE):
            follow_events[e.person_id].append(e)
    items = defaultdict(list)
    for person, own in follow_events.items():
        items[person] = [(e.occurred_at, (1, e.id), e.type == SUBSCRIBE) for e in own]
    for person, followed_at, unfollowed_at, followed in records:
        first_event = min((e.occurred_at for e in follow_events.get(person, ())), default=None)
        recorded = (
            (followed_at, (0, int(followed is True)), True),
            (unfollowed_at, (0, int(followed is not True)), False),
        )
        for at, rank, sub in recorded:
            if at is None:
                continue
            if first_event is None or at < first_event:  # seen before any event
                items[person].append((at, rank, sub))
    return {person: sorted(own) for person, own in items.items()}


def follows_at(timeline: list[tuple], moment: datetime) -> bool:
    """The latest item at or before the moment is a subscribe."""
    state = False
    for at, _, sub in timeline:
        if at <= moment:
            state = sub
    return state


def follows_within(timeline: list[tuple], start: datetime, end: datetime) -> bool:
    """Following at some moment of [start, end]: at the start or at an item's instant after."""
    moments = [start, *[at for at, _, _ in timeline if start < at <= end]]
    return any(follows_at(timeline, moment) for moment in moments)


def settle(events, records, *, miniprogram, service_account, period, date_from, date_to,
           members=None) -> dict:  # fmt: skip
    first_visit = {}
    for e in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        if e.app_id == miniprogram.pk and (members is None or e.person_id in members):
            first_visit.setdefault(e.person_id, e.occurred_at)
    timelines = follow_timelines(events, records, service_account)
    answer = []
    for start in period_starts(date_from, date_to, period):
        end = end_of(start, period)
        before_end = end - timedelta(microseconds=1)
        visitors = [p for p, first in first_visit.items() if first < end]
        followers = [p for p in visitors if follows_at(timelines.get(p, []), before_end)]
        new = [p for p, first in first_visit.items() if midnight(start) <= first < end]
        settled = [
            p
            for p in new
            if follows_within(
                timelines.get(p, []), first_visit[p], first_visit[p] + timedelta(hours=168)
            )
        ]
        answer.append(
            {
                "start": start.isoformat(),
                "visitors_total": len(visitors),
                "followers_among_visitors": len(followers),
                "settle_rate": rate(len(followers), len(visitors)),
                "new_visitors": len(new),
                "followed_within_7_days": len(settled),
                "cohort_rate": rate(len(settled), len(new)),
            }
        )
    return {"periods": answer}


# Acquisition -----------------------------------------------------------------------------


def acquisition(events, *, period, by, date_from, date_to, apps=None, members=None,
                appids: dict[int, str]) -> dict:  # fmt: skip
    """New persons per period of their first event (in the apps), by first channel or app."""
    starts = period_starts(date_from, date_to, period)
    counts = {start: defaultdict(int) for start in starts}
    for own in _by_person(_kept(events, apps, members)).values():
        start = start_of(local_day(own[0].occurred_at), period)
        if start not in counts:
            continue
        if by == "app":
            key = appids.get(own[0].app_id, "")
        else:
            key = next((e.channel for e in own if e.channel), "")
        counts[start][key] += 1
    return {
        "period": period,
        "by": by,
        "periods": [
            {"start": s.isoformat(), "total": sum(counts[s].values()), "by": dict(counts[s])}
            for s in starts
        ],
    }


# Hand-built cases ------------------------------------------------------------------------

_numbers = iter(range(1, 10**9))


def ingest(*events) -> None:
    """Ingest events given as (app, openid, type, aware time[, channel]), in one batch."""
    batch = []
    for app, openid, type_, at, *channel in events:
        event = {
            "event_id": f"x-{next(_numbers)}",
            "appid": app.appid,
            "openid": openid,
            "type": type_,
            "occurred_at": at.isoformat(),
        }
        if channel:
            event["channel"] = channel[0]
        batch.append(event)
    result = ingest_events(events=batch, actor=SYSTEM)
    assert not result.errors, result.errors


def person_of(app: App, openid: str) -> Person:
    return Identity.objects.select_related("person").get(app=app, openid=openid).person
