"""Acquisition against a brute force over a randomised history (every period and key, with and
without apps and a segment), and hand-built cases for first events, channels and merges."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.params import ACQUISITION, parse_params
from analytics.reports import acquisition
from identity.models import App, MergeRecord
from identity.services.merge import merge_persons
from identity.services.undo import undo_merge
from profiles.services.prune import prune_events
from tests.analytics import reference_events as ref
from tests.analytics.reference import audience_of as audience
from tests.factories import SYSTEM, H5Factory, MiniProgramFactory

pytestmark = pytest.mark.django_db

world = ref.events_world(seed=55, persons=60, linked=True)

RANGES = {"day": (45, 3), "week": (80, 0), "month": (100, 0)}  # days before today


class TestAgainstTheBruteForce:
    @pytest.mark.parametrize("period", ["day", "week", "month"])
    def test_every_combination(self, world, period):
        appids = dict(App.objects.values_list("pk", "appid"))
        members = ref.segment_members(world.segment)
        before_from, before_to = RANGES[period]
        date_from = world.today - timedelta(days=before_from)
        date_to = world.today - timedelta(days=before_to)
        counted = 0
        for by, apps, segmented in itertools.product(
            ("first_channel", "app"), ("all", "app", "restricted"), (False, True)
        ):
            extra, allowed, app_ids = audience(world, apps)
            if segmented:
                extra["segment"] = world.segment.key
            query = {
                "period": period,
                "by": by,
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                **extra,
            }
            params = parse_params(ACQUISITION, query, allowed_app_ids=allowed)
            expected = ref.acquisition(
                world.events,
                period=period,
                by=by,
                date_from=date_from,
                date_to=date_to,
                apps=app_ids,
                members=members if segmented else None,
                appids=appids,
            )
            assert acquisition.compute(params) == expected, query
            counted += sum(p["total"] for p in expected["periods"])
        assert counted > 100, counted  # the history gives the comparison something to find


# Hand-built cases ------------------------------------------------------------------------


@pytest.fixture
def apps(db):
    return MiniProgramFactory(appid="wxf1111111111111111"), H5Factory(appid="wxf3333333333333333")


@pytest.fixture
def day(db):
    """A local date twenty days ago."""
    return ref.local_day(timezone.now()) - timedelta(days=20)


def run(day_from, day_to, by: str, period: str = "day", **extra) -> list[dict]:
    query = {"period": period, "by": by, "from": str(day_from), "to": str(day_to), **extra}
    return acquisition.compute(parse_params(ACQUISITION, query))["periods"]


def test_a_person_is_new_in_the_period_of_the_first_event(apps, day):
    mini, h5 = apps
    noon = ref.midnight(day) + timedelta(hours=12)
    ref.ingest(
        (h5, "h1", "view", noon + timedelta(hours=1), "poster"),
        (mini, "o1", "view", noon, ""),  # the first, without a channel
        (mini, "o1", "login", noon + timedelta(hours=2), "qr_store"),  # the first channel
    )
    merge_persons(
        first=ref.person_of(mini, "o1"),
        second=ref.person_of(h5, "h1"),
        reason="manual",
        actor=SYSTEM,
    )
    assert run(day, day + timedelta(days=1), "first_channel") == [
        {"start": str(day), "total": 1, "by": {"poster": 1}},
        {"start": str(day + timedelta(days=1)), "total": 0, "by": {}},
    ]
    assert run(day, day, "app") == [{"start": str(day), "total": 1, "by": {mini.appid: 1}}]
    # In H5 only, the person's first event there is its first.
    assert run(day, day, "first_channel", app=h5.appid)[0]["by"] == {"poster": 1}
    assert run(day, day, "first_channel", app=mini.appid)[0]["by"] == {"qr_store": 1}
    assert run(day, day, "app", app=h5.appid)[0]["by"] == {h5.appid: 1}


def test_an_earlier_event_in_the_apps_makes_a_person_old(apps, day):
    mini, h5 = apps
    noon = ref.midnight(day) + timedelta(hours=12)
    ref.ingest((mini, "o1", "view", noon - timedelta(days=3)), (mini, "o1", "view", noon))
    ref.ingest((h5, "h1", "view", noon))
    merge_persons(
        first=ref.person_of(mini, "o1"),
        second=ref.person_of(h5, "h1"),
        reason="manual",
        actor=SYSTEM,
    )
    assert run(day, day, "app")[0]["total"] == 0
    assert run(day, day, "app", app=mini.appid)[0]["total"] == 0
    assert run(day, day, "app", app=h5.appid)[0]["by"] == {h5.appid: 1}
    week = run(day - timedelta(days=3), day, "app", period="week")
    assert sum(period["total"] for period in week) == 1


def test_ties_at_one_instant_go_to_the_lowest_id_and_no_channel_is_blank(apps, day):
    mini, h5 = apps
    noon = ref.midnight(day) + timedelta(hours=12)
    ref.ingest((h5, "h1", "view", noon), (h5, "h1", "login", noon + timedelta(hours=1)))
    ref.ingest((mini, "o1", "view", noon))
    merge_persons(
        first=ref.person_of(h5, "h1"),
        second=ref.person_of(mini, "o1"),
        reason="manual",
        actor=SYSTEM,
    )
    assert run(day, day, "app")[0]["by"] == {h5.appid: 1}
    assert run(day, day, "first_channel")[0]["by"] == {"": 1}


def test_a_merge_moves_the_first_event_to_the_survivor_and_an_undo_gives_it_back(apps, day):
    mini, h5 = apps
    noon = ref.midnight(day) + timedelta(hours=12)
    ref.ingest((mini, "o1", "view", noon + timedelta(days=1), "qr_store"))
    ref.ingest((h5, "h1", "view", noon, "poster"))
    first, second = ref.person_of(mini, "o1"), ref.person_of(h5, "h1")
    both = [day, day + timedelta(days=1)]
    assert [p["by"] for p in run(*both, "first_channel")] == [{"poster": 1}, {"qr_store": 1}]

    record = merge_persons(first=first, second=second, reason="manual", actor=SYSTEM)
    assert [p["by"] for p in run(*both, "first_channel")] == [{"poster": 1}, {}]
    assert [p["by"] for p in run(*both, "app")] == [{h5.appid: 1}, {}]

    undo_merge(record=MergeRecord.objects.get(pk=record.pk), actor=SYSTEM)
    assert [p["by"] for p in run(*both, "first_channel")] == [{"poster": 1}, {"qr_store": 1}]
    assert [p["by"] for p in run(*both, "app")] == [{h5.appid: 1}, {mini.appid: 1}]


def test_pruned_events_still_count_from_stats_activity_and_rollups(apps):
    mini, h5 = apps
    old_day = ref.local_day(timezone.now()) - timedelta(days=100)
    noon = ref.midnight(old_day) + timedelta(hours=12)
    ref.ingest(
        (mini, "o1", "view", noon, "qr_old"),
        (mini, "o1", "login", noon + timedelta(hours=1), "later"),
        (h5, "h1", "view", noon + timedelta(hours=2), ""),
    )
    run_ = prune_events(cutoff=timezone.now() - timedelta(days=40))
    assert run_.events_deleted == 3
    assert run(old_day, old_day, "first_channel")[0]["by"] == {"qr_old": 1, "": 1}
    assert run(old_day, old_day, "app")[0]["by"] == {mini.appid: 1, h5.appid: 1}
    assert run(old_day, old_day, "first_channel", app=mini.appid)[0]["by"] == {"qr_old": 1}
    assert run(old_day, old_day, "app", app=h5.appid)[0]["by"] == {h5.appid: 1}
