"""Integrity checks of profiles data, registered with identity's `check_identity_graph`."""

from django.db import connection

from identity.integrity import Check, register_check, sql_count
from profiles.services.activity import activity_drift
from profiles.services.stats_rebuild import rebuild_all_stats


def stats_drift() -> int:
    """Count the stats rows that differ from a rebuild from events and rollups, changing nothing.

    The incremental stats must equal a rebuild; the rebuild runs in a transaction that is rolled
    back, so that the check reads like any other.
    """
    return rebuild_all_stats(dry_run=True)[1]


def _rule_violations() -> int:
    """Assignments whose exclusive-group marker disagrees with their tag's group."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM profiles_tagassignment a JOIN profiles_tag t ON t.id = a.tag_id "
            "LEFT JOIN profiles_taggroup g ON g.id = t.group_id "
            "WHERE a.exclusive_group_id IS DISTINCT FROM "
            "(CASE WHEN g.exclusive THEN g.id END)"
        )
        return cursor.fetchone()[0]


def register() -> None:
    for check in (
        Check(
            "events_on_live_persons",
            "Events belong to persons that were not merged away.",
            sql_count(
                "SELECT count(*) FROM profiles_event e "
                "JOIN identity_person p ON p.id = e.person_id WHERE p.merged_into_id IS NOT NULL"
            ),
        ),
        Check(
            "events_have_keys",
            "Every event's idempotency key is in the ledger, under its id (a replay is refused).",
            sql_count(
                "SELECT count(*) FROM profiles_event e LEFT JOIN profiles_eventkey k "
                "ON k.id = e.id AND k.app_id IS NOT DISTINCT FROM e.app_id "
                "AND k.event_id = e.event_id WHERE k.id IS NULL"
            ),
        ),
        Check(
            "tags_on_live_persons",
            "Tag assignments belong to live persons.",
            sql_count(
                "SELECT count(*) FROM profiles_tagassignment a JOIN identity_person p "
                "ON p.id = a.person_id "
                "WHERE p.merged_into_id IS NOT NULL OR p.erased_at IS NOT NULL"
            ),
        ),
        Check(
            "exclusive_group_markers",
            "Each assignment carries its tag's group exactly when that group is exclusive.",
            _rule_violations,
        ),
        Check(
            "stats_equal_rebuild",
            "Per-person stats equal a rebuild from events and rollups.",
            stats_drift,
        ),
        Check(
            "activity_equal_rebuild",
            "Daily activity equals a rebuild from applied events, on the days events cover.",
            lambda: len(activity_drift()),
        ),
    ):
        register_check(check)
