"""The settle rate against a brute force over a randomised history (day, week, month, with and
without a segment), and hand-built cases for the follow timeline and the 7-day window."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from analytics.params import SETTLE, parse_params
from analytics.reports import settle
from identity.exceptions import AppForbidden, InvalidInput
from identity.models import Identity, MergeRecord
from identity.services.follow import FollowObservation, record_follow_changes
from identity.services.merge import merge_persons
from identity.services.undo import undo_merge
from tests.analytics import reference_events as ref
from tests.analytics.history import MINI, SVC, follow_records
from tests.factories import SYSTEM, MiniProgramFactory, PersonFactory, ServiceAccountFactory

pytestmark = pytest.mark.django_db

world = ref.events_world(seed=35, persons=90, linked=True, scans=True)

RANGES = {"day": (40, 0), "week": (95, 0), "month": (100, 0)}  # days before today


class TestAgainstTheBruteForce:
    @pytest.mark.parametrize("period", ["day", "week", "month"])
    def test_every_combination(self, world, period):
        apps = world.history.apps
        records = follow_records(apps["svc"])
        before_from, before_to = RANGES[period]
        date_from = world.today - timedelta(days=before_from)
        date_to = world.today - timedelta(days=before_to)
        for segmented in (False, True):
            query = {
                "miniprogram": MINI,
                "service_account": SVC,
                "period": period,
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
            }
            if segmented:
                query["segment"] = world.segment.key
            expected = ref.settle(
                world.events,
                records,
                miniprogram=apps["mini"],
                service_account=apps["svc"],
                period=period,
                date_from=date_from,
                date_to=date_to,
                members=ref.segment_members(world.segment) if segmented else None,
            )
            assert settle.compute(parse_params(SETTLE, query)) == expected, query
            if not segmented:  # the history gives the comparison something to find
                assert expected["periods"][-1]["followers_among_visitors"] > 5, expected
                assert sum(p["followed_within_7_days"] for p in expected["periods"]) > 0

    def test_a_key_restricted_to_apps_names_only_its_apps(self, world):
        apps = world.history.apps
        query = {
            "miniprogram": MINI,
            "service_account": SVC,
            "from": "2026-01-01",
            "to": "2026-01-02",
        }
        with pytest.raises(AppForbidden):
            parse_params(SETTLE, query, allowed_app_ids={apps["mini"].pk, apps["h5"].pk})


# Hand-built cases ------------------------------------------------------------------------


@pytest.fixture
def apps(db):
    return MiniProgramFactory(appid="wxf1111111111111111"), ServiceAccountFactory(
        appid="wxf2222222222222222"
    )


@pytest.fixture
def day(db):
    """A local date twenty days ago."""
    return ref.local_day(timezone.now()) - timedelta(days=20)


def run(apps, first_day, last_day, period: str = "day") -> list[dict]:
    mini, svc = apps
    query = {
        "miniprogram": mini.appid,
        "service_account": svc.appid,
        "period": period,
        "from": str(first_day),
        "to": str(last_day),
    }
    return settle.compute(parse_params(SETTLE, query))["periods"]


def column(periods: list[dict], name: str) -> list:
    return [period[name] for period in periods]


def visitor_and_follower(apps, openid: str, service_openid: str):
    """A person with an openid in both apps (what a unionid would have merged)."""
    mini, svc = apps
    return PersonFactory(openids={mini: openid, svc: service_openid})


def test_an_imported_follower_without_events_follows_from_its_follow_time(apps, day):
    mini, svc = apps
    visitor_and_follower(apps, "o1", "s1")
    noon = ref.midnight(day) + timedelta(hours=12)
    ref.ingest((mini, "o1", "view", noon))
    identity = Identity.objects.get(app=svc, openid="s1")
    observation = FollowObservation(
        identity_pk=identity.pk, followed=True, at=noon + timedelta(days=2), snapshot=True
    )
    record_follow_changes(observations=[observation], actor=SYSTEM, source="import")
    periods = run(apps, day, day + timedelta(days=3))
    assert column(periods, "visitors_total") == [1, 1, 1, 1]
    assert column(periods, "followers_among_visitors") == [0, 0, 1, 1]
    assert column(periods, "settle_rate") == [0.0, 0.0, 1.0, 1.0]
    assert column(periods, "new_visitors") == [1, 0, 0, 0]
    assert column(periods, "followed_within_7_days") == [1, 0, 0, 0]
    assert column(periods, "cohort_rate") == [1.0, None, None, None]


def test_the_end_of_a_period_is_the_instant_before_the_next(apps, day):
    mini, svc = apps
    visitor_and_follower(apps, "o1", "s1")
    visitor_and_follower(apps, "o2", "s2")
    ref.ingest(
        (mini, "o1", "view", ref.midnight(day)),
        (mini, "o2", "view", ref.midnight(day)),
        (svc, "s1", "subscribe", ref.midnight(day + timedelta(days=1))),
        (svc, "s2", "subscribe", ref.midnight(day + timedelta(days=1)) - timedelta(seconds=1)),
    )
    periods = run(apps, day, day + timedelta(days=1))
    assert column(periods, "followers_among_visitors") == [1, 2]


def test_at_one_instant_an_event_wins_over_a_recorded_time(apps, day):
    mini, svc = apps
    noon = ref.midnight(day) + timedelta(hours=12)
    visitor_and_follower(apps, "o1", "s1")
    ref.ingest((mini, "o1", "view", noon - timedelta(hours=1)), (svc, "s1", "unsubscribe", noon))
    # A follow recorded at the same instant (as a follower import may leave it).
    Identity.objects.filter(app=svc, openid="s1").update(
        followed=True, followed_at=noon, unfollowed_at=None
    )
    assert column(run(apps, day, day), "followers_among_visitors") == [0]


@pytest.mark.parametrize("last", ["subscribe", "unsubscribe"])
def test_between_events_at_one_instant_the_higher_id_wins(apps, day, last):
    mini, svc = apps
    noon = ref.midnight(day) + timedelta(hours=12)
    visitor_and_follower(apps, "o1", "s1")
    first = "unsubscribe" if last == "subscribe" else "subscribe"
    ref.ingest((mini, "o1", "view", noon - timedelta(hours=1)))
    ref.ingest((svc, "s1", first, noon), (svc, "s1", last, noon))
    assert column(run(apps, day, day), "followers_among_visitors") == [int(last == "subscribe")]


def test_following_within_7_days_of_the_first_visit(apps, day):
    mini, svc = apps
    first = ref.midnight(day) + timedelta(hours=9)
    week = timedelta(hours=168)
    for n in range(1, 7):
        visitor_and_follower(apps, f"o{n}", f"s{n}")
        ref.ingest((mini, f"o{n}", "view", first), (mini, f"o{n}", "view", first + week * 2))
    ref.ingest(
        (svc, "s1", "subscribe", first + week),  # at the last instant: counts
        (svc, "s2", "subscribe", first + week + timedelta(seconds=1)),  # too late
        (svc, "s3", "subscribe", first - timedelta(days=30)),  # already following: counts
        (svc, "s4", "subscribe", first - timedelta(days=30)),  # followed, left before
        (svc, "s4", "unsubscribe", first - timedelta(days=1)),
        (svc, "s5", "subscribe", first + timedelta(hours=1)),  # for a while: counts
        (svc, "s5", "unsubscribe", first + timedelta(hours=2)),
        (svc, "s6", "subscribe", first + timedelta(hours=1)),  # undone at once: never follows
        (svc, "s6", "unsubscribe", first + timedelta(hours=1)),
    )
    periods = run(apps, day - timedelta(days=1), day, period="day")
    assert column(periods, "new_visitors") == [0, 6]
    assert column(periods, "followed_within_7_days") == [0, 3]
    assert column(periods, "cohort_rate") == [None, 0.5]
    assert column(periods, "visitors_total") == [0, 6]
    assert column(periods, "followers_among_visitors") == [0, 1]  # s3
    assert column(periods, "settle_rate") == [None, 0.1667]


def test_visitors_before_the_range_count_in_the_total_only(apps, day):
    mini, _ = apps
    ref.ingest(
        (mini, "o1", "view", ref.midnight(day) - timedelta(days=40)),
        (mini, "o1", "view", ref.midnight(day) + timedelta(hours=1)),
        (mini, "o2", "view", ref.midnight(day) + timedelta(hours=2)),
    )
    periods = run(apps, day, day, period="week")
    assert column(periods, "visitors_total") == [2]
    assert column(periods, "new_visitors") == [1]
    assert periods[0]["start"] == str(day - timedelta(days=day.weekday()))


def test_a_merge_brings_a_follow_to_the_visitor_and_an_undo_takes_it_back(apps, day):
    mini, svc = apps
    noon = ref.midnight(day) + timedelta(hours=12)
    ref.ingest((mini, "o1", "view", noon), (svc, "s1", "subscribe", noon + timedelta(hours=1)))
    visitor, follower = ref.person_of(mini, "o1"), ref.person_of(svc, "s1")
    assert column(run(apps, day, day), "followers_among_visitors") == [0]

    record = merge_persons(first=visitor, second=follower, reason="manual", actor=SYSTEM)
    periods = run(apps, day, day)
    assert column(periods, "followers_among_visitors") == [1]
    assert column(periods, "followed_within_7_days") == [1]

    undo_merge(record=MergeRecord.objects.get(pk=record.pk), actor=SYSTEM)
    periods = run(apps, day, day)
    assert column(periods, "visitors_total") == [1]
    assert column(periods, "followers_among_visitors") == [0]
    assert column(periods, "followed_within_7_days") == [0]


def test_recorded_follow_times_count_only_before_the_first_follow_event(apps, day):
    """The identity service moves followed_at on a `qr_scan` too: after an unsubscribe, the
    recorded time must not make the person a follower again."""
    mini, svc = apps
    visitor_and_follower(apps, "o1", "s1")
    at = ref.midnight(day) + timedelta(hours=12)
    hour = timedelta(hours=1)
    ref.ingest(
        (mini, "o1", "view", at),
        (svc, "s1", "subscribe", at + hour),
        (svc, "s1", "unsubscribe", at + 2 * hour),
        (svc, "s1", "qr_scan", at + 3 * hour),
    )
    identity = Identity.objects.get(app=svc, openid="s1")
    assert (identity.followed, identity.followed_at) == (True, at + 3 * hour)  # the scan's
    periods = run(apps, day, day)
    assert column(periods, "followers_among_visitors") == [0]
    assert column(periods, "followed_within_7_days") == [1]  # from 13:00 to 14:00


def test_an_imported_follower_follows_until_an_unsubscribe_event(apps, day):
    mini, svc = apps
    visitor_and_follower(apps, "o1", "s1")
    noon = ref.midnight(day) + timedelta(hours=12)
    ref.ingest((mini, "o1", "view", noon))
    identity = Identity.objects.get(app=svc, openid="s1")
    imported = FollowObservation(
        identity_pk=identity.pk, followed=True, at=noon + timedelta(days=1), snapshot=True
    )
    record_follow_changes(observations=[imported], actor=SYSTEM, source="import")
    ref.ingest((svc, "s1", "unsubscribe", noon + timedelta(days=3)))
    periods = run(apps, day, day + timedelta(days=4))
    assert column(periods, "followers_among_visitors") == [0, 1, 1, 0, 0]
    assert column(periods, "followed_within_7_days") == [1, 0, 0, 0, 0]


def test_the_7_days_are_168_hours_across_a_change_of_clocks(apps, settings):
    """Europe/Berlin springs forward on 2026-03-29: a wall-clock week after a first visit on
    the 22nd is an hour short. Fixed dates, all in the past on any day the suite runs."""
    settings.ANALYTICS_TIME_ZONE = "Europe/Berlin"
    mini, svc = apps
    first = datetime(2026, 3, 22, 23, 30, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    week = timedelta(hours=168)
    for n in (1, 2):
        visitor_and_follower(apps, f"o{n}", f"s{n}")
        ref.ingest((mini, f"o{n}", "view", first))
    ref.ingest(
        (svc, "s1", "subscribe", first + week),  # 2026-03-30 00:30 in Berlin: counts
        (svc, "s2", "subscribe", first + week + timedelta(seconds=1)),
    )
    periods = run(apps, date(2026, 3, 22), date(2026, 3, 22))
    assert column(periods, "new_visitors") == [2]
    assert column(periods, "followed_within_7_days") == [1]


def test_app_is_refused_as_the_two_apps_are_the_reports_own(apps, api):
    mini, svc = apps
    query = {
        "miniprogram": mini.appid,
        "service_account": svc.appid,
        "from": "2026-01-05",
        "to": "2026-01-11",
        "app": mini.appid,
    }
    message = "The settle rate takes its apps as miniprogram and service_account."
    with pytest.raises(InvalidInput) as refused:
        parse_params(SETTLE, query)
    assert refused.value.details == {"app": [message]}

    response = api.get("/api/v1/analytics/settle", query)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {"app": [message]}
