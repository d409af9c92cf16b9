"""The numbers of the admin index's dashboard: a few statements, each widget cached a minute.

At a million persons the counts per app are one pass over the openids (`identity_followers`
serves the followers), the report widgets (new persons, the week's lifecycle, settle rates)
are the reports themselves over the shortest range, and segment trends are the snapshots of
the last 30 days. Each widget is computed and cached on its own: one that fails is logged by
its class name and left out (`None`), and the next request tries it again, so that the index
page never breaks for a widget. Cached values are plain data; the page translates labels.

A cold index runs every widget in one request: each has ANALYTICS_DASHBOARD_TIMEOUT_MS (its
statements stop after that, and the settle widget's reports share it), not the reports' own
ANALYTICS_STATEMENT_TIMEOUT_MS, so that five widgets cannot outlast a gunicorn worker's timeout.
A widget that runs over is left out like one that fails.
"""

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q

from analytics.params import ACQUISITION, LIFECYCLE, SETTLE, parse_params
from analytics.reports import ReportTimeout, acquisition, lifecycle, settle, time_limit
from identity.models import App, AppKind, Identity
from profiles.models import SegmentSnapshot

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60
NEW_PERSONS_DAYS = 14
TREND_DAYS = 30
TOP_SEGMENTS = 5
MAX_SETTLE_PAIRS = 6  # pairs of one mini-program and one service account of a platform
# The reports the widgets run, computed under the widget's time limit: run_report would put
# the reports' own (longer) limit back.
REPORT_MODULES = {ACQUISITION: acquisition, LIFECYCLE: lifecycle, SETTLE: settle}


def persons_by_app(today: date) -> dict:
    """Persons per app and per platform (a person with openids in two apps counts once for
    their platform), followers per service account."""
    per_app = {
        row["app_id"]: row
        for row in Identity.objects.values("app_id").annotate(
            persons=Count("pk"), followers=Count("pk", filter=Q(followed=True))
        )
    }
    apps = list(App.objects.order_by("platform", "kind", "appid"))
    platforms: dict[str, dict] = {}
    followers = []
    for app in apps:
        counts = per_app.get(app.pk, {"persons": 0, "followers": 0})
        platform = platforms.setdefault(
            app.platform, {"platform": app.platform, "persons": 0, "apps": []}
        )
        platform["apps"].append(
            {"appid": app.appid, "name": app.name, "kind": app.kind, "persons": counts["persons"]}
        )
        if app.kind == AppKind.SERVICE_ACCOUNT:
            followers.append(
                {"appid": app.appid, "name": app.name, "followers": counts["followers"]}
            )
    for name, platform in platforms.items():
        if len(platform["apps"]) == 1:
            platform["persons"] = platform["apps"][0]["persons"]
        else:
            platform["persons"] = _platform_persons([a.pk for a in apps if a.platform == name])
    return {"platforms": list(platforms.values()), "followers": followers}


def _platform_persons(app_ids: list[int]) -> int:
    """Distinct persons with an openid in these apps: a walk of the (person, app) unique index
    in person order (about 0.4 s at 1.4M openids, where COUNT(DISTINCT) sorts for a second)."""
    return Identity.objects.filter(app_id__in=app_ids).values("person_id").distinct().count()


def new_persons(today: date) -> list[tuple[str, int]]:
    """New persons (first-ever event) per local day of the last 14 days: the acquisition
    report's totals."""
    start = today - timedelta(days=NEW_PERSONS_DAYS - 1)
    query = {"from": str(start), "to": str(today), "period": "day"}
    answer = _report(ACQUISITION, query)
    return [(period["start"], period["total"]) for period in answer["periods"]]


def lifecycle_this_week(today: date) -> dict:
    """The lifecycle report's split of the current week (any event, every app)."""
    query = {"from": str(today), "to": str(today), "period": "week", "event": "any"}
    answer = _report(LIFECYCLE, query)
    return answer["periods"][-1]


