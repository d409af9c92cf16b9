"""Retry a short write transaction that lost a race.

Invariants are enforced by unique constraints and row locks, not by check-then-act: the loser of
a race gets an IntegrityError (or a deadlock / serialization error, or finds a row it read had
moved on), rolls back and runs again, and then sees the winner's committed rows.
"""

from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, OperationalError, transaction

T = TypeVar("T")

MAX_ATTEMPTS = 8
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


class StaleRead(Exception):
    """A row read before locking changed owner; run the transaction again."""


def is_retryable(exc: Exception) -> bool:
    """A lost race: the transaction that met it may simply run again."""
    return _retryable(exc)


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError | StaleRead):
        return True
    if isinstance(exc, OperationalError):
        return getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES
    return False


def run_atomic_with_retries(operation: Callable[[], T]) -> T:
    """Run `operation` in a transaction (a savepoint when nested), retrying lost races."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return operation()
        except (IntegrityError, OperationalError, StaleRead) as exc:
            if attempt == MAX_ATTEMPTS or not _retryable(exc):
                raise
    raise AssertionError("unreachable")
