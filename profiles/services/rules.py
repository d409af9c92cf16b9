"""Rule tags: keep each rule tag's holders equal to its condition, set-wise in SQL."""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError
from django.db.models.expressions import RawSQL
from django.utils import timezone

from identity import person_cache
from identity.models import Actor
from identity.services.audit import record_audit
from identity.services.retry import is_retryable
from profiles.conditions import ConditionInvalid, bounded_statements, failure_text, matching_persons
from profiles.conditions.validation import referenced_tags
from profiles.models import Tag, TagKind, TagSource

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    tag: str
    added: int
    removed: int
    failed: bool = False
    error: str = ""


def refresh_rule_tag(
    *, tag: Tag, actor: Actor, person_ids: Iterable[int] | None = None
) -> RefreshResult:
    """Add the tag to persons who now match its condition and remove it from those who don't.

    Three statements whatever the population: remove the no longer matching, free the exclusive
    group slot of the newly matching, insert the newly matching. `person_ids` limits the
    refresh to those persons (after an event ingest). The statements run under the condition
    statement timeout; a failure raises (`try_refresh_rule_tag` records it instead), and
    success clears a failure recorded before. A refresh of everyone, whoever asked (the save's
    job, the schedule, staff), records its time, duration and counts on the tag: what the
    admin shows as the last refresh.
    """
    if not tag.is_rule:
        raise ValueError(f"{tag.key} is not a rule tag")
    scope = None if person_ids is None else sorted(set(person_ids))
    matching = matching_persons(tag.condition)
    if scope is not None:
        # One array parameter, not `pk__in` with one placeholder per person: the pipeline
        # refreshes thousands of persons at a time, three statements per tag.
        matching = matching.filter(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [scope]))
    match_sql, match_params = matching.values("pk").query.sql_with_params()
    exclusive_group = tag.group_id if tag.group and tag.group.exclusive else None
    scope_sql = "" if scope is None else "AND a.person_id = ANY(%s)"
    scope_params = [] if scope is None else [scope]

    started = time.monotonic()
    with bounded_statements() as cursor:
        cursor.execute(
            # The matching persons once (MATERIALIZED): planned as a subquery re-run for each
            # assignment, tables whose statistics lag (new ones, a test's) took seconds.
            f"WITH m AS MATERIALIZED ({match_sql}) "  # noqa: S608
            f"DELETE FROM profiles_tagassignment a WHERE a.tag_id = %s {scope_sql} "
            # NOT EXISTS, not NOT IN: an anti-join, where NOT IN over a million ids falls back
            # to re-running the subquery for every assignment.
            f"AND NOT EXISTS (SELECT 1 FROM m WHERE m.pk = a.person_id) RETURNING a.person_id",
            [*match_params, tag.pk, *scope_params],
        )
        removed = cursor.rowcount
        touched = [row[0] for row in cursor.fetchall()]
        if exclusive_group is not None:
            cursor.execute(
                f"WITH m AS MATERIALIZED ({match_sql}) "  # noqa: S608
                f"DELETE FROM profiles_tagassignment a WHERE a.exclusive_group_id = %s "
                f"AND a.tag_id <> %s AND a.person_id IN (SELECT m.pk FROM m) "
                f"RETURNING a.person_id",
                [*match_params, exclusive_group, tag.pk],
            )
            touched += [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"INSERT INTO profiles_tagassignment "  # noqa: S608
            f"(person_id, tag_id, exclusive_group_id, source, assigned_by, assigned_at) "
            f"SELECT m.person_id, %s, %s, %s, %s, now() FROM ({match_sql}) AS m(person_id) "
            # A matching person whose (formerly manual) assignment expired holds it again.
            f"ON CONFLICT (person_id, tag_id) DO UPDATE SET expires_at = NULL, "
            f"source = EXCLUDED.source, assigned_at = EXCLUDED.assigned_at "
            f"WHERE profiles_tagassignment.expires_at IS NOT NULL "
            f"RETURNING profiles_tagassignment.person_id",
            [tag.pk, exclusive_group, TagSource.RULE, str(actor), *match_params],
        )
        added = cursor.rowcount
        touched += [row[0] for row in cursor.fetchall()]
        person_cache.changed(touched)
        cleared = {
            "last_refresh_error": "",
            "last_refresh_failed_at": None,
            "last_refresh_failure_full": False,
        }
        if scope is None:
            Tag.objects.filter(pk=tag.pk).update(
                last_refreshed_at=timezone.now(),
                last_refresh_added=added,
                last_refresh_removed=removed,
                last_refresh_duration=timedelta(seconds=time.monotonic() - started),
                **cleared,
            )
        elif tag.last_refresh_failed_at is not None and not tag.last_refresh_failure_full:
            Tag.objects.filter(pk=tag.pk).update(**cleared)
        if added or removed:
            record_audit(
                actor=actor,
                action="tag.refresh",
                target=tag.key,
                after={
                    "added": added,
                    "removed": removed,
                    "scope": "all" if scope is None else f"{len(scope)} persons",
                },
            )
    if scope is None or not tag.last_refresh_failure_full:
        tag.last_refresh_error, tag.last_refresh_failed_at = "", None
    return RefreshResult(tag=tag.key, added=added, removed=removed)


