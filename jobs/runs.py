"""Record each run of a scheduled job (jobs.models.JobRun), failed runs included.

The record is written on the run's own connection outside the job's transactions: in the worker
a job runs in autocommit, so the "running" row commits before the job starts and its outcome
commits after it ends, whatever the job rolled back. A failure is recorded and then raised
again, so that procrastinate marks the job failed (and retries it when the task says so).
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from django.db import DatabaseError
from django.utils import timezone

from jobs.models import JobRun, Outcome

MAX_ERROR = 300


class JobIncomplete(Exception):
    """A job did part of its work and says what failed (e.g. the rule tags not refreshed).

    Its message must be safe to store and show (keys and counts, never personal data); its
    `result` is recorded as the run's result.
    """

    def __init__(self, message: str, result: dict | None = None):
        super().__init__(message)
        self.result = result or {}


def error_summary(exc: BaseException) -> str:
    """Name a failure in words safe to store and show: the class, and the message of a
    JobIncomplete (ours, written to be shown).

    A database error is named by its class and SQLSTATE only: PostgreSQL's message and detail
    quote the values of the statement (an openid in a unique violation).
    """
    database_error = database_error_in(exc)
    if database_error is not None:
        cause = database_error.__cause__ or database_error
        sqlstate = getattr(cause, "sqlstate", None) or "unknown"
        text = f"{type(cause).__name__} (SQLSTATE {sqlstate})"
    elif isinstance(exc, JobIncomplete):
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    else:
        # Other messages may quote what a job read (a WeChat answer, a bad value): the class.
        text = type(exc).__name__
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def database_error_in(exc: BaseException) -> BaseException | None:
    """The database error `exc` is or was raised from (Django's or psycopg's), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DatabaseError | psycopg.Error):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


@contextmanager
def recorded_run(task_name: str, *, job_id: int | None = None) -> Iterator[JobRun]:
    """Record one run of `task_name` around the block; set `run.result` inside it."""
    run = JobRun.objects.create(task_name=task_name, job_id=job_id, started_at=timezone.now())
    started = time.monotonic()
    try:
        yield run
    except BaseException as exc:
        result = exc.result if isinstance(exc, JobIncomplete) else run.result
        _finish(run, started, Outcome.FAILED, error=error_summary(exc), result=result)
        raise
    _finish(run, started, Outcome.OK, error="", result=run.result)


def _finish(run: JobRun, started: float, outcome: str, *, error: str, result) -> None:
    run.finished_at = timezone.now()
    run.duration = timedelta(seconds=time.monotonic() - started)
    run.outcome, run.error = outcome, error
    run.result = result if isinstance(result, dict) else {"value": result}
    run.save(update_fields=["finished_at", "duration", "outcome", "error", "result"])


def mark_interrupted(job_ids: list[int]) -> int:
    """Close the runs of jobs whose worker died mid-run (the stalled-job retry calls this)."""
    if not job_ids:
        return 0
    now = timezone.now()
    return JobRun.objects.filter(job_id__in=job_ids, finished_at__isnull=True).update(
        finished_at=now, outcome=Outcome.INTERRUPTED, error="The worker stopped during the run."
    )


class DatabaseErrorsByKind(logging.Filter):
    """Log a job's database error by class and SQLSTATE, without PostgreSQL's text.

    procrastinate logs a failed job with its exception, and PostgreSQL's message and detail
    quote the statement's values (an openid in a unique violation): personal data.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and database_error_in(exc) is not None:
            record.msg, record.args = f"{record.getMessage()} [{error_summary(exc)}]", None
            record.exc_info, record.exc_text = None, None
        return True


def prune_runs(*, older_than: timedelta) -> int:
    """Delete run records older than `older_than` (the history is for recent operations)."""
    deleted, _ = JobRun.objects.filter(started_at__lt=timezone.now() - older_than).delete()
    return deleted
