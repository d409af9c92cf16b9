"""Per-person stats: incremental upserts at ingest, and a rebuild from events and rollups.

Both paths define the same numbers: counts and sums add up, first/last times are the min/max,
and the first channel is the channel of the earliest event that carries one, ties going to the
lower event id. The test suite checks rebuild == incremental after a randomised event stream.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction

LOGIN, PAY = "login", "pay"


@dataclass
class _TypeAgg:
    count: int = 0
    amount: Decimal = Decimal("0")
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class _PersonAgg:
    by_type: dict[str, _TypeAgg] = field(default_factory=dict)
    channel: tuple[datetime, int, str] | None = None  # (occurred_at, event id, channel)


@dataclass(frozen=True)
class StoredEvent:
    id: int
    person_id: int
    type: str
    occurred_at: datetime
    amount: Decimal | None
    channel: str
    event_id: str = ""
    app_id: int | None = None


def apply_events(events: Iterable[StoredEvent]) -> None:
    """Add newly stored events to the stats of their persons (two upserts, any batch size).

    Rows are upserted in person order so that concurrent batches lock stats rows in the same
    order and cannot deadlock; the arithmetic is commutative, so they add up exactly.
    """
    people: dict[int, _PersonAgg] = {}
    for event in events:
        person = people.setdefault(event.person_id, _PersonAgg())
        agg = person.by_type.setdefault(event.type, _TypeAgg())
        agg.count += 1
        agg.amount += event.amount or 0
        agg.first_at = min(agg.first_at or event.occurred_at, event.occurred_at)
        agg.last_at = max(agg.last_at or event.occurred_at, event.occurred_at)
        if event.channel:
            candidate = (event.occurred_at, event.id, event.channel)
            if person.channel is None or candidate[:2] < person.channel[:2]:
                person.channel = candidate
    if not people:
        return
    _upsert_type_stats(people)
    _upsert_person_stats(people)


def _upsert_type_stats(people: dict[int, _PersonAgg]) -> None:
    rows = [
        (pk, type_key, agg.count, agg.amount, agg.first_at, agg.last_at)
        for pk in sorted(people)
        for type_key, agg in sorted(people[pk].by_type.items())
    ]
    columns = list(zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_personeventstats AS s
                (person_id, type, count, amount_total, first_at, last_at)
            SELECT * FROM unnest(
                %s::bigint[], %s::text[], %s::int[], %s::numeric[],
                %s::timestamptz[], %s::timestamptz[])
            ON CONFLICT (person_id, type) DO UPDATE SET
                count = s.count + EXCLUDED.count,
                amount_total = s.amount_total + EXCLUDED.amount_total,
                first_at = LEAST(s.first_at, EXCLUDED.first_at),
                last_at = GREATEST(s.last_at, EXCLUDED.last_at)
            """,
            [list(column) for column in columns],
        )


