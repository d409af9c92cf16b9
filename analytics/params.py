"""The parameters of each report, validated once for the API and the admin's forms.

`parse_params(report, data, allowed_app_ids=...)` turns a plain dict of strings (a query
string, a form) into the report's frozen parameters, or raises InvalidInput naming each bad
field (a 400 in the API, form errors in the admin), or AppForbidden for an app outside the
key's apps. Event types are checked against the active types; `any` stands for every type
and becomes None.

The report names, the choices and the frozen dataclasses live in analytics.report_params; this
module imports them all, so that `from analytics.params import X` names any of them.
"""

from rest_framework import serializers

from analytics.audience import Audience, audience_for
from analytics.periods import DAY, MAX_PERIODS, PERIODS, WEEK
from analytics.report_params import (
    ACQUISITION,
    ACTIVE,
    ANY,
    BY_APP,
    BY_FIRST_CHANNEL,
    CELL_REPORTS,
    EARLIEST,
    FIRST_TIME,
    FUNNEL,
    LATEST,
    LIFECYCLE,
    LIFECYCLE_STATES,
    RECURRING,
    REPORTS,
    RETENTION,
    SETTLE,
    AcquisitionParams,
    ActiveParams,
    FunnelCell,
    FunnelParams,
    LifecycleCell,
    LifecycleParams,
    Range,
    RetentionCell,
    RetentionParams,
    SettleParams,
)
from identity.exceptions import AppForbidden, InvalidInput
from identity.models import App
from identity.selectors import get_app
from profiles.models import EventType, Segment

__all__ = [  # the names callers import from here, those of analytics.report_params included
    "ACQUISITION", "ACTIVE", "ANY", "BY_APP", "BY_FIRST_CHANNEL", "CELL_INPUTS", "CELL_REPORTS",
    "EARLIEST", "FIRST_TIME", "FUNNEL", "LATEST", "LIFECYCLE", "LIFECYCLE_STATES", "PERIODS",
    "QUERIES", "RECURRING", "REPORTS", "RETENTION", "SETTLE", "AcquisitionParams", "ActiveParams",
    "FunnelCell", "FunnelParams", "LifecycleCell", "LifecycleParams", "Range", "RetentionCell",
    "RetentionParams", "SettleParams", "parse_cell", "parse_params",
]  # fmt: skip


SETTLE_APPS = "The settle rate takes its apps as miniprogram and service_account."


class _Common(serializers.Serializer):
    # `from` is a keyword: the field is renamed in `__init__`.
    to = serializers.DateField(input_formats=["%Y-%m-%d"])
    app = serializers.CharField(required=False, max_length=64)
    segment = serializers.CharField(required=False, max_length=32)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateField(input_formats=["%Y-%m-%d"])


class _Periodic(_Common):
    period = serializers.ChoiceField(PERIODS, default=WEEK)


class RetentionQuery(_Periodic):
    start_event = serializers.CharField(default="register", max_length=32)
    return_event = serializers.CharField(default=ANY, max_length=32)
    mode = serializers.ChoiceField((FIRST_TIME, RECURRING), default=FIRST_TIME)
    cumulative = serializers.BooleanField(default=False)


class FunnelQuery(_Common):
    steps = serializers.CharField(max_length=8 * 33)
    window_days = serializers.IntegerField(default=14, min_value=1, max_value=90)


class LifecycleQuery(_Periodic):
    event = serializers.CharField(default=ANY, max_length=32)


class ActiveQuery(_Common):
    event = serializers.CharField(default=ANY, max_length=32)


class AcquisitionQuery(_Periodic):
    period = serializers.ChoiceField(PERIODS, default=DAY)
    by = serializers.ChoiceField((BY_FIRST_CHANNEL, BY_APP), default=BY_FIRST_CHANNEL)


class SettleQuery(_Periodic):
    app = None  # the report's two apps are its own parameters: `parse_params` refuses `app`
    miniprogram = serializers.CharField(max_length=64)
    service_account = serializers.CharField(max_length=64)


QUERIES = {
    RETENTION: RetentionQuery,
    FUNNEL: FunnelQuery,
    LIFECYCLE: LifecycleQuery,
    ACTIVE: ActiveQuery,
    ACQUISITION: AcquisitionQuery,
    SETTLE: SettleQuery,
}


class RetentionCellInput(serializers.Serializer):
    cohort = serializers.DateField(input_formats=["%Y-%m-%d"])
    offset = serializers.IntegerField(min_value=0, max_value=400)


class LifecycleCellInput(serializers.Serializer):
    period = serializers.DateField(input_formats=["%Y-%m-%d"])
    state = serializers.ChoiceField(LIFECYCLE_STATES)


