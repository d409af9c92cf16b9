"""Segment sizes: live counts in one query, and the daily snapshots that chart growth."""

from django.db import connection, transaction
from django.utils import timezone

from identity.models import Identity, Person
from profiles.conditions import compile_condition
from profiles.models import Segment, SegmentSnapshot


def count_segments(
    segments: list[Segment], *, allowed_app_ids: set[int] | None = None
) -> dict[int, int]:
    """Count the members of several segments in one statement (a scalar subquery each).

    Each count is its own WHERE clause, so PostgreSQL turns the condition's EXISTS into joins;
    an aggregate FILTER would evaluate them row by row. A key restricted to apps counts only
    the members it may see.
    """
    if not segments:
        return {}
    now = timezone.now()
    parts, params = [], []
    for segment in segments:
        members = Person.objects.live().filter(compile_condition(segment.condition, now=now))
        if allowed_app_ids is not None:
            members = members.filter(
                pk__in=Identity.objects.filter(app_id__in=allowed_app_ids).values("person_id")
            )
        sql, member_params = members.values("pk").query.sql_with_params()
        parts.append(f"(SELECT count(*) FROM ({sql}) AS members)")  # noqa: S608
        params += member_params
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        counts = cursor.fetchone()
    return {segment.pk: count for segment, count in zip(segments, counts, strict=True)}


def snapshot_segments() -> list[SegmentSnapshot]:
    """Record today's size of every segment (re-running the same day overwrites it)."""
    segments = list(Segment.objects.all())
    counts = count_segments(segments)
    today = timezone.localdate()
    with transaction.atomic():
        return [
            SegmentSnapshot.objects.update_or_create(
                segment=segment, day=today, defaults={"count": counts[segment.pk]}
            )[0]
            for segment in segments
        ]