def _upsert_person_stats(people: dict[int, _PersonAgg]) -> None:
    rows = []
    for pk in sorted(people):
        person = people[pk]
        types = person.by_type
        login, pay = types.get(LOGIN), types.get(PAY)
        channel_at, channel_id, channel = person.channel or (None, None, "")
        rows.append(
            (
                pk,
                sum(agg.count for agg in types.values()),
                min(agg.first_at for agg in types.values()),
                max(agg.last_at for agg in types.values()),
                channel,
                channel_at,
                channel_id,
                login.last_at if login else None,
                pay.count if pay else 0,
                pay.amount if pay else Decimal("0"),
                pay.last_at if pay else None,
            )
        )
    columns = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO profiles_personstats AS s (
                person_id, event_count, first_seen_at, last_seen_at, first_channel,
                first_channel_at, first_channel_event_id, last_login_at, pay_count, pay_total,
                last_pay_at, updated_at)
            SELECT *, now() FROM unnest(
                %s::bigint[], %s::int[], %s::timestamptz[], %s::timestamptz[], %s::text[],
                %s::timestamptz[], %s::bigint[], %s::timestamptz[], %s::int[], %s::numeric[],
                %s::timestamptz[])
            ON CONFLICT (person_id) DO UPDATE SET
                event_count = s.event_count + EXCLUDED.event_count,
                first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at),
                last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
                first_channel = CASE WHEN {_NEW_CHANNEL_WINS}
                    THEN EXCLUDED.first_channel ELSE s.first_channel END,
                first_channel_at = CASE WHEN {_NEW_CHANNEL_WINS}
                    THEN EXCLUDED.first_channel_at ELSE s.first_channel_at END,
                first_channel_event_id = CASE WHEN {_NEW_CHANNEL_WINS}
                    THEN EXCLUDED.first_channel_event_id ELSE s.first_channel_event_id END,
                last_login_at = GREATEST(s.last_login_at, EXCLUDED.last_login_at),
                pay_count = s.pay_count + EXCLUDED.pay_count,
                pay_total = s.pay_total + EXCLUDED.pay_total,
                last_pay_at = GREATEST(s.last_pay_at, EXCLUDED.last_pay_at),
                updated_at = now()
            """,  # noqa: S608 - the interpolated text is a constant, values are parameters
            columns,
        )


def new_channel_wins(alias: str) -> str:
    """SQL condition of an upsert: the incoming first channel is earlier than the stored one."""
    return (
        f"EXCLUDED.first_channel_at IS NOT NULL AND ({alias}.first_channel_at IS NULL OR "
        f"(EXCLUDED.first_channel_at, EXCLUDED.first_channel_event_id) "
        f"< ({alias}.first_channel_at, {alias}.first_channel_event_id))"
    )


_NEW_CHANNEL_WINS = new_channel_wins("s")


def rebuild_stats(person_ids: list[int] | None = None) -> int:
    """Recompute stats from events and rollups, for some persons or (None) everyone.

    Returns the number of persons with stats afterwards. Runs in the caller's transaction.
    """
    scope = "TRUE" if person_ids is None else "person_id = ANY(%(ids)s)"
    params = {"ids": person_ids or []}
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM profiles_personstats WHERE {scope}", params)  # noqa: S608
        cursor.execute(f"DELETE FROM profiles_personeventstats WHERE {scope}", params)  # noqa: S608
        cursor.execute(
            f"""
            INSERT INTO profiles_personeventstats
                (person_id, type, count, amount_total, first_at, last_at)
            SELECT person_id, type, sum(n), sum(amount), min(first_at), max(last_at) FROM (
                SELECT person_id, type, count(*) AS n, COALESCE(sum(amount), 0) AS amount,
                       min(occurred_at) AS first_at, max(occurred_at) AS last_at
                FROM profiles_event WHERE {scope} GROUP BY person_id, type
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
                    FROM profiles_event WHERE channel <> '' AND {scope}
                    UNION ALL
                    SELECT person_id, first_channel, first_channel_at, first_channel_event_id
                    FROM profiles_eventrollup WHERE first_channel <> '' AND {scope}
                ) AS candidates
                ORDER BY person_id, at, event_id
            )
            INSERT INTO profiles_personstats (
                person_id, event_count, first_seen_at, last_seen_at, first_channel,
                first_channel_at, first_channel_event_id, last_login_at, pay_count, pay_total,
                last_pay_at, updated_at)
            SELECT t.person_id, sum(t.count), min(t.first_at), max(t.last_at),
                   COALESCE(min(c.channel), ''), min(c.at), min(c.event_id),
                   max(t.last_at) FILTER (WHERE t.type = '{LOGIN}'),
                   COALESCE(sum(t.count) FILTER (WHERE t.type = '{PAY}'), 0),
                   COALESCE(sum(t.amount_total) FILTER (WHERE t.type = '{PAY}'), 0),
                   max(t.last_at) FILTER (WHERE t.type = '{PAY}'),
                   now()
            FROM profiles_personeventstats t
            LEFT JOIN channels c ON c.person_id = t.person_id
            WHERE {scope.replace("person_id", "t.person_id")}
            GROUP BY t.person_id
            """,  # noqa: S608
            params,
        )
        cursor.execute(
            f"SELECT count(*) FROM profiles_personstats WHERE {scope}",  # noqa: S608
            params,
        )
        return cursor.fetchone()[0]


_COMPARED = {
    "profiles_personstats": (
        "person_id, event_count, first_seen_at, last_seen_at, first_channel, first_channel_at, "
        "first_channel_event_id, last_login_at, pay_count, pay_total, last_pay_at"
    ),
    "profiles_personeventstats": "person_id, type, count, amount_total, first_at, last_at",
}


def rebuild_all_stats(*, dry_run: bool = False) -> tuple[int, int]:
    """Rebuild every person's stats; return (persons with stats, rows that differed before).

    With `dry_run` the rebuild is rolled back: a check that the incremental stats are exact.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
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
