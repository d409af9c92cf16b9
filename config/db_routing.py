"""Send the lookups' reads to the streaming replica, and everything else to the primary.

Reads go to the replica only inside `replica_reads(caller)` (the lookup views), and only when
the replica is configured (DATABASE_REPLICA_URL), reachable, within REPLICA_MAX_LAG_SECONDS and
past the caller's last write (`config.write_positions`): a caller never reads older data than
it wrote. Otherwise, and for every write, migration and read inside a transaction, the primary.
The choice is made once per `replica_reads` block, at its first read, so that a request does not
mix the replica and the primary; a replica that fails under a read gives that read and the rest
of the block to the primary (`_primary_on_failure`).

`primary_reads()` forces the primary inside a replica block: what a read fills a cache with
must not come from a replica that may not have replayed a write the cache already dropped.

Raw SQL does not pass through routers: it takes `connections[read_alias()]`.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, connections

from config import replica_state, write_positions

logger = logging.getLogger(__name__)

DEFAULT, REPLICA = "default", replica_state.REPLICA


@dataclass
class _Reads:
    caller: int | None
    alias: str | None = None  # chosen at the block's first read


_PRIMARY = _Reads(caller=None, alias=DEFAULT)
_reads: ContextVar[_Reads | None] = ContextVar("db_reads", default=None)


@contextmanager
def replica_reads(caller: int) -> Iterator[None]:
    """Let the reads inside go to the replica when it has what `caller` (an API key's pk) wrote.

    Wrap reads only: the request is then taken for a read and records no write position.
    Without a configured replica this does nothing.
    """
    if REPLICA not in connections.settings:
        yield
        return
    write_positions.mark_read_only()
    token = _reads.set(_Reads(caller=caller))
    try:
        with connections[REPLICA].execute_wrapper(_primary_on_failure):
            yield
    finally:
        _reads.reset(token)


@contextmanager
def primary_reads() -> Iterator[None]:
    """Read from the primary inside, even within `replica_reads`."""
    token = _reads.set(_PRIMARY)
    try:
        yield
    finally:
        _reads.reset(token)


def read_alias() -> str:
    """The database alias that a read here should use."""
    reads = _reads.get()
    if reads is None or reads.alias == DEFAULT:
        return DEFAULT
    if connections[DEFAULT].in_atomic_block:
        return DEFAULT  # a write's transaction reads its own changes
    if reads.alias is None:
        reads.alias = DEFAULT  # while choosing: what the choice reads goes to the primary
        reads.alias = REPLICA if _replica_serves(reads.caller) else DEFAULT
    return reads.alias


def _primary_on_failure(execute, sql, params, many, context):
    """Send a read that the replica failed (after the backend's own reconnect) to the primary.

    Installed on the replica's connection for a `replica_reads` block. The statement runs again
    on a primary cursor that takes the failed one's place inside Django's cursor wrapper, so
    that the ORM or raw SQL fetching from it reads the primary's rows; the rest of the block
    reads the primary, and the replica is left alone for REPLICA_RETRY_SECONDS.
    """
    try:
        return execute(sql, params, many, context)
    except (OperationalError, InterfaceError) as exc:
        reads = _reads.get()
        if reads is None or reads.alias != REPLICA:
            raise  # not a read the block chose the replica for (its position query)
        replica_state.failed(exc)
        reads.alias = DEFAULT
        primary = connections[DEFAULT]
        primary.ensure_connection()
        wrapper = context["cursor"]
        with primary.wrap_database_errors:
            wrapper.cursor = primary.create_cursor()
            if many:
                return wrapper.cursor.executemany(sql, params)
            if params is None:
                return wrapper.cursor.execute(sql)
            return wrapper.cursor.execute(sql, params)


def _replica_serves(caller: int) -> bool:
    if replica_state.is_down():
        return False
    try:
        written = write_positions.written_position(caller)
    except Exception as exc:  # the shared cache failed: what the caller wrote is unknown
        logger.warning("write positions unavailable (%s): reading the primary", type(exc).__name__)
        return False
    position = replica_state.position(at_least=written)
    return position is not None and position.serves(written)


class ReplicaRouter:
    """ORM reads follow `read_alias()`; writes and migrations go to the primary only."""

    def db_for_read(self, model, **hints):
        return read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT

    def allow_relation(self, obj1, obj2, **hints):
        # One database behind both aliases.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA
