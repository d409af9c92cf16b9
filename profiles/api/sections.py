"""The `stats` and `tags` sections of the person representation."""

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import OuterRef
from django.db.models.functions import JSONObject
from rest_framework import serializers

from identity.person_sections import PersonSection
from profiles.models import PersonEventStats, TagAssignment


class StatsOut(serializers.Serializer):
    first_seen_at = serializers.DateTimeField(allow_null=True)
    last_seen_at = serializers.DateTimeField(allow_null=True)
    first_channel = serializers.CharField(allow_blank=True)
    last_login_at = serializers.DateTimeField(allow_null=True)
    event_count = serializers.IntegerField()
    pay_count = serializers.IntegerField()
    pay_total = serializers.DecimalField(max_digits=16, decimal_places=2)
    last_pay_at = serializers.DateTimeField(allow_null=True)
    events = serializers.DictField(
        child=serializers.DictField(), help_text="Per event type: count and last_at."
    )


def _iso(value):
    return value.isoformat() if value else None


def render_stats(person) -> dict:
    try:
        stats = person.stats
    except ObjectDoesNotExist:
        stats = None
    per_type = {
        row["type"]: {"count": row["count"], "last_at": row["last_at"]} for row in person.event_rows
    }
    if stats is None:
        return {
            "first_seen_at": None,
            "last_seen_at": None,
            "first_channel": "",
            "last_login_at": None,
            "event_count": 0,
            "pay_count": 0,
            "pay_total": "0.00",
            "last_pay_at": None,
            "events": per_type,
        }
    return {
        "first_seen_at": _iso(stats.first_seen_at),
        "last_seen_at": _iso(stats.last_seen_at),
        "first_channel": stats.first_channel,
        "last_login_at": _iso(stats.last_login_at),
        "event_count": stats.event_count,
        "pay_count": stats.pay_count,
        "pay_total": f"{stats.pay_total:.2f}",
        "last_pay_at": _iso(stats.last_pay_at),
        "events": per_type,
    }


STATS_SECTION = PersonSection(
    name="stats",
    prepare=lambda queryset: queryset.select_related("stats").annotate(
        event_rows=ArraySubquery(
            PersonEventStats.objects.filter(person=OuterRef("pk"))
            .order_by("type")
            .values(json=JSONObject(type="type", count="count", last_at="last_at"))
        )
    ),
    render=render_stats,
    schema=lambda: StatsOut(),
)


class TagOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    group = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    assigned_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


def _prepare_tags(queryset):
    active = (
        TagAssignment.objects.active()
        .filter(person=OuterRef("pk"))
        .order_by("tag__key")
        .values(
            json=JSONObject(
                key="tag__key",
                name="tag__name",
                group="tag__group__key",
                source="source",
                assigned_at="assigned_at",
                expires_at="expires_at",
            )
        )
    )
    return queryset.annotate(tag_rows=ArraySubquery(active))


def render_tags(person) -> list[dict]:
    return list(person.tag_rows)


TAGS_SECTION = PersonSection(
    name="tags", prepare=_prepare_tags, render=render_tags, schema=lambda: TagOut(many=True)
)
