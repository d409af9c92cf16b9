"""Per-person stats, updated incrementally: each ingest batch adds its events in two upserts.

These upserts define the numbers that stats_rebuild.py recomputes from scratch: counts and sums
add up, first/last times are the min/max, and the first channel is the channel of the earliest
event that carries one, ties going to the lower event id. The test suite checks rebuild ==
incremental after a randomised event stream.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection

from identity import person_cache

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
    origin_person_id: int | None = None
    identity_id: int | None = None


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
    person_cache.changed(people)


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
                last_pay_at, first_event_at, updated_at)
            SELECT u.*, u.first_at, now() FROM unnest(
                %s::bigint[], %s::int[], %s::timestamptz[], %s::timestamptz[], %s::text[],
                %s::timestamptz[], %s::bigint[], %s::timestamptz[], %s::int[], %s::numeric[],
                %s::timestamptz[]) AS u(person_id, n, first_at, last_at, channel, channel_at,
                channel_event_id, login_at, pay_count, pay_total, pay_at)
            ON CONFLICT (person_id) DO UPDATE SET
                event_count = s.event_count + EXCLUDED.event_count,
                first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at),
                last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
                first_event_at = LEAST(s.first_event_at, EXCLUDED.first_event_at),
                {_KEEP_FIRST_CHANNEL},
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


def keep_first_channel(alias: str) -> str:
    """SET clause of an upsert: the first channel, its time and event come from whichever
    side saw the channel first (stats per person, rollups of pruned events)."""
    wins = new_channel_wins(alias)
    return ", ".join(
        f"{column} = CASE WHEN {wins} THEN EXCLUDED.{column} ELSE {alias}.{column} END"
        for column in ("first_channel", "first_channel_at", "first_channel_event_id")
    )


_KEEP_FIRST_CHANNEL = keep_first_channel("s")
