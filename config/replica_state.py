"""How far the read replica has replayed, how far behind it is, and whether it is reachable.

A replica read is allowed only when the replica has replayed what the caller last wrote
(`config.db_routing`). Asking the replica on every request would add a round trip to each
lookup, so each process keeps the answer for `KEEP_SECONDS`: a kept position only ever
understates the replica (replay moves forward), so it never claims more than the replica had,
and its lag is aged by the time it was kept.

A replica that fails (refused connection, timeout, a query error) is left alone by this process
for REPLICA_RETRY_SECONDS; then a single request probes it while the others stay on the primary,
so that a lost replica does not make every request wait for a connect timeout.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
KEEP_SECONDS = 0.1

# The lag is 0 while the replica has replayed all it received and still streams; otherwise it
# is the age of the last transaction it replayed (NULL before it replayed any: unknown). A
# replica whose stream stalled without its WAL receiver noticing yet shows no lag to callers
# that did not write; those that did wait for their own position, whatever the lag says.
_POSITION_SQL = """
SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn,
  CASE WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()
            AND EXISTS (SELECT FROM pg_stat_wal_receiver)
       THEN 0
       ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
  END
"""


@dataclass(frozen=True)
class Position:
    """What the replica said at `asked_at` (time.monotonic()); None where it could not say."""

    replay_lsn: int | None
    lag_seconds: float | None
    asked_at: float

    def serves(self, written_lsn: int) -> bool:
        """Whether reads now see everything up to `written_lsn`, within the maximum lag."""
        if self.replay_lsn is None or self.lag_seconds is None:
            return False
        lag = self.lag_seconds + (time.monotonic() - self.asked_at)
        return self.replay_lsn >= written_lsn and lag <= settings.REPLICA_MAX_LAG_SECONDS


_lock = threading.Lock()
_kept: Position | None = None
_down_until = 0.0


def is_down() -> bool:
    """Whether the replica failed within REPLICA_RETRY_SECONDS (no attempt is made then)."""
    return bool(_down_until) and time.monotonic() < _down_until


def position(at_least: int) -> Position | None:
    """The replica's position, asked afresh unless the kept one is recent and already past
    `at_least`; None when the replica is down or fails now (it is then marked down)."""
    global _kept
    if not _claim_attempt():
        return None
    kept, now = _kept, time.monotonic()
    replica = connections[REPLICA]
    try:
        if (
            kept is not None
            and now - kept.asked_at < KEEP_SECONDS
            and (kept.replay_lsn or 0) >= at_least
        ):
            # The reads that follow need a working connection: Django's own health check,
            # which it would run before the request's first query anyway.
            replica.close_if_health_check_failed()
            replica.ensure_connection()
            found = kept
        else:
            with replica.cursor() as cursor:
                cursor.execute(_POSITION_SQL)
                lsn, lag = cursor.fetchone()
            found = _kept = Position(
                None if lsn is None else int(lsn), None if lag is None else float(lag), now
            )
    except DatabaseError as exc:
        failed(exc)
        return None
    _recovered()
    return found


def failed(exc: Exception) -> None:
    """Leave the replica alone for REPLICA_RETRY_SECONDS and drop this thread's connection."""
    global _down_until, _kept
    _down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
    _kept = None
    logger.warning(
        "replica unavailable (%s); reading from the primary for %ss",
        type(exc).__name__,
        settings.REPLICA_RETRY_SECONDS,
    )
    try:
        connections[REPLICA].close()
    except DatabaseError:
        logger.debug("closing the failed replica connection failed too")


def forget() -> None:
    """Drop what this process knows of the replica (tests start each from nothing)."""
    global _down_until, _kept
    _down_until, _kept = 0.0, None


def _claim_attempt() -> bool:
    """Whether this thread may use the replica now: always while it works; after a failure,
    only once REPLICA_RETRY_SECONDS passed, and then one thread probes while others wait."""
    global _down_until
    until = _down_until
    if not until:
        return True
    now = time.monotonic()
    if now < until:
        return False
    with _lock:
        if _down_until != until:
            return False  # another thread took this probe
        _down_until = now + settings.REPLICA_RETRY_SECONDS
    return True


def _recovered() -> None:
    global _down_until
    if _down_until:
        _down_until = 0.0
        logger.info("replica reachable again")
