"""The dashboard above the admin index's app list: analytics.dashboard's numbers, labelled in
the admin's language, with a bar chart of new persons and sparklines of segment sizes.

Shown to staff who may view reports; a widget whose numbers failed is left out, and if the
whole dashboard fails the index shows its app list as before.
"""

from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from analytics import dashboard
from analytics.charts import figure_json
from analytics.charts.cohorts import state_names
from analytics.charts.common import percent
from analytics.charts.small import new_persons, sparkline_points
from analytics.params import LIFECYCLE_STATES
from analytics.periods import local_date
from identity.models import AppKind, Platform

VIEW_PERMISSION = "analytics.view_report"


def _persons(data: dict | None) -> dict | None:
    if data is None:
        return None
    persons_url = reverse("admin:identity_person_changelist")
    kinds = dict(AppKind.choices)
    platforms = dict(Platform.choices)
    for platform in data["platforms"]:
        platform["label"] = platforms.get(platform["platform"], platform["platform"])
        for app in platform["apps"]:
            app["kind_label"] = kinds.get(app["kind"], app["kind"])
            app["url"] = f"{persons_url}?{urlencode({'app': app['appid']})}"
    for account in data["followers"]:
        account["url"] = f"{persons_url}?{urlencode({'followed': account['appid']})}"
    return data


def _lifecycle(period: dict | None) -> dict | None:
    if period is None:
        return None
    names = state_names()
    states = [{"state": s, "label": names[s], "count": period[s]} for s in LIFECYCLE_STATES]
    return {"start": period["start"], "states": states}


def _settle(rates: list[dict] | None) -> list[dict] | None:
    if not rates:
        return None  # no mini-program and service account of one platform: no widget
    for rate in rates:
        rate["settle_text"] = percent(rate["settle_rate"])
        rate["cohort_text"] = percent(rate["cohort_rate"])
    return rates


def _segments(segments: list[dict] | None) -> list[dict] | None:
    if segments is None:
        return None
    for segment in segments:
        segment["points"] = sparkline_points(segment["trend"])
        segment["url"] = reverse("admin:profiles_segment_change", args=[segment["id"]])
    return segments


def dashboard_context(request) -> dict:
    """The template context of the dashboard, `{"show": False}` for staff without reports."""
    if not request.user.has_perm(VIEW_PERMISSION):
        return {"show": False}
    today = local_date(timezone.now())
    data = dashboard.dashboard(today)  # cache copies: the labels below change no cached value
    days = data["new_persons"]
    return {
        "show": True,
        "today": today,
        "persons": _persons(data["persons"]),
        "new_persons": days,
        "new_persons_total": sum(count for _, count in days) if days is not None else None,
        "new_persons_figure": figure_json(new_persons(days)) if days else None,
        "lifecycle": _lifecycle(data["lifecycle"]),
        "settle": _settle(data["settle"]),
        "segments": _segments(data["segments"]),
        "reports_url": reverse("admin:analytics_report_changelist"),
        "lifecycle_url": reverse("admin:analytics_report_lifecycle"),
        "settle_url": reverse("admin:analytics_report_settle"),
        "acquisition_url": reverse("admin:analytics_report_acquisition"),
    }
