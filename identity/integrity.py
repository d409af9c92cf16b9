"""Checks of every invariant of the identity graph (DESIGN.md), for `check_identity_graph`.

Each check is one SQL query counting violations, so the whole graph is verified in seconds at
millions of rows. Apps register their own checks (profiles: stats equal a rebuild, events and
tags only on live persons).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    count: Callable[[], int]


def sql_count(sql: str) -> Callable[[], int]:
    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]

    return count


_checks: dict[str, Check] = {}


def register_check(check: Check) -> None:
    _checks[check.name] = check


def checks() -> list[Check]:
    return list(_checks.values())


def run_checks() -> dict[str, int]:
    """Return the number of violations per check (all zero for a sound graph)."""
    return {check.name: check.count() for check in checks()}


for _check in (
    Check(
        "identities_on_live_persons",
        "Every openid belongs to a live person (not merged away, not erased).",
        sql_count(
            "SELECT count(*) FROM identity_identity i JOIN identity_person p ON p.id = i.person_id "
            "WHERE p.merged_into_id IS NOT NULL OR p.erased_at IS NOT NULL"
        ),
    ),
    Check(
        "unionids_on_live_persons",
        "Every unionid belongs to a live person.",
        sql_count(
            "SELECT count(*) FROM identity_unionid u JOIN identity_person p ON p.id = u.person_id "
            "WHERE p.merged_into_id IS NOT NULL OR p.erased_at IS NOT NULL"
        ),
    ),
    Check(
        "tombstones_one_hop",
        "A merged-away person points straight at a person that was not merged away.",
        sql_count(
            "SELECT count(*) FROM identity_person t "
            "JOIN identity_person s ON s.id = t.merged_into_id WHERE s.merged_into_id IS NOT NULL"
        ),
    ),
    Check(
        "tombstones_have_a_merge_record",
        "Every merged-away person has the live merge record that can undo it.",
        sql_count(
            "SELECT count(*) FROM identity_person t WHERE t.merged_into_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM identity_mergerecord m "
            "WHERE m.loser_id = t.id AND m.undone_at IS NULL)"
        ),
    ),
    Check(
        "merge_records_point_at_tombstones",
        "The loser of every live merge record is merged away.",
        sql_count(
            "SELECT count(*) FROM identity_mergerecord m "
            "JOIN identity_person p ON p.id = m.loser_id "
            "WHERE m.undone_at IS NULL AND p.merged_into_id IS NULL"
        ),
    ),
    Check(
        "erased_persons_hold_nothing",
        "Erased persons hold no phone, openid or unionid.",
        sql_count(
            "SELECT count(*) FROM identity_person p WHERE p.erased_at IS NOT NULL AND ("
            "p.phone_index IS NOT NULL OR EXISTS (SELECT 1 FROM identity_identity i "
            "WHERE i.person_id = p.id) OR EXISTS (SELECT 1 FROM identity_unionid u "
            "WHERE u.person_id = p.id))"
        ),
    ),
):
    register_check(_check)
