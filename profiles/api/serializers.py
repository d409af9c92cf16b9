"""Request validation and the documented response shapes of the events, tags and segments API.

Answers built as plain dicts are declared once as shapes (`identity.api.shapes`): the serializer
documents the shape, `build` makes the answer. Event items are checked by `parse_event`; `EventIn`
documents them from the parser's names and limits.
"""

from collections.abc import Callable
from operator import attrgetter

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from identity.api.shapes import Key, Shape, build, schema_fields
from identity.validators import MAX_BATCH
from profiles.services import event_contract as contract

# How the schema describes each of `event_contract.FIELDS`, in that order: the parser checks
# them, and a field it takes without a description here fails the schema build.
EVENT_IN: dict[str, Callable[[], serializers.Field]] = {
    "event_id": lambda: serializers.CharField(
        max_length=contract.EVENT_ID_MAX_LENGTH,
        help_text="Client-made id (UUID), the idempotency key within its app.",
    ),
    "appid": lambda: serializers.CharField(required=False),
    "openid": lambda: serializers.CharField(required=False),
    "person_id": lambda: serializers.CharField(required=False),
    "type": lambda: serializers.CharField(
        help_text="register, login, view, pay, ... or a registered type"
    ),
    "occurred_at": lambda: serializers.DateTimeField(
        help_text=f"With an offset: Z or +hh:mm, at most ±{contract.MAX_OFFSET_TEXT}."
    ),
    "amount": lambda: serializers.DecimalField(
        max_digits=contract.AMOUNT_MAX_DIGITS,
        decimal_places=contract.AMOUNT_DECIMAL_PLACES,
        required=False,
    ),
    "channel": lambda: serializers.CharField(
        required=False, max_length=contract.CHANNEL_MAX_LENGTH
    ),
    "properties": lambda: serializers.DictField(required=False),
}


class EventIn(serializers.Serializer):
    """One event (documentation; items are validated one by one for per-item errors)."""

    def get_fields(self):
        return {name: EVENT_IN[name]() for name in contract.FIELDS}


class EventBatchIn(serializers.Serializer):
    # Any JSON item, `null` too: the ingest reports a bad item by its index and stores the rest.
    events = serializers.ListField(
        child=serializers.JSONField(allow_null=True), max_length=MAX_BATCH
    )


@extend_schema_serializer(component_name="EventBatchIn")
class EventBatchDoc(serializers.Serializer):
    """Up to 1000 events, each checked on its own: a bad one is reported, the others stored."""

    # Documents the items `EventBatchIn` takes as plain JSON, for the ingest to check one by one.
    events = serializers.ListField(child=EventIn(), max_length=MAX_BATCH)


class ItemErrorOut(serializers.Serializer):
    index = serializers.IntegerField()
    error = serializers.DictField()


class EventBatchOut(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = ItemErrorOut(many=True)


class EventsQuery(serializers.Serializer):
    type = serializers.SlugField(required=False, max_length=32)
    cursor = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Empty for the first page."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)


def _amount(event) -> str | None:
    if event.amount is None:
        return None
    return f"{event.amount:.{contract.AMOUNT_DECIMAL_PLACES}f}"


# An event as a person's timeline shows it.
EVENT_OUT: Shape = {
    "event_id": Key(serializers.CharField, attrgetter("event_id")),
    "type": Key(serializers.CharField, attrgetter("type_id")),
    "appid": Key(
        lambda: serializers.CharField(allow_null=True),
        lambda event: event.app.appid if event.app_id else None,
    ),
    "occurred_at": Key(serializers.DateTimeField, lambda event: event.occurred_at.isoformat()),
    "received_at": Key(serializers.DateTimeField, lambda event: event.received_at.isoformat()),
    "amount": Key(
        lambda: serializers.DecimalField(
            max_digits=contract.AMOUNT_MAX_DIGITS,
            decimal_places=contract.AMOUNT_DECIMAL_PLACES,
            allow_null=True,
        ),
        _amount,
    ),
    "channel": Key(lambda: serializers.CharField(allow_blank=True), attrgetter("channel")),
    "properties": Key(serializers.DictField, attrgetter("properties")),
}


class EventOut(serializers.Serializer):
    def get_fields(self):
        return schema_fields(EVENT_OUT)


def event_out(event) -> dict:
    """The answer for one event (its app loaded with it)."""
    return build(EVENT_OUT, event)


class EventPageOut(serializers.Serializer):
    results = EventOut(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class TagAssignIn(serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=32), min_length=1, max_length=50
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


# A tag definition as the tag list shows it. (A tag a person holds is the `tags` section of
# `P`: profiles.person_sections.)
TAG_DEFINITION: Shape = {
    "key": Key(serializers.CharField, attrgetter("key")),
    "name": Key(serializers.CharField, attrgetter("name")),
    "group": Key(
        lambda: serializers.CharField(allow_null=True),
        lambda tag: tag.group.key if tag.group_id else None,
    ),
    "exclusive": Key(
        serializers.BooleanField, lambda tag: bool(tag.group_id and tag.group.exclusive)
    ),
    "kind": Key(serializers.CharField, attrgetter("kind")),
    "condition": Key(lambda: serializers.JSONField(allow_null=True), attrgetter("condition")),
    "description": Key(lambda: serializers.CharField(allow_blank=True), attrgetter("description")),
}


class TagDefinitionOut(serializers.Serializer):
    def get_fields(self):
        return schema_fields(TAG_DEFINITION)


def tag_definition(tag) -> dict:
    """The answer for one tag definition (its group loaded with it)."""
    return build(TAG_DEFINITION, tag)


class TagListOut(serializers.Serializer):
    results = TagDefinitionOut(many=True)


class SegmentOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    condition = serializers.JSONField()
    count = serializers.IntegerField(
        allow_null=True, help_text="Live members; null when the count failed (see the logs)."
    )


class SegmentListOut(serializers.Serializer):
    results = SegmentOut(many=True)


class MembersQuery(serializers.Serializer):
    cursor = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Empty for the first page."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)
    appid = serializers.CharField(required=False, max_length=64)
