"""Read-your-writes: each API key's last write, as a WAL position shared by every process.

After an API request that may have written (a non-safe method answered below 500), and before
its answer leaves, the primary's WAL position is stored for the request's key in the shared
cache (Redis), keeping the maximum when the same key writes through several processes at once.
A replica read for that key then waits until the replica replayed that far
(`config.db_routing`): a caller never reads older data than it was told it wrote.

The position is the end of the last record inserted (`pg_current_wal_insert_lsn()`), not the
write position (`pg_current_wal_lsn()`): a commit without waiting for the WAL flush (a
returning user's sighting) returns before its record is written out, and the insert position
is past it. Nothing is recorded, and nothing is asked, while no replica is configured.
"""

import logging
import threading
from contextvars import ContextVar

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Long past wal_receiver_timeout (60 s by default): a replica still short of a position by then
# shows a lag that keeps everyone on the primary (`config.replica_state`).
KEEP_SECONDS = 300
_KEY = "replica:written:{caller}"
# Atomic in Redis: a lower position never replaces a higher one (Lua compares numbers as
# doubles, exact up to 2**53 bytes of WAL).
_KEEP_MAX = """
local kept = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > kept then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
"""
_POSITION_SQL = """
SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn, current_setting('wal_block_size')::int,
  pg_size_bytes(current_setting('wal_segment_size'))
"""
# PostgreSQL's SizeOfXLogShortPHD and SizeOfXLogLongPHD (the first page of a segment).
_PAGE_HEADER, _FIRST_PAGE_HEADER = 24, 40
_local_lock = threading.Lock()


class _Request:
    __slots__ = ("read_only",)

    def __init__(self):
        self.read_only = False


_request: ContextVar[_Request | None] = ContextVar("write_positions_request", default=None)


class WritePositionMiddleware:
    """Record the WAL position after each API request that may have written (see above).

    A POST that only reads (a batch lookup, inside `replica_reads`) records nothing: a caller
    that only reads must not send itself to the primary by reading.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS or REPLICA not in connections.settings:
            return self.get_response(request)
        state = _Request()
        token = _request.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        caller = getattr(getattr(request, "auth", None), "pk", None)
        if caller is not None and response.status_code < 500 and not state.read_only:
            try:
                record_write(caller)
            except Exception as exc:  # the write stands; its answer must still go out
                logger.warning("write position not recorded: %s", type(exc).__name__)
        return response


def mark_read_only() -> None:
    """Declare the current request a read (`replica_reads` does)."""
    state = _request.get()
    if state is not None:
        state.read_only = True


def primary_position() -> int:
    """The end of the last WAL record the primary inserted, in bytes."""
    with connections["default"].cursor() as cursor:
        cursor.execute(_POSITION_SQL)
        return end_of_last_record(*cursor.fetchone())


def end_of_last_record(insert_lsn, block_size: int, segment_size: int) -> int:
    """Where the last inserted record ends, from where the next one would start.

    pg_current_wal_insert_lsn() points past a page header when the last record filled its page
    up to the boundary; the replica's replay position stops at the boundary itself, and would
    never reach the header's end before some other record came.
    """
    insert_lsn = int(insert_lsn)
    header = _FIRST_PAGE_HEADER if insert_lsn % segment_size < block_size else _PAGE_HEADER
    return insert_lsn - header if insert_lsn % block_size == header else insert_lsn


def record_write(caller: int) -> None:
    """Keep the primary's position for `caller`, unless a higher one is kept already."""
    _keep_max(_KEY.format(caller=caller), primary_position())


def written_position(caller: int) -> int:
    """The position the replica must have replayed for `caller` (0: no recent write)."""
    store, key = caches["default"], _KEY.format(caller=caller)
    if isinstance(store, RedisCache):
        # The first server: the one written to (Django reads from any of several).
        full_key = store.make_and_validate_key(key)
        value = store._cache.get_client(full_key, write=True).get(full_key)
    else:
        value = store.get(key)
    return int(value or 0)


def _keep_max(key: str, lsn: int) -> None:
    store = caches["default"]
    if isinstance(store, RedisCache):
        full_key = store.make_and_validate_key(key)
        client = store._cache.get_client(full_key, write=True)
        client.eval(_KEEP_MAX, 1, full_key, lsn, KEEP_SECONDS)
    elif isinstance(store, LocMemCache):
        # Process-local, so a process-local lock makes read-and-replace atomic.
        with _local_lock:
            if lsn > (store.get(key) or 0):
                store.set(key, lsn, KEEP_SECONDS)
            else:
                store.touch(key, KEEP_SECONDS)
    else:
        raise ImproperlyConfigured("Read-your-writes needs the Redis or the in-process cache.")
