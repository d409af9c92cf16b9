"""Segment sizes: live counts in one query, and the daily snapshots that chart growth."""

import logging
import time

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from identity.models import Identity, Person
from profiles.conditions import (
    ConditionInvalid,
    bounded_statements,
    compile_condition,
    failure_text,
)
from profiles.models import Segment, SegmentSnapshot

logger = logging.getLogger(__name__)


def count_segments(
    segments: list[Segment], *, allowed_app_ids: set[int] | None = None
) -> dict[int, int | None]:
    """Count the members of several segments in one statement (a scalar subquery each).

    Each count is its own WHERE clause, so PostgreSQL turns the condition's EXISTS into joins;
    an aggregate FILTER would evaluate them row by row. A key restricted to apps counts only
    the members it may see. A segment that cannot be counted counts None, and the others
    still count: a condition that no longer compiles (stored before today's bounds) stays out
    of the statement, and when the statement fails (its timeout, say) each segment is counted
    on its own, all of them within one more timeout: a listing waits at most twice the timeout,
    however many segments are slow.
    """
    now = timezone.now()
    counts: dict[int, int | None] = {}
    queries: dict[Segment, tuple[str, list]] = {}
    for segment in segments:
        try:
            queries[segment] = _members_sql(segment, now, allowed_app_ids)
        except ConditionInvalid as exc:
            counts[segment.pk] = _failed(segment, exc)
    try:
        counts.update(_count(queries))
    except DatabaseError as exc:
        if len(queries) == 1:  # counting it again alone would fail the same way
            (segment,) = queries
            counts[segment.pk] = _failed(segment, exc)
        else:
            counts.update(_count_each(queries))
    return {segment.pk: counts[segment.pk] for segment in segments}


def _members_sql(segment: Segment, now, allowed_app_ids) -> tuple[str, list]:
    members = Person.objects.live().filter(compile_condition(segment.condition, now=now))
    if allowed_app_ids is not None:
        members = members.filter(
            pk__in=Identity.objects.filter(app_id__in=allowed_app_ids).values("person_id")
        )
    return members.values("pk").query.sql_with_params()


def _count(queries: dict[Segment, tuple[str, list]], *, timeout_ms=None) -> dict[int, int]:
    if not queries:
        return {}
    parts, params = [], []
    for sql, member_params in queries.values():
        parts.append(f"(SELECT count(*) FROM ({sql}) AS members)")  # noqa: S608
        params += member_params
    with bounded_statements(timeout_ms) as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        counts = cursor.fetchone()
    return {segment.pk: count for segment, count in zip(queries, counts, strict=True)}


def _count_each(queries: dict[Segment, tuple[str, list]]) -> dict[int, int | None]:
    """Count segments one by one, sharing one timeout's worth of time between them."""
    limit = settings.CONDITION_STATEMENT_TIMEOUT_MS
    deadline = time.monotonic() + limit / 1000
    counts: dict[int, int | None] = {}
    for segment, query in queries.items():
        left_ms = int((deadline - time.monotonic()) * 1000) if limit else None  # 0: no limit
        if left_ms is not None and left_ms < 1:
            logger.warning("Segment %s not counted: the listing's time is spent", segment.key)
            counts[segment.pk] = None
            continue
        try:
            counts.update(_count({segment: query}, timeout_ms=left_ms))
        except DatabaseError as single:
            counts[segment.pk] = _failed(segment, single)
    return counts


def _failed(segment: Segment, exc: Exception) -> None:
    """Log why a segment has no count (its key and the kind of failure); its count is None."""
    logger.warning("Segment %s could not be counted: %s", segment.key, failure_text(exc))


def snapshot_segments() -> list[SegmentSnapshot]:
    """Record today's size of every segment (re-running the same day overwrites it).

    A segment that cannot be counted today gets no snapshot (its failure is logged).
    """
    segments = list(Segment.objects.all())
    counts = count_segments(segments)
    today = timezone.localdate()
    with transaction.atomic():
        return [
            SegmentSnapshot.objects.update_or_create(
                segment=segment, day=today, defaults={"count": counts[segment.pk]}
            )[0]
            for segment in segments
            if counts[segment.pk] is not None
        ]
