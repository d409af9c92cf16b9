"""Segment sizes: live counts in one query, and the daily snapshots that chart growth."""

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from identity.models import Identity, Person
from profiles.conditions import compile_condition
from profiles.models import Segment, SegmentSnapshot


def count_segments(
    segments: list[Segment], *, allowed_app_ids: set[int] | None = None
) -> dict[int, int]:
    """Count the members of several segments in one query (a FILTER clause each).

    A key restricted to apps counts only the members it may see.
    """
    if not segments:
        return {}
    now = timezone.now()
    persons = Person.objects.live()
    if allowed_app_ids is not None:
        persons = persons.filter(
            pk__in=Identity.objects.filter(app_id__in=allowed_app_ids).values("person_id")
        )
    totals = persons.aggregate(
        **{
            f"s{segment.pk}": Count("pk", filter=Q(compile_condition(segment.condition, now=now)))
            for segment in segments
        }
    )
    return {segment.pk: totals[f"s{segment.pk}"] for segment in segments}


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
