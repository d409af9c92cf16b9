"""Run compiled conditions so that none can hold the database, and say safely why one failed.

Every statement that evaluates a condition (rule refreshes, segment counts) runs in a
transaction whose `statement_timeout` is CONDITION_STATEMENT_TIMEOUT_MS: a tree that is valid
but slow over millions of persons is cancelled by PostgreSQL instead of occupying a connection
and a core for as long as it likes.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from psycopg import errors as pg_errors

from profiles.conditions.validation import ConditionInvalid

MAX_FAILURE_TEXT = 1000


@contextmanager
def bounded_statements(timeout_ms: int | None = None) -> Iterator:
    """Open a transaction (a savepoint inside one) whose statements stop after the timeout
    (CONDITION_STATEMENT_TIMEOUT_MS, or `timeout_ms` when what is left of a budget is less).

    Yields a cursor. SET LOCAL lasts until the end of the transaction and a savepoint rolled
    back undoes it, but a released savepoint does not: inside an enclosing transaction, the
    enclosing timeout is put back on the way out.
    """
    enclosed = connection.in_atomic_block
    limit = settings.CONDITION_STATEMENT_TIMEOUT_MS if timeout_ms is None else timeout_ms
    timeout = f"{int(limit)}ms"
    with transaction.atomic(), connection.cursor() as cursor:
        # The targets are evaluated in order: first the timeout in force, then the new one.
        cursor.execute(
            "SELECT current_setting('statement_timeout'), "
            "set_config('statement_timeout', %s, true)",
            [timeout],
        )
        previous = cursor.fetchone()[0]
        yield cursor
        if enclosed:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])


def failure_text(exc: BaseException) -> str:
    """Describe why evaluating a condition failed, in words safe to store, show and log.

    The paths of an invalid tree, or the kind of database error; never the database's own
    message, which may quote the values a statement was given.
    """
    if isinstance(exc, ConditionInvalid):
        text = f"The condition is invalid: {exc}"
    elif isinstance(exc, DatabaseError):
        cause = exc.__cause__
        if isinstance(cause, pg_errors.QueryCanceled):
            limit = settings.CONDITION_STATEMENT_TIMEOUT_MS
            text = f"Stopped by the statement timeout ({limit} ms) or by an operator."
        else:
            sqlstate = getattr(cause, "sqlstate", None) or "unknown"
            text = f"Database error {type(cause or exc).__name__} (SQLSTATE {sqlstate})."
    else:
        text = f"Unexpected error {type(exc).__name__}."
    return text if len(text) <= MAX_FAILURE_TEXT else text[: MAX_FAILURE_TEXT - 1] + "…"
