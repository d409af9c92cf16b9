"""The documented answers of the reports, and the body of save-as-tag.

The reports build their answers as plain dicts (analytics.reports); the serializers here only
describe them for the schema, exactly, nullable rates included: the schema-based fuzzing checks
every answer against them.

A save-as-tag body holds the report's parameters, the cell and the tag in one JSON object. The
parameters and the cell are validated by analytics.params, which takes strings as a query
string gives them, so `split_body` turns the JSON values into those strings first: text as it
is, a JSON integer for an integer field, a JSON boolean for a boolean one; anything else (null,
a list, an object, a number where text is expected, text PostgreSQL cannot store) is a 400
naming the field. A lifecycle cell
names its period `period` (analytics.md), which is also the name of the report's granularity:
in that body the granularity is `granularity`.
"""

import copy

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.params import (
    BY_APP,
    BY_FIRST_CHANNEL,
    CELL_INPUTS,
    FIRST_TIME,
    LIFECYCLE,
    PERIODS,
    QUERIES,
    RECURRING,
)
from identity.exceptions import InvalidInput
from profiles.conditions.values import UNSTORABLE, is_storable
from profiles.services.tag_sets import KEY_CHARS, NAME_CHARS


def _count():
    return serializers.IntegerField(min_value=0)


def _rate():
    return serializers.FloatField(
        min_value=0, max_value=1, allow_null=True, help_text="4 places; null when nobody."
    )


class RetentionCohortOut(serializers.Serializer):
    start = serializers.DateField()
    size = _count()
    values = serializers.ListField(
        child=_count(), help_text="values[0] is the size; values[k] the returns k periods later."
    )


class RetentionOut(serializers.Serializer):
    period = serializers.ChoiceField(PERIODS)
    mode = serializers.ChoiceField((FIRST_TIME, RECURRING))
    cumulative = serializers.BooleanField()
    cohorts = RetentionCohortOut(many=True)


class FunnelStepOut(serializers.Serializer):
    type = serializers.CharField(help_text="The step's event type, or `any`.")
    count = _count()
    conversion = _rate()
    from_previous = _rate()
    median_seconds = serializers.FloatField(min_value=0, allow_null=True)


class FunnelOut(serializers.Serializer):
    window_days = serializers.IntegerField(min_value=1, max_value=90)
    steps = FunnelStepOut(many=True)


class LifecyclePeriodOut(serializers.Serializer):
    start = serializers.DateField()
    new = _count()
    returning = _count()
    resurrecting = _count()
    dormant = _count()


class LifecycleOut(serializers.Serializer):
    period = serializers.ChoiceField(PERIODS)
    periods = LifecyclePeriodOut(many=True)


class ActiveDayOut(serializers.Serializer):
    date = serializers.DateField()
    dau = _count()
    wau = _count()
    mau = _count()
    stickiness = _rate()


class ActiveOut(serializers.Serializer):
    days = ActiveDayOut(many=True)


class AcquisitionPeriodOut(serializers.Serializer):
    start = serializers.DateField()
    total = _count()
    by = serializers.DictField(
        child=_count(), help_text='New persons by first channel ("" for none) or by appid.'
    )


class AcquisitionOut(serializers.Serializer):
    period = serializers.ChoiceField(PERIODS)
    by = serializers.ChoiceField((BY_FIRST_CHANNEL, BY_APP))
    periods = AcquisitionPeriodOut(many=True)


class SettlePeriodOut(serializers.Serializer):
    start = serializers.DateField()
    visitors_total = _count()
    followers_among_visitors = _count()
    settle_rate = _rate()
    new_visitors = _count()
    followed_within_7_days = _count()
    cohort_rate = _rate()


class SettleOut(serializers.Serializer):
    periods = SettlePeriodOut(many=True)


class SaveAsTagOut(serializers.Serializer):
    tag = serializers.CharField()
    tagged = serializers.IntegerField(min_value=0, help_text="The persons of the cell.")


class TagTargetIn(serializers.Serializer):
    tag = serializers.SlugField(max_length=KEY_CHARS, help_text="A manual tag, created if new.")
    name = serializers.CharField(
        required=False, max_length=NAME_CHARS, help_text="The label of a new tag (default: key)."
    )


# Body names of report parameters whose own name the cell takes.
RENAMED = {LIFECYCLE: {"period": "granularity"}}


def _parts(report: str) -> list[tuple[str, dict[str, serializers.Field]]]:
    """The body's fields in three parts (params, cell, tag), by their names in the body."""
    renamed = RENAMED.get(report, {})
    query = QUERIES[report]().fields
    return [
        ("params", {renamed.get(name, name): field for name, field in query.items()}),
        ("cell", dict(CELL_INPUTS[report][0]().fields)),
        ("tag", dict(TagTargetIn().fields)),
    ]


_KINDS = {serializers.BooleanField: "boolean", serializers.IntegerField: "integer"}


def _kind(field: serializers.Field) -> str | None:
    """The JSON type a field takes besides text ("boolean", "integer"), or None."""
    return next((name for cls, name in _KINDS.items() if isinstance(field, cls)), None)


def _text(value, kind: str | None) -> str | None:
    """A JSON value as the string analytics.params expects, or None for a wrong type."""
    if isinstance(value, str):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "integer" and integral and not isinstance(value, bool):
        return str(int(value))
    return None


def split_body(report: str, body) -> tuple[dict, dict, dict]:
    """The parameters (by their query names), the cell and the tag of a save-as-tag body, as
    strings; fields the body does not know are ignored, as everywhere in this API."""
    if not isinstance(body, dict):
        raise InvalidInput({"non_field_errors": ["Send a JSON object."]})
    renamed = {body_name: name for name, body_name in RENAMED.get(report, {}).items()}
    parts, errors = {}, {}
    for part, fields in _parts(report):
        parts[part] = {}
        for name in fields.keys() & body.keys():
            kind = _kind(fields[name])
            text = _text(body[name], kind)
            if text is None:
                errors[name] = [f"Must be a string{f' or a JSON {kind}' if kind else ''}."]
            elif not is_storable(text):
                errors[name] = [f"Text {UNSTORABLE}"]
            else:
                parts[part][renamed.get(name, name) if part == "params" else name] = text
    if report == LIFECYCLE and parts["cell"].get("period") in PERIODS:
        errors["period"] = ["The cell's first date; give the report's period as `granularity`."]
    if errors:
        raise InvalidInput(errors)
    return parts["params"], parts["cell"], parts["tag"]


def _documented(field: serializers.Field) -> serializers.Field:
    """A body field as the schema shows it: an integer or boolean may also come as text."""
    kind = _kind(field)
    if kind is None:
        return copy.deepcopy(field)
    schema = {"type": kind}
    for bound, key in (("min_value", "minimum"), ("max_value", "maximum")):
        if getattr(field, bound, None) is not None:
            schema[key] = getattr(field, bound)
    doc = serializers.Field(required=field.required)
    return extend_schema_field({"oneOf": [schema, {"type": "string"}]})(doc)


def save_as_tag_doc(report: str) -> type[serializers.Serializer]:
    """The documented body of a report's save-as-tag (analytics.params validates it)."""

    def get_fields(self):
        return {name: _documented(f) for _, fields in _parts(report) for name, f in fields.items()}

    name = f"Save{report.capitalize()}CellIn"
    return type(name, (serializers.Serializer,), {"get_fields": get_fields, "__doc__": None})
