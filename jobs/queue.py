"""Enqueue background jobs in the caller's transaction (the queue lives in PostgreSQL).

A job written in the same transaction as the change that needs it exists if and only if the
change commits: a crash between the two loses nothing and runs nothing for a rolled-back change.
"""

from typing import Any

from django.conf import settings
from django.db import connection, transaction
from procrastinate import exceptions
from procrastinate.tasks import Task


def enqueue(
    task: Task, *, queueing_lock: str | None = None, lock: str | None = None, **kwargs: Any
) -> None:
    """Defer `task(**kwargs)` in the current transaction.

    With a `queueing_lock`, a job of that lock already waiting makes this a no-op: requests that
    all need "the pending work done" coalesce into one job. The check is made again after the
    commit, because the waiting job may have started before the commit and missed the change.
    The waiting job is looked up first (an index probe) so that the usual coalesced call costs
    no failed insert; the race between two callers is settled by procrastinate's unique index,
    in a savepoint so that it does not abort the caller's transaction. A `lock` keeps jobs of
    that lock from running at the same time (the next waits for the running one).

    With `JOBS_RUN_INLINE` (the test suite) the task runs at once, in this process and in the
    caller's transaction, instead of waiting for a worker: a test reads its effect on the next
    line. (Not after the commit: a test's own transaction never commits.) The tests of the
    worker itself turn the setting off.
    """
    if settings.JOBS_RUN_INLINE:
        task(**kwargs)
        return
    _defer(task, queueing_lock, lock, kwargs)
    if queueing_lock:
        # The waiting job may start (and find nothing) before this transaction commits: once
        # it has, make sure a job that starts after the commit is waiting. Without this, rows
        # of the change would wait for the next sweep; with it, a crash between the commit
        # and this line still leaves them the job deferred above.
        transaction.on_commit(lambda: _defer(task, queueing_lock, lock, kwargs))


def _defer(task: Task, queueing_lock: str | None, lock: str | None, kwargs: dict) -> None:
    if queueing_lock and _waiting(queueing_lock):
        return
    options = {"queueing_lock": queueing_lock, "lock": lock}
    options = {name: value for name, value in options.items() if value}
    configured = task.configure(**options) if options else task
    try:
        with transaction.atomic():
            configured.defer(**kwargs)
    except exceptions.AlreadyEnqueued:
        pass


def _waiting(queueing_lock: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs "
            "WHERE queueing_lock = %s AND status = 'todo')",
            [queueing_lock],
        )
        return cursor.fetchone()[0]
