"""The parameters of each report page as a GET form, with the defaults an operator expects.

Validation is analytics.params' alone (shared with the API): the forms render the fields as
selects and date inputs and carry its errors (`show_errors`), so that the page and the API
refuse the same values with the same messages, and a bad value is a form error, never a 500.
Field names are the API's, but for the funnel's steps: one select per step (`step_1` ...),
joined into `steps` by `api_params`.
"""

from datetime import date, timedelta

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from analytics.params import ACQUISITION, ACTIVE, ANY, FUNNEL, LIFECYCLE, RETENTION, SETTLE
from identity.models import App, AppKind
from profiles.event_type_names import event_type_name
from profiles.models import EventType, Segment

MAX_STEPS = 8
DEFAULT_STEPS = ("register", "login", "view", "pay")
PERIOD_CHOICES = [
    ("day", pgettext_lazy("period", "day")),
    ("week", pgettext_lazy("period", "week")),
    ("month", pgettext_lazy("period", "month")),
]
MODE_CHOICES = [("first_time", _("first time")), ("recurring", _("recurring"))]
BY_CHOICES = [("first_channel", _("first channel")), ("app", _("first app"))]
FIELDS = {
    RETENTION: (
        "from", "to", "period", "start_event", "return_event", "mode", "cumulative", "app",
        "segment",
    ),
    FUNNEL: ("from", "to", *[f"step_{n}" for n in range(1, MAX_STEPS + 1)], "window_days",
             "app", "segment"),
    LIFECYCLE: ("from", "to", "period", "event", "app", "segment"),
    ACTIVE: ("from", "to", "event", "app", "segment"),
    ACQUISITION: ("from", "to", "period", "by"),
    SETTLE: ("from", "to", "period", "miniprogram", "service_account"),
}  # fmt: skip
LABELS = {
    "from": _("from"),
    "to": _("to"),
    "period": _("period"),
    "start_event": _("start event"),
    "return_event": _("return event"),
    "mode": _("cohorts"),
    "cumulative": _("cumulative"),
    "app": _("app"),
    "segment": _("segment"),
    "window_days": _("window (days)"),
    "event": _("event"),
    "by": _("by"),
    "miniprogram": _("mini-program"),
    "service_account": _("service account"),
}


def _select(label, choices) -> forms.Field:
    # A CharField: an unknown value reaches analytics.params, which names it.
    return forms.CharField(label=label, required=False, widget=forms.Select(choices=choices))


