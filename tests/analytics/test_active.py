"""Active users against a brute force over a randomised history (event types, apps, segment),
the windows reaching before `from`, erased persons, and the local day's edges in the three
reports of daily activity."""

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest

from analytics.params import ACTIVE, LIFECYCLE, RETENTION, parse_params
from analytics.reports import active, lifecycle, retention
from identity.models import Identity
from identity.services.erase import erase_person
from tests.analytics import reference
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db

world = reference.world_fixture(seed=41)

EVENTS = ("any", "view", "pay", "login")


def test_active_users_match_the_brute_force(world):
    date_from, date_to = world.today - timedelta(days=45), world.today
    segment_members = reference.segment_members(world.segment)
    for event, apps, segmented in itertools.product(EVENTS, reference.APPS, (False, True)):
        extra, allowed, app_ids = reference.audience_of(world, apps)
        if segmented:
            extra["segment"] = world.segment.key
        query = {"from": date_from.isoformat(), "to": date_to.isoformat(), "event": event, **extra}
        expected = reference.active(
            world.events,
            date_from=date_from,
            date_to=date_to,
            event=None if event == "any" else event,
            apps=app_ids,
            members=segment_members if segmented else None,
        )
        assert active.compute(parse_params(ACTIVE, query, allowed_app_ids=allowed)) == expected
    assert any(day["mau"] for day in expected["days"])


def test_the_windows_reach_before_from(world):
    """One day asked: its WAU and MAU still count the 6 and 29 days before it."""
    day = world.today - timedelta(days=3)
    expected = reference.active(
        world.events, date_from=day, date_to=day, event=None, apps=None, members=None
    )
    answer = active.compute(parse_params(ACTIVE, {"from": str(day), "to": str(day)}))
    assert answer == expected
    assert answer["days"][0]["mau"] > answer["days"][0]["dau"]


def test_erased_persons_keep_counting(miniprogram, settings):
    """Over every app too, where "first-ever" comes from the stats: whatever else the database
    holds, erasing a person changes no number."""
    settings.ANALYTICS_TIME_ZONE = "Asia/Shanghai"
    day = reference.local_day(datetime.now(UTC)) - timedelta(days=9)
    reference.ingest_at(
        (miniprogram, "oE", "register", day),
        (miniprogram, "oE", "view", day + timedelta(days=7)),
        (miniprogram, "oF", "view", day),
    )
    dates = {"from": str(day), "to": str(day + timedelta(days=7))}
    queries = [
        (ACTIVE, active, dates, {miniprogram.pk}),
        *(
            (report, module, {**dates, "period": "day", **types}, apps)
            for report, module, types in (
                (RETENTION, retention, {"start_event": "register"}),
                (LIFECYCLE, lifecycle, {"event": "any"}),
            )
            for apps in (None, {miniprogram.pk})
        ),
    ]

    def answers():
        return [
            module.compute(parse_params(report, query, allowed_app_ids=apps))
            for report, module, query, apps in queries
        ]

    before = answers()
    assert before[0]["days"][0]["dau"] == 2
    assert before[2]["cohorts"][0]["values"][7] == 1  # oE, through the activity of the app
    erase_person(person=Identity.objects.get(openid="oE").person, actor=SYSTEM)
    assert answers() == before


def test_a_local_day_begins_at_local_midnight(miniprogram, settings):
    """23:30 and 00:30 the next day in Shanghai are one UTC date, two local days, and across
    a Sunday night two ISO weeks."""
    settings.ANALYTICS_TIME_ZONE = "Asia/Shanghai"
    today = reference.local_day(datetime.now(UTC))
    sunday = today - timedelta(days=today.weekday() + 8)
    monday = sunday + timedelta(days=1)
    reference.ingest_at((miniprogram, "oLate", "register", sunday), at=time(23, 30))
    reference.ingest_at((miniprogram, "oEarly", "register", monday), at=time(0, 30))
    instants = sorted(
        datetime.combine(day, at, tzinfo=reference.ZoneInfo("Asia/Shanghai")).astimezone(UTC)
        for day, at in ((sunday, time(23, 30)), (monday, time(0, 30)))
    )
    assert instants[0].date() == instants[1].date()  # one UTC date
    key = {miniprogram.pk}

    days = active.compute(
        parse_params(ACTIVE, {"from": str(sunday), "to": str(monday)}, allowed_app_ids=key)
    )["days"]
    assert [(day["dau"], day["wau"], day["mau"]) for day in days] == [(1, 1, 1), (1, 2, 2)]

    weeks = {"from": str(sunday - timedelta(days=6)), "to": str(monday + timedelta(days=6))}
    cohorts = retention.compute(parse_params(RETENTION, weeks, allowed_app_ids=key))["cohorts"]
    assert [cohort["values"] for cohort in cohorts] == [[1, 0], [1]]
    periods = lifecycle.compute(parse_params(LIFECYCLE, weeks, allowed_app_ids=key))["periods"]
    assert [(period["new"], period["dormant"]) for period in periods] == [(1, 0), (1, 1)]
