"""Per-person stats recomputed from events and rollups, for some persons or for everyone.

Moving events (merge, undo, erasure) rebuilds the stats of the persons involved; the
`rebuild_stats` command rebuilds everyone's. A rebuild computes the same numbers as the
incremental upserts of stats_updates.py, so that comparing the two
(`rebuild_all_stats(dry_run=True)`) measures drift without changing anything. Both count the
events the pipeline has applied: a rebuild leaves pending ones out (`pending.APPLIED`), or the
worker would add them a second time.

Resolves and logins are the exception: no event records them (services/seen.py), so a rebuild
keeps the stored resolve times, derives the seen times from them and the events, and keeps the
row of a person seen without events. The drift check therefore stays exact.
"""

from django.db import connection, transaction

from identity import person_cache
from profiles.services.pending import APPLIED, lock_out_applier
from profiles.services.stats_updates import LOGIN, PAY


def rebuild_stats(person_ids: list[int] | None = None) -> int:
    """Recompute stats from events and rollups, for some persons or (None) everyone.

    Returns the number of persons with stats afterwards. Runs in the caller's transaction.
    """
    scope = "TRUE" if person_ids is None else "person_id = ANY(%(ids)s)"
    params = {"ids": person_ids or []}
    if person_ids is None:
        person_cache.forget_all_on_commit()
    else:
        person_cache.changed(person_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM profiles_personstats WHERE {scope} "  # noqa: S608
            f"AND last_resolved_at IS NULL",
            params,
        )
        cursor.execute(f"UPDATE profiles_personstats SET {_ZERO} WHERE {scope}", params)  # noqa: S608
        cursor.execute(f"DELETE FROM profiles_personeventstats WHERE {scope}", params)  # noqa: S608
        cursor.execute(
            f"""
            INSERT INTO profiles_personeventstats
                (person_id, type, count, amount_total, first_at, last_at)
            SELECT person_id, type, sum(n), sum(amount), min(first_at), max(last_at) FROM (
                SELECT person_id, type, count(*) AS n, COALESCE(sum(amount), 0) AS amount,
                       min(occurred_at) AS first_at, max(occurred_at) AS last_at
                FROM profiles_event e WHERE {APPLIED} AND {scope} GROUP BY person_id, type
                UNION ALL
                SELECT person_id, type, count, amount_total, first_at, last_at
                FROM profiles_eventrollup WHERE {scope}
            ) AS source
            GROUP BY person_id, type
            """,  # noqa: S608
            params,
        )
        cursor.execute(
            f"""
            WITH channels AS (
                SELECT DISTINCT ON (person_id) person_id, channel, at, event_id FROM (
                    SELECT person_id, channel, occurred_at AS at, id AS event_id
                    FROM profiles_event e WHERE channel <> '' AND {APPLIED} AND {scope}
                    UNION ALL
                    SELECT person_id, first_channel, first_channel_at, first_channel_event_id
                    FROM profiles_eventrollup WHERE first_channel <> '' AND {scope}
                ) AS candidates
                ORDER BY person_id, at, event_id
            )
            INSERT INTO profiles_personstats (
                person_id, event_count, first_seen_at, last_seen_at, first_channel,
                first_channel_at, first_channel_event_id, last_login_at, pay_count, pay_total,
                last_pay_at, updated_at, first_event_at)
            SELECT t.person_id, sum(t.count), min(t.first_at), max(t.last_at),
                   COALESCE(min(c.channel), ''), min(c.at), min(c.event_id),
                   max(t.last_at) FILTER (WHERE t.type = '{LOGIN}'),
                   COALESCE(sum(t.count) FILTER (WHERE t.type = '{PAY}'), 0),
                   COALESCE(sum(t.amount_total) FILTER (WHERE t.type = '{PAY}'), 0),
                   max(t.last_at) FILTER (WHERE t.type = '{PAY}'),
                   now(), min(t.first_at)
            FROM profiles_personeventstats t
            LEFT JOIN channels c ON c.person_id = t.person_id
            WHERE {scope.replace("person_id", "t.person_id")}
            GROUP BY t.person_id
            ON CONFLICT (person_id) DO UPDATE SET {_REBUILT}
            """,  # noqa: S608
            params,
        )
        cursor.execute(
            f"SELECT count(*) FROM profiles_personstats WHERE {scope}",  # noqa: S608
            params,
        )
        return cursor.fetchone()[0]


# What a rebuild resets before recomputing it: every column but the resolve times, the seen
# times falling back to those.
_RESET = {
    "event_count": "0",
    "first_seen_at": "first_resolved_at",
    "last_seen_at": "last_resolved_at",
    "first_event_at": "NULL",
    "first_channel": "''",
    "first_channel_at": "NULL",
    "first_channel_event_id": "NULL",
    "last_login_at": "NULL",
    "pay_count": "0",
    "pay_total": "0",
    "last_pay_at": "NULL",
}
_ZERO = ", ".join(f"{column} = {value}" for column, value in _RESET.items())
_SEEN = {"first_seen_at": "LEAST", "last_seen_at": "GREATEST"}
_REBUILT = ", ".join(
    [
        *(f"{column} = EXCLUDED.{column}" for column in _RESET if column not in _SEEN),
        *(
            f"{column} = {pick}(profiles_personstats.{column}, EXCLUDED.{column})"
            for column, pick in _SEEN.items()
        ),
        "updated_at = now()",
    ]
)

_COMPARED = {
    "profiles_personstats": (
        "person_id, event_count, first_seen_at, last_seen_at, first_event_at, first_channel, "
        "first_channel_at, first_channel_event_id, last_login_at, pay_count, pay_total, "
        "last_pay_at, first_resolved_at, last_resolved_at"
    ),
    "profiles_personeventstats": "person_id, type, count, amount_total, first_at, last_at",
}


def rebuild_all_stats(*, dry_run: bool = False) -> tuple[int, int]:
    """Rebuild every person's stats; return (persons with stats, rows that differed before).

    With `dry_run` the rebuild is rolled back: a check that the incremental stats are exact.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            lock_out_applier(cursor)
            for table, columns in _COMPARED.items():
                cursor.execute(
                    f"CREATE TEMP TABLE before_{table} ON COMMIT DROP AS "  # noqa: S608
                    f"SELECT {columns} FROM {table}"
                )
        persons = rebuild_stats()
        differing = 0
        with connection.cursor() as cursor:
            for table, columns in _COMPARED.items():
                stored = f"SELECT {columns} FROM before_{table}"  # noqa: S608
                rebuilt = f"SELECT {columns} FROM {table}"  # noqa: S608
                cursor.execute(
                    f"SELECT count(*) FROM (({stored} EXCEPT ALL {rebuilt}) "  # noqa: S608
                    f"UNION ALL ({rebuilt} EXCEPT ALL {stored})) AS diff"
                )
                differing += cursor.fetchone()[0]
        if dry_run:
            transaction.set_rollback(True)
    return persons, differing
