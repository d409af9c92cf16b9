from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from identity.validators import MAX_BATCH


class EventIn(serializers.Serializer):
    """One event (documentation; items are validated one by one for per-item errors)."""

    event_id = serializers.CharField(
        max_length=64, help_text="Client-made id (UUID), the idempotency key within its app."
    )
    appid = serializers.CharField(required=False)
    openid = serializers.CharField(required=False)
    person_id = serializers.CharField(required=False)
    type = serializers.CharField(help_text="register, login, view, pay, ... or a registered type")
    occurred_at = serializers.DateTimeField(
        help_text="With an offset: Z or +hh:mm, at most ±15:59."
    )
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    channel = serializers.CharField(required=False, max_length=64)
    properties = serializers.DictField(required=False)


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


class EventOut(serializers.Serializer):
    event_id = serializers.CharField()
    type = serializers.CharField()
    appid = serializers.CharField(allow_null=True)
    occurred_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    channel = serializers.CharField(allow_blank=True)
    properties = serializers.DictField()


class EventPageOut(serializers.Serializer):
    results = EventOut(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class TagAssignIn(serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=32), min_length=1, max_length=50
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class TagDefinitionOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    group = serializers.CharField(allow_null=True)
    exclusive = serializers.BooleanField()
    kind = serializers.CharField()
    condition = serializers.JSONField(allow_null=True)
    description = serializers.CharField(allow_blank=True)


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
