"""Monthly partitions of the event table: created ahead by a daily job, or on demand by ingest.

`profiles_event` is partitioned by range of `occurred_at`, one partition per calendar month in
UTC, named `profiles_event_pYYYYMM`. There is no DEFAULT partition: rows in it would have to be
moved out before their month could be created, and an event of any month can be stored as soon
as its partition exists, so one is never needed.

A partition is created as a plain table and then attached, not with `CREATE TABLE .. PARTITION
OF`: that statement takes ACCESS EXCLUSIVE on the parent, which waits for every reader of events
(a segment count may run for seconds) while queueing every ingest behind it, whereas `ATTACH
PARTITION` takes SHARE UPDATE EXCLUSIVE, which neither reads nor inserts conflict with. Either
way the foreign keys cloned onto the new partition take SHARE ROW EXCLUSIVE on the tables they
reference (persons, identities, apps, event types) until the creating transaction ends, which
holds up writes to those tables. So partitions are made ahead by `ensure_partitions` (the
worker's daily schedule), each in a transaction of its own, and ingest creates only a month
nobody made yet (a late history import): in a transaction of its own when `ensure_months` is
called outside one, else in the ingest's, which is short (one batch) and retried whole if the
locks it then waits for end in a deadlock.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

PARENT = "profiles_event"
NAME_RE = re.compile(rf"{PARENT}_p(\d{{4}})(\d{{2}})")
_CREATION_LOCK = "profiles_event_partitions"
"""Advisory lock key: creators of partitions queue instead of racing on the same name."""

_known: set[datetime] = set()
"""Months whose partition this process has seen committed: no catalog query for them."""


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime
    end: datetime


def month_of(moment: datetime) -> datetime:
    """The first instant (UTC) of the month holding `moment`."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def partition_of(month: datetime) -> Partition:
    month = month_of(month)
    return Partition(f"{PARENT}_p{month:%Y%m}", month, next_month(month))


def event_partitions() -> list[Partition]:
    """The attached partitions, oldest first (from the catalog: no scan of events)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [PARENT],
        )
        names = [row[0] for row in cursor.fetchall()]
    months = []
    for name in names:
        if match := NAME_RE.fullmatch(name):
            months.append(datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC))
    return [partition_of(month) for month in sorted(months)]


def ensure_partitions(*, months_ahead: int = 3) -> list[str]:
    """Create the partitions of this month and the next `months_ahead`; return those created.

    Idempotent. Each partition is created in a transaction of its own (when called outside
    one), so that the locks it takes are held for milliseconds.
    """
    month = month_of(timezone.now())
    months = [month]
    for _ in range(months_ahead):
        month = next_month(month)
        months.append(month)
    created = []
    for month in months:
        with transaction.atomic():
            created += _create_missing([month])
    return created


def ensure_months(moments: Iterable[datetime]) -> list[str]:
    """Make sure the months of `moments` have partitions; return the names created.

    Months seen before by this process cost nothing; others cost one catalog query, and a
    missing one is created in the caller's transaction (when there is one: the ingest's), so
    that its events can be inserted next. Months are remembered once their partition is known
    to be committed: a partition created or seen in a transaction that rolls back is not.
    """
    wanted = {month_of(moment) for moment in moments} - _known
    if not wanted:
        return []
    if connection.in_atomic_block:
        created = _create_missing(wanted)
        transaction.on_commit(lambda: _known.update(wanted))
    else:
        with transaction.atomic():
            created = _create_missing(wanted)
        _known.update(wanted)
    return created


def forget_months(months: Iterable[datetime] | None = None) -> None:
    """Drop months from this process's memory (all with None): their partition may be gone."""
    if months is None:
        _known.clear()
    else:
        _known.difference_update(month_of(month) for month in months)


def _create_missing(months: Iterable[datetime]) -> list[str]:
    existing = {partition.start for partition in event_partitions()}
    missing = sorted(set(months) - existing)
    if not missing:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_CREATION_LOCK])
    # Another process may have created some while this one waited for the lock.
    existing = {partition.start for partition in event_partitions()}
    created = []
    for month in missing:
        if month not in existing:
            _create(partition_of(month))
            created.append(partition_of(month).name)
    return created


def _create(partition: Partition) -> None:
    with connection.cursor() as cursor:
        # LIKE copies the columns, their NOT NULL and defaults (the id sequence) and the checks;
        # ATTACH adds the primary key, the indexes and the foreign keys of the parent.
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {partition.name} (LIKE {PARENT} "
            "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)"
        )
        cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {partition.name} "
            f"FOR VALUES FROM ('{partition.start.isoformat()}') TO ('{partition.end.isoformat()}')"
        )
