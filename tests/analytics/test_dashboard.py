"""The dashboard on the admin index: a small world whose every number is known, caching, and
widgets that fail without taking the index down."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics import dashboard
from analytics.periods import local_date, local_midnight, period_start
from identity.models import AppKind, Platform
from identity.services.resolve import resolve_identity
from profiles.models import SegmentSnapshot
from profiles.services.ingest import ingest_events
from tests.factories import AppFactory, SegmentFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


class World:
    """This week: Alice (mini-program and service account, follows) and Bob are new, Eve
    returns from last week, Dan (Alipay) comes back after three weeks; Carol (H5) was active
    last week only. Segments: buyers 5 then 4, vips 1, 2, 3, and an old snapshot of 100."""

    def __init__(self, miniprogram, service_account, h5, actor):
        self.alipay = AppFactory(
            appid="2021000000000001", name="Alipay shop", platform=Platform.ALIPAY
        )
        now = timezone.now()
        self.today = local_date(now)
        week = local_midnight(period_start(self.today, "week"))
        recent = max(week, now - timedelta(minutes=2))  # in this week, never in the future
        resolve_identity(app=miniprogram, openid="oAlice", unionid="uAlice", actor=actor)
        resolve_identity(app=service_account, openid="oAliceSvc", unionid="uAlice", actor=actor)
        plan = [
            (miniprogram, "oAlice", "register", recent),
            (service_account, "oAliceSvc", "subscribe", recent),
            (miniprogram, "oBob", "register", recent),
            (miniprogram, "oEve", "register", week - timedelta(days=2)),
            (miniprogram, "oEve", "view", recent),
            (self.alipay, "oDan", "register", week - timedelta(days=15)),
            (self.alipay, "oDan", "view", recent),
            (h5, "oCarol", "view", week - timedelta(days=1)),
        ]
        events = [
            {
                "event_id": f"d{number}",
                "appid": app.appid,
                "openid": openid,
                "type": type_,
                "occurred_at": at.isoformat(),
            }
            for number, (app, openid, type_, at) in enumerate(plan)
        ]
        assert ingest_events(events=events, actor=actor).errors == []
        buyers = SegmentFactory(key="buyers", name="Buyers")
        vips = SegmentFactory(key="vips", name="VIP members")
        old = SegmentFactory(key="old", name="Old segment")
        for segment, counts in ((buyers, [5, 4]), (vips, [1, 2, 3])):
            for back, count in enumerate(reversed(counts)):
                day = self.today - timedelta(days=back)
                SegmentSnapshot.objects.create(segment=segment, day=day, count=count)
        SegmentSnapshot.objects.create(segment=old, day=self.today - timedelta(days=40), count=100)


@pytest.fixture
def world(miniprogram, service_account, h5, actor):
    return World(miniprogram, service_account, h5, actor)


def section(html: str, name: str) -> str:
    found = re.search(rf'<section class="module" id="dashboard-{name}">(.*?)</section>', html, re.S)
    return found.group(1) if found else ""


def number(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'{attribute}="{re.escape(value)}">([^<]*)<', html)
    assert found, (attribute, value)
    return found.group(1)


def test_persons_per_app_and_platform_and_followers(world, miniprogram, service_account, h5):
    persons = dashboard.persons_by_app(world.today)

    platforms = {p["platform"]: p for p in persons["platforms"]}
    assert platforms["wechat"]["persons"] == 4  # Alice counts once across two apps
    assert platforms["alipay"]["persons"] == 1
    by_app = {app["appid"]: app["persons"] for p in persons["platforms"] for app in p["apps"]}
    assert by_app == {
        miniprogram.appid: 3,
        service_account.appid: 1,
        h5.appid: 1,
        world.alipay.appid: 1,
    }
    assert persons["followers"] == [
        {"appid": service_account.appid, "name": service_account.name, "followers": 1}
    ]


def test_the_report_widgets(world, miniprogram, service_account):
    new = dashboard.new_persons(world.today)
    week = dashboard.lifecycle_this_week(world.today)
    settle = dashboard.settle_rates(world.today)

    assert len(new) == 14
    assert new[-1][0] == str(world.today)
    assert sum(count for _, count in new) == 4  # Alice, Bob, Eve, Carol; Dan is older
    assert {state: week[state] for state in ("new", "returning", "resurrecting", "dormant")} == {
        "new": 2,
        "returning": 1,
        "resurrecting": 1,
        "dormant": 1,
    }
    assert [(s["miniprogram"], s["service_account"]) for s in settle] == [
        (miniprogram.appid, service_account.appid)  # no Alipay service account: no pair
    ]
    assert settle[0]["settle_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert settle[0]["cohort_rate"] == 0.5  # Alice of the two new visitors


def test_largest_segments_with_their_trend_of_thirty_days(world):
    segments = dashboard.largest_segments(world.today)

    assert [(s["key"], s["count"], s["trend"]) for s in segments] == [
        ("buyers", 4, [5, 4]),
        ("vips", 3, [1, 2, 3]),
    ]


def test_the_index_shows_the_dashboard_above_the_app_list(admin_client, world, service_account):
    response = admin_client.get(INDEX, headers={"accept-language": "en"})

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index('id="dashboard"') < html.index('class="app-identity')
    assert number(section(html, "persons"), "data-platform", "wechat") == "4"
    followers = section(html, "followers")
    assert number(followers, "data-appid", service_account.appid) == "1"
    lifecycle = section(html, "lifecycle")
    assert [number(lifecycle, "data-state", s) for s in ("new", "returning", "dormant")] == [
        "2",
        "1",
        "1",
    ]
    assert "33.3%" in section(html, "settle")
    segments = section(html, "segments")
    assert segments.index("Buyers") < segments.index("VIP members")
    assert "Old segment" not in segments
    assert '<polyline fill="none"' in segments
    chart = re.search(
        r'<script id="dashboard-new-persons-figure" type="application/json">(.*?)</script>', html
    )
    assert sum(json.loads(chart.group(1))["data"][0]["y"]) == 4
    assert 'id="dashboard-new-persons-chart"' in html
    assert "New persons in 14 days: 4" in html


def test_the_dashboard_speaks_chinese(admin_client, world):
    html = admin_client.get(INDEX, headers={"accept-language": "zh-hans"}).content.decode()

    assert "新用户" in section(html, "lifecycle")
    assert "14 天新增用户：4" in html  # noqa: RUF001 (Chinese punctuation)
    assert "沉淀率" in html


def test_the_numbers_are_cached_for_a_minute(world, django_assert_num_queries):
    dashboard.dashboard(world.today)

    with django_assert_num_queries(0):
        again = dashboard.dashboard(world.today)
    assert again["lifecycle"]["new"] == 2
    assert dashboard.CACHE_SECONDS == 60


def test_a_cold_dashboard_reads_in_a_few_statements(world):
    with CaptureQueriesContext(connection) as queries:
        numbers = dashboard.dashboard(world.today)

    # Savepoints (one per widget and report) and the reports' statement timeouts aside: the
    # counts (3), new persons (1), the week's lifecycle (1), the apps and the settle rate of the
    # one pair (1 + 2 app reads + 1), the segments (1).
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not re.match(
            r"(SAVEPOINT|RELEASE SAVEPOINT|SELECT (current_setting|set_config))", q["sql"]
        )
    ]
    assert len(statements) <= 10, statements
    assert all(value is not None for value in numbers.values())


def test_a_failing_widget_leaves_the_others_and_the_app_list(admin_client, world, monkeypatch):
    def broken(today):
        raise RuntimeError("boom")

    monkeypatch.setitem(dashboard.WIDGETS, "segments", broken)

    response = admin_client.get(INDEX, headers={"accept-language": "en"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="dashboard-segments"' not in html
    assert 'id="dashboard-lifecycle"' in html
    assert "app-identity" in html


@pytest.mark.pg_timers
def test_a_widget_over_its_time_limit_is_left_out_and_not_cached(
    admin_client, miniprogram, service_account, settings, activity_locked, caplog
):
    settings.ANALYTICS_DASHBOARD_TIMEOUT_MS = 50
    settings.ANALYTICS_STATEMENT_TIMEOUT_MS = 0  # the reports' own limit: none
    with connection.cursor() as cursor:  # were the dashboard's limit not used: fail, not hang
        cursor.execute("SET LOCAL lock_timeout = '5s'")
    today = local_date(timezone.now())

    response = admin_client.get(INDEX, headers={"accept-language": "en"})

    html = response.content.decode()
    assert response.status_code == 200
    for name in ("lifecycle", "settle"):  # each waits for the daily activity
        assert f"Dashboard widget {name} stopped by its time limit" in caplog.text
        assert cache.get(f"analytics:dashboard:{name}:{today}") is None
    assert 'id="dashboard-lifecycle"' not in html
    assert 'id="dashboard-settle"' not in html
    for name in ("persons", "new-persons"):  # the stats and the openids are not locked
        assert f'id="dashboard-{name}"' in html
    assert cache.get(f"analytics:dashboard:persons:{today}") is not None


def test_the_settle_widget_shares_its_time_between_its_pairs(world, settings, monkeypatch):
    settings.ANALYTICS_DASHBOARD_TIMEOUT_MS = 1000
    monkeypatch.setattr(dashboard, "_deadline", lambda: dashboard.time.monotonic() - 1)

    assert dashboard.widget("settle", world.today) is None  # spent before its first report
    assert dashboard.widget("lifecycle", world.today)["new"] == 2


def test_a_failing_dashboard_leaves_the_index(admin_client, world, monkeypatch):
    def broken(today):
        raise RuntimeError("boom")

    monkeypatch.setattr("analytics.admin.dashboard.dashboard.dashboard", broken)

    response = admin_client.get(INDEX)

    assert response.status_code == 200
    assert 'id="dashboard"' not in response.content.decode()
    assert "app-identity" in response.content.decode()


def test_a_cache_that_is_down_costs_only_the_recomputation(world, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(dashboard.cache, "get", down)
    monkeypatch.setattr(dashboard.cache, "set", down)

    assert dashboard.dashboard(world.today)["lifecycle"]["new"] == 2


def test_staff_without_the_report_permission_see_the_plain_index(client, world):
    user = User.objects.create_user("clerk", password="pw-clerk-1", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_person"))
    client.force_login(user)

    response = client.get(INDEX)

    assert response.status_code == 200
    assert 'id="dashboard"' not in response.content.decode()


def test_no_settle_widget_without_a_pair(admin_client, h5):
    AppFactory(appid="wxonlymini0000001", kind=AppKind.MINIPROGRAM)

    html = admin_client.get(INDEX).content.decode()

    assert 'id="dashboard"' in html
    assert 'id="dashboard-settle"' not in html
