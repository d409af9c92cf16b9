"""Lifecycle against a brute force over a randomised history: every period, event type, app
and segment combination; its cells; the look-back before `from`; a merge and its undo."""

import itertools
import random
from datetime import datetime, timedelta

import pytest

from analytics.params import LIFECYCLE, LifecycleCell, parse_params
from analytics.reports import lifecycle
from analytics.reports._sql import fetch
from identity.exceptions import InvalidInput
from identity.models import Identity
from identity.services.merge import merge_persons
from identity.services.undo import undo_merge
from tests.analytics import reference
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db

world = reference.world_fixture(seed=29, linked=True)

RANGES = {"day": (40, 2), "week": (63, 0), "month": (80, 0)}
EVENTS = ("any", "register", "pay", "view")


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_lifecycle_matches_the_brute_force(world, period):
    rng = random.Random(period)
    before_from, before_to = RANGES[period]
    date_from = world.today - timedelta(days=before_from)
    date_to = world.today - timedelta(days=before_to)
    segment_members = reference.segment_members(world.segment)
    counted = 0
    for event, apps, segmented in itertools.product(EVENTS, reference.APPS, (False, True)):
        extra, allowed, app_ids = reference.audience_of(world, apps)
        if segmented:
            extra["segment"] = world.segment.key
        query = {
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "period": period,
            "event": event,
            **extra,
        }
        params = parse_params(LIFECYCLE, query, allowed_app_ids=allowed)
        expected, cells = reference.lifecycle(
            world.events,
            period=period,
            date_from=date_from,
            date_to=date_to,
            event=None if event == "any" else event,
            apps=app_ids,
            members=segment_members if segmented else None,
        )
        assert lifecycle.compute(params) == expected, query
        counted += sum(sum(row[state] for state in lifecycle.STATES) for row in expected["periods"])
        full = [cell for cell, persons in cells.items() if persons]
        for start, state in [*rng.sample(full, min(4, len(full))), rng.choice(list(cells))]:
            members = [
                row[0]
                for row in fetch(*lifecycle.cell_members(params, LifecycleCell(start, state)))
            ]
            assert len(members) == len(set(members))
            assert set(members) == cells[(start, state)], (query, start, state)
    assert counted > 0


def test_every_cell_lists_its_count(world):
    params = parse_params(
        LIFECYCLE,
        {"from": (world.today - timedelta(days=63)).isoformat(), "to": world.today.isoformat()},
    )
    for row in lifecycle.compute(params)["periods"]:
        start = datetime.fromisoformat(row["start"]).date()
        for state in lifecycle.STATES:
            sql, sql_params = lifecycle.cell_members(params, LifecycleCell(start, state))
            assert len(fetch(sql, sql_params)) == row[state]


def test_a_period_outside_the_range_is_refused(world):
    params = parse_params(
        LIFECYCLE,
        {"from": (world.today - timedelta(days=20)).isoformat(), "to": world.today.isoformat()},
    )
    starts = params.range.starts
    for outside in (
        starts[0] - timedelta(days=7),
        starts[-1] + timedelta(days=7),
        starts[0] + timedelta(days=1),
    ):
        with pytest.raises(InvalidInput) as refused:
            lifecycle.cell_members(params, LifecycleCell(outside, "new"))
        assert "period" in refused.value.details


def test_the_look_back_and_a_merge_and_its_undo(miniprogram, h5, settings):
    settings.ANALYTICS_TIME_ZONE = "Asia/Shanghai"
    today = reference.local_day(datetime.now(reference.ZoneInfo("Asia/Shanghai")))
    week0 = today - timedelta(days=today.weekday() + 35)
    reference.ingest_at(
        (miniprogram, "oA", "view", week0 - timedelta(days=30)),  # long before `from`
        (miniprogram, "oA", "view", week0 - timedelta(days=3)),  # the week before `from`
        (h5, "oB", "view", week0 + timedelta(days=8)),
        (h5, "oB", "view", week0 + timedelta(days=22)),
    )
    # A key of these two apps only: the module's history may be in the database too.
    params = parse_params(
        LIFECYCLE,
        {"from": week0.isoformat(), "to": (week0 + timedelta(days=27)).isoformat()},
        allowed_app_ids={miniprogram.pk, h5.pk},
    )

    def states():
        return [
            tuple(row[state] for state in lifecycle.STATES)
            for row in lifecycle.compute(params)["periods"]
        ]

    # (new, returning, resurrecting, dormant) per week: A goes dormant in week 0 (active the
    # week before), B is new in week 1, dormant in week 2, resurrecting in week 3.
    separate = [(0, 0, 0, 1), (1, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0)]
    assert states() == separate
    first, second = (
        Identity.objects.get(app=app, openid=openid).person
        for app, openid in ((miniprogram, "oA"), (h5, "oB"))
    )
    record = merge_persons(first=first, second=second, reason="manual", actor=SYSTEM)
    # One person now, seen long before: resurrecting in week 1, not new.
    assert states() == [(0, 0, 0, 1), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 1, 0)]
    undo_merge(record=record, actor=SYSTEM)
    assert states() == separate
