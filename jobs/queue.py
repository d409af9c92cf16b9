"""Enqueue background jobs in the caller's transaction (the queue lives in PostgreSQL).

A job written in the same transaction as the change that needs it exists if and only if the
change commits: a crash between the two loses nothing and runs nothing for a rolled-back change.
"""

from typing import Any

from django.conf import settings
from django.db import transaction
from procrastinate import exceptions
from procrastinate.tasks import Task


def enqueue(task: Task, *, queueing_lock: str | None = None, **kwargs: Any) -> None:
    """Defer `task(**kwargs)` in the current transaction.

    With a `queueing_lock`, a job of that lock already waiting makes this a no-op: requests that
    all need "the pending work done" coalesce into one job (the waiting one will see their rows).
    The defer runs in a savepoint so that the coalesced case does not abort the caller's
    transaction. With `JOBS_RUN_INLINE` (the test suite), the task also runs in this process
    right after the commit, as a worker would: tests read its effect without a worker.
    """
    configured = task.configure(queueing_lock=queueing_lock) if queueing_lock else task
    try:
        with transaction.atomic():
            configured.defer(**kwargs)
    except exceptions.AlreadyEnqueued:
        pass
    if settings.JOBS_RUN_INLINE:
        transaction.on_commit(lambda: task(**kwargs))