def settle_rates(today: date) -> list[dict]:
    """The latest week's settle rates of each mini-program and service account of a platform."""
    apps = list(App.objects.filter(kind__in=[AppKind.MINIPROGRAM, AppKind.SERVICE_ACCOUNT]))
    minis = sorted((a for a in apps if a.kind == AppKind.MINIPROGRAM), key=lambda a: a.appid)
    accounts = sorted((a for a in apps if a.kind != AppKind.MINIPROGRAM), key=lambda a: a.appid)
    pairs = [(m, s) for m in minis for s in accounts if m.platform == s.platform]
    rates = []
    deadline = _deadline()
    for mini, account in pairs[:MAX_SETTLE_PAIRS]:
        query = {
            "from": str(today),
            "to": str(today),
            "period": "week",
            "miniprogram": mini.appid,
            "service_account": account.appid,
        }
        latest = _report(SETTLE, query, deadline=deadline)["periods"][-1]
        rates.append(
            {
                "miniprogram": mini.appid,
                "miniprogram_name": mini.name,
                "service_account": account.appid,
                "service_account_name": account.name,
                **latest,
            }
        )
    return rates


def _report(report: str, query: dict, *, deadline: float | None = None) -> dict:
    """A report's answer within the widget's time limit, or within what is left of it before
    `deadline` (time.monotonic) when the widget runs several reports."""
    params = parse_params(report, query)
    if deadline is None:
        return REPORT_MODULES[report].compute(params)
    left_ms = int((deadline - time.monotonic()) * 1000)
    if left_ms < 1:
        raise ReportTimeout()
    with time_limit(left_ms):
        return REPORT_MODULES[report].compute(params)


def _deadline() -> float | None:
    """When a widget's time is spent (None: no limit)."""
    limit = settings.ANALYTICS_DASHBOARD_TIMEOUT_MS
    return time.monotonic() + limit / 1000 if limit else None


def largest_segments(today: date) -> list[dict]:
    """The largest segments by their latest snapshot, with the snapshots of the last 30 days."""
    since = today - timedelta(days=TREND_DAYS - 1)
    rows = (
        SegmentSnapshot.objects.filter(day__gte=since)
        .order_by("segment_id", "day")
        .values_list("segment_id", "segment__key", "segment__name", "day", "count")
    )
    segments: dict[int, dict] = {}
    for segment_id, key, name, day, count in rows:
        entry = segments.setdefault(segment_id, {"id": segment_id, "key": key, "name": name})
        entry.setdefault("trend", []).append(count)
        entry["count"], entry["day"] = count, str(day)
    largest = sorted(segments.values(), key=lambda entry: (-entry["count"], entry["key"]))
    return largest[:TOP_SEGMENTS]


WIDGETS: dict[str, Callable[[date], object]] = {
    "persons": persons_by_app,
    "new_persons": new_persons,
    "lifecycle": lifecycle_this_week,
    "settle": settle_rates,
    "segments": largest_segments,
}


def widget(name: str, today: date):
    """One widget's numbers from the cache, else computed and cached; None when it fails."""
    key = f"analytics:dashboard:{name}:{today}"
    try:
        cached = cache.get(key)
    except Exception as exc:  # a cache that is down costs the recomputation only
        logger.warning("Dashboard cache unavailable: %s", type(exc).__name__)
        cached = None
    if cached is not None:
        return cached
    try:
        # A savepoint: a failed statement must not spoil the page's other reads.
        with time_limit(settings.ANALYTICS_DASHBOARD_TIMEOUT_MS):
            value = WIDGETS[name](today)
    except ReportTimeout:
        logger.warning("Dashboard widget %s stopped by its time limit", name)
        return None
    except Exception as exc:
        logger.error("Dashboard widget %s failed: %s", name, type(exc).__name__)
        return None
    try:
        cache.set(key, value, CACHE_SECONDS)
    except Exception as exc:
        logger.warning("Dashboard cache unavailable: %s", type(exc).__name__)
    return value


def dashboard(today: date) -> dict:
    """Every widget's numbers (None for those that failed)."""
    return {name: widget(name, today) for name in WIDGETS}