def try_refresh_rule_tag(
    *,
    tag: Tag,
    actor: Actor,
    person_ids: Iterable[int] | None = None,
    raise_lost_races: bool = False,
) -> RefreshResult:
    """Refresh a rule tag; when that fails, record why on the tag and report it, not raise.

    The refresh's own transaction (a savepoint inside another) is rolled back, so a condition
    that cannot be evaluated (stored before today's bounds, or slower than the timeout) costs
    nothing else: the ingest that asked goes on, and so do the other tags. The log names the
    tag and the kind of failure only.
    """
    if not tag.is_rule:
        raise ValueError(f"{tag.key} is not a rule tag")
    try:
        return refresh_rule_tag(tag=tag, actor=actor, person_ids=person_ids)
    except DatabaseError as exc:
        if raise_lost_races and is_retryable(exc):
            raise  # the caller runs its transaction again (the pipeline's chunk)
        error = failure_text(exc)
        logger.warning("Rule tag %s could not be refreshed: %s", tag.key, error)
    except ConditionInvalid as exc:
        error = failure_text(exc)
        logger.warning("Rule tag %s could not be refreshed: %s", tag.key, error)
    except Exception as exc:
        error = failure_text(exc)
        logger.exception("Rule tag %s could not be refreshed: %s", tag.key, error)
    failed_at = timezone.now()
    full = person_ids is None
    Tag.objects.filter(pk=tag.pk).update(
        last_refresh_error=error, last_refresh_failed_at=failed_at, last_refresh_failure_full=full
    )
    tag.last_refresh_error, tag.last_refresh_failed_at = error, failed_at
    tag.last_refresh_failure_full = full
    return RefreshResult(tag=tag.key, added=0, removed=0, failed=True, error=error)


def refresh_rule_tags(
    *,
    actor: Actor,
    person_ids: Iterable[int] | None = None,
    keys: Iterable[str] | None = None,
    raise_lost_races: bool = False,
) -> list[RefreshResult]:
    """Refresh every rule tag (or those named), each in its own transaction.

    A rule that mentions other rule tags runs after them, so it sees their fresh holders. A tag
    whose refresh fails is recorded and reported in its result; the others still refresh.
    """
    tags = Tag.objects.filter(kind=TagKind.RULE).select_related("group").order_by("key")
    if keys is not None:
        tags = tags.filter(key__in=list(keys))
    person_ids = None if person_ids is None else list(person_ids)
    return [
        try_refresh_rule_tag(
            tag=tag, actor=actor, person_ids=person_ids, raise_lost_races=raise_lost_races
        )
        for tag in dependency_order(list(tags))
    ]


def dependency_order(tags: list[Tag]) -> list[Tag]:
    """Order rule tags so that each comes after the rule tags its condition mentions."""
    by_key = {tag.key: tag for tag in tags}
    ordered, placed = [], set()

    def place(tag: Tag, path: frozenset) -> None:
        if tag.key in placed or tag.key in path:  # cycles are refused on save; never loop
            return
        for key in sorted(referenced_tags(tag.condition)):
            if key in by_key:
                place(by_key[key], path | {tag.key})
        placed.add(tag.key)
        ordered.append(tag)

    for tag in tags:
        place(tag, frozenset())
    return ordered