class FunnelCellInput(serializers.Serializer):
    step = serializers.IntegerField(min_value=1, max_value=8)
    dropped = serializers.BooleanField(default=False)


CELL_INPUTS = {
    RETENTION: (RetentionCellInput, RetentionCell),
    LIFECYCLE: (LifecycleCellInput, LifecycleCell),
    FUNNEL: (FunnelCellInput, FunnelCell),
}


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise InvalidInput(
            {field: [str(m) for m in msgs] for field, msgs in serializer.errors.items()}
        )
    return serializer.validated_data


def _event_type(value: str, field: str) -> str | None:
    if value == ANY:
        return None
    if not EventType.objects.filter(key=value, is_active=True).exists():
        raise InvalidInput({field: [f"Unknown or inactive event type {value!r}."]})
    return value


def _range(values: dict, period: str) -> Range:
    date_from, date_to = values["from"], values["to"]
    for field in ("from", "to"):
        if not EARLIEST <= values[field] <= LATEST:
            raise InvalidInput({field: [f"Must be between {EARLIEST} and {LATEST}."]})
    if date_from > date_to:
        raise InvalidInput({"from": ["Must be on or before `to`."]})
    found = Range(period=period, date_from=date_from, date_to=date_to)
    # The span first: listing the periods of centuries would cost a request seconds.
    too_long = (date_to - date_from).days > MAX_PERIODS[period] * 31
    if too_long or len(found.starts) > MAX_PERIODS[period]:
        raise InvalidInput({"from": [f"At most {MAX_PERIODS[period]} {period}s per request."]})
    return found


def _app(appid: str, field: str) -> App:
    return get_app(appid, field=field)  # an unknown appid is a 400 unknown_app naming `field`


def _audience(values: dict, allowed_app_ids: set[int] | None) -> Audience:
    app = _app(values["app"], "app") if values.get("app") else None
    segment = None
    if values.get("segment"):
        segment = Segment.objects.filter(key=values["segment"]).first()
        if segment is None:
            raise InvalidInput({"segment": [f"Unknown segment {values['segment']!r}."]})
    return audience_for(app=app, segment=segment, allowed_app_ids=allowed_app_ids)


def parse_params(report: str, data: dict, *, allowed_app_ids: set[int] | None = None):
    """Validate a report's parameters (strings, as in a query string) into its dataclass."""
    values = _valid(QUERIES[report], data)
    if report == SETTLE and "app" in data:  # silently ignored, it would look like a filter
        raise InvalidInput({"app": [SETTLE_APPS]})
    audience = _audience(values, allowed_app_ids)
    if report == RETENTION:
        return RetentionParams(
            audience=audience,
            range=_range(values, values["period"]),
            start_event=_event_type(values["start_event"], "start_event"),
            return_event=_event_type(values["return_event"], "return_event"),
            mode=values["mode"],
            cumulative=values["cumulative"],
        )
    if report == FUNNEL:
        steps = [step.strip() for step in values["steps"].split(",")]
        if not 2 <= len(steps) <= 8:
            raise InvalidInput({"steps": ["Give 2 to 8 comma-separated event types."]})
        return FunnelParams(
            audience=audience,
            range=_range(values, DAY),
            steps=tuple(_event_type(step, "steps") for step in steps),
            window_days=values["window_days"],
        )
    if report == LIFECYCLE:
        return LifecycleParams(
            audience=audience,
            range=_range(values, values["period"]),
            event=_event_type(values["event"], "event"),
        )
    if report == ACTIVE:
        return ActiveParams(
            audience=audience,
            range=_range(values, DAY),
            event=_event_type(values["event"], "event"),
        )
    if report == ACQUISITION:
        return AcquisitionParams(
            audience=audience, range=_range(values, values["period"]), by=values["by"]
        )
    miniprogram = _app(values["miniprogram"], "miniprogram")
    service_account = _app(values["service_account"], "service_account")
    for field, app in (("miniprogram", miniprogram), ("service_account", service_account)):
        if allowed_app_ids is not None and app.pk not in allowed_app_ids:
            raise AppForbidden(details={"field": field})
    return SettleParams(
        audience=audience,
        range=_range(values, values["period"]),
        miniprogram=miniprogram,
        service_account=service_account,
    )


def parse_cell(report: str, data: dict):
    """Validate the cell of a report that can be saved as a tag."""
    if report not in CELL_INPUTS:
        raise InvalidInput({"report": [f"Cells of {report!r} cannot be saved as a tag."]})
    serializer_class, cell_class = CELL_INPUTS[report]
    return cell_class(**_valid(serializer_class, data))