class Choices:
    """The apps, segments and active event types, read once per page."""

    def __init__(self):
        self.apps = list(App.objects.order_by("appid"))
        self.segments = list(Segment.objects.order_by("key").values_list("key", "name"))
        self.types = list(
            EventType.objects.filter(is_active=True).order_by("key").values_list("key", "name")
        )

    def apps_of(self, kind: str | None = None) -> list[tuple[str, str]]:
        return [(app.appid, str(app)) for app in self.apps if kind is None or app.kind == kind]

    def events(self) -> list[tuple[str, str]]:
        return [
            (ANY, _("any event")),
            *[(key, f"{event_type_name(key, name)} ({key})") for key, name in self.types],
        ]

    def field(self, name: str) -> forms.Field:
        label = capfirst(LABELS.get(name, ""))
        if name in ("from", "to"):
            return forms.CharField(
                label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
            )
        if name == "period":
            return _select(label, PERIOD_CHOICES)
        if name == "mode":
            return _select(label, MODE_CHOICES)
        if name == "by":
            return _select(label, BY_CHOICES)
        if name == "cumulative":
            return forms.BooleanField(label=label, required=False)
        if name == "window_days":
            attrs = {"min": 1, "max": 90}
            return forms.CharField(label=label, required=False, widget=forms.NumberInput(attrs))
        if name == "app":
            return _select(label, [("", _("all apps")), *self.apps_of()])
        if name == "segment":
            return _select(label, [("", _("everyone")), *self.segments])
        if name == "miniprogram":
            return _select(label, [("", "—"), *self.apps_of(AppKind.MINIPROGRAM)])
        if name == "service_account":
            return _select(label, [("", "—"), *self.apps_of(AppKind.SERVICE_ACCOUNT)])
        if name.startswith("step_"):
            number = int(name.removeprefix("step_"))
            blank = [] if number <= 2 else [("", "—")]
            label = capfirst(_("step %(number)d") % {"number": number})
            return _select(label, [*blank, *self.events()])
        return _select(label, self.events())  # start_event, return_event, event

    def defaults(self, report: str, today: date) -> dict[str, str]:
        """Last 12 weeks for the periodic reports, last 30 days for the daily ones."""
        weeks = {"from": str(today - timedelta(weeks=11)), "to": str(today), "period": "week"}
        days = {"from": str(today - timedelta(days=29)), "to": str(today)}
        if report == RETENTION:
            return {**weeks, "start_event": "register", "return_event": ANY, "mode": "first_time"}
        if report == LIFECYCLE:
            return {**weeks, "event": ANY}
        if report == FUNNEL:
            known = {key for key, _ in self.types}
            steps = [step for step in DEFAULT_STEPS if step in known] or [ANY, ANY]
            return {**days, "window_days": "14", **_step_fields(steps)}
        if report == ACTIVE:
            return {**days, "event": ANY}
        if report == ACQUISITION:
            return {**days, "period": "day", "by": "first_channel"}
        return {**weeks, **self._settle_apps()}

    def _settle_apps(self) -> dict[str, str]:
        """The first mini-program and a service account of its platform (else the first)."""
        minis = [app for app in self.apps if app.kind == AppKind.MINIPROGRAM]
        accounts = [app for app in self.apps if app.kind == AppKind.SERVICE_ACCOUNT]
        chosen = {}
        if minis:
            chosen["miniprogram"] = minis[0].appid
            accounts.sort(key=lambda app: app.platform != minis[0].platform)
        if accounts:
            chosen["service_account"] = accounts[0].appid
        return chosen


def _step_fields(steps: list[str]) -> dict[str, str]:
    return {f"step_{n}": step for n, step in enumerate(steps[:MAX_STEPS], start=1)}


class ReportForm(forms.Form):
    """One report's parameters, bound to the defaults overlaid with the query string."""

    def __init__(self, report: str, query, *, choices: Choices, today: date):
        self.report = report
        data = choices.defaults(report, today)
        given = {key: query.get(key, "") for key in query}
        if report == FUNNEL and "steps" in given and "step_1" not in given:
            given.update(_step_fields(given.pop("steps").split(",")))
            data = {key: value for key, value in data.items() if not key.startswith("step_")}
        if report == FUNNEL and "step_1" in given:
            data = {key: value for key, value in data.items() if not key.startswith("step_")}
        super().__init__({**data, **given})
        for name in FIELDS[report]:
            self.fields[name] = choices.field(name)
        self.full_clean()  # nothing to refuse here; lets show_errors add to `errors`

    def api_params(self) -> dict[str, str]:
        """The report's parameters as the API takes them; empty fields are left out."""
        values = {}
        for name in self.fields:
            value = str(self.data.get(name, "")).strip()
            if name == "cumulative":
                value = "true" if value.lower() in ("on", "true", "1") else "false"
            if value and not name.startswith("step_"):
                values[name] = value
        if self.report == FUNNEL:
            steps = [str(self.data.get(f"step_{n}", "")).strip() for n in range(1, MAX_STEPS + 1)]
            if any(steps):
                values["steps"] = ",".join(step for step in steps if step)
        return values

    def show_errors(self, details: dict) -> None:
        """Put analytics.params' errors ({field: [messages]}) on the fields they name."""
        for field, messages in details.items():
            if field == "steps":
                field = "step_1"
            self.add_error(field if field in self.fields else None, [str(m) for m in messages])
