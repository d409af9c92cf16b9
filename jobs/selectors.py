"""Reads of the queue's state: for `/healthz` (one cheap statement) and the admin.

The queue's tables are procrastinate's. The health statement touches only what its indexes
serve: `todo` jobs through the partial index on (priority, id) WHERE status = 'todo' (few rows:
jobs coalesce by queueing lock), each one's "deferred" event through the index on job_id, and
the newest heartbeat through the index on last_heartbeat; plus each registered backlog (a small
table the worker keeps draining).
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Exists, Q
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import backlog
from jobs.models import JobRun

# Due `todo` jobs, and when each started waiting: its scheduled time, else its "deferred" event
# (procrastinate_jobs has no creation time).
QUEUE_COLUMNS = """
    (SELECT count(*) FROM procrastinate_jobs j
      WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())),
    (SELECT min(COALESCE(j.scheduled_at, (
        SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'deferred')))
       FROM procrastinate_jobs j
      WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())),
    (SELECT max(last_heartbeat) FROM procrastinate_workers),
    now()
"""


@dataclass(frozen=True)
class QueueHealth:
    """What `/healthz` reports of the background work, measured at the database's `now`."""

    depth: int
    oldest_seconds: float | None
    heartbeat_seconds: float | None
    backlogs: dict[str, tuple[int, float | None]]

    @property
    def worker(self) -> str:
        """Say "down" without a recent heartbeat, "lagging" when work waits too long, else "ok"."""
        down_after = settings.JOBS_WORKER_DOWN_SECONDS
        lag_after = settings.JOBS_LAG_SECONDS
        if self.heartbeat_seconds is None or self.heartbeat_seconds > down_after:
            return "down"
        ages = [self.oldest_seconds, *(age for _, age in self.backlogs.values())]
        if any(age is not None and age > lag_after for age in ages):
            return "lagging"
        return "ok"

    def as_dict(self) -> dict:
        queue = {"depth": self.depth, "oldest_seconds": _rounded(self.oldest_seconds)}
        for entry in backlog.registered():
            count, age = self.backlogs[entry.key]
            queue[entry.key], queue[entry.age_key] = count, _rounded(age)
        return {"worker": self.worker, "queue": queue}


def queue_health() -> QueueHealth:
    """Measure the queue and the registered backlogs in one statement."""
    backlogs = backlog.registered()
    columns = ", ".join([QUEUE_COLUMNS, *(part for entry in backlogs for part in entry.sql())])
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + columns)
        depth, oldest, heartbeat, now, *rest = cursor.fetchone()
    return QueueHealth(
        depth=depth,
        oldest_seconds=_age(now, oldest),
        heartbeat_seconds=_age(now, heartbeat),
        backlogs={
            entry.key: (int(rest[2 * i]), _age(now, rest[2 * i + 1]))
            for i, entry in enumerate(backlogs)
        },
    )


@dataclass(frozen=True)
class Worker:
    id: int
    last_heartbeat: datetime
    alive: bool
    running: int


@dataclass(frozen=True)
class QueueState:
    by_status: dict[str, int]
    health: QueueHealth
    workers: list[Worker]


def queue_state() -> QueueState:
    """The admin's view of the queue: jobs by status, health, and every registered worker."""
    down_after = settings.JOBS_WORKER_DOWN_SECONDS
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM procrastinate_jobs GROUP BY status")
        by_status = dict(cursor.fetchall())
        cursor.execute(
            "SELECT w.id, w.last_heartbeat, w.last_heartbeat > now() - make_interval(secs => %s),"
            " (SELECT count(*) FROM procrastinate_jobs j"
            "  WHERE j.worker_id = w.id AND j.status = 'doing')"
            " FROM procrastinate_workers w ORDER BY w.id",
            [down_after],
        )
        workers = [Worker(*row) for row in cursor.fetchall()]
    return QueueState(by_status=by_status, health=queue_health(), workers=workers)


def latest_runs(task_names: list[str]) -> dict[str, JobRun]:
    """The latest run of each of these jobs: one statement, one index probe per job."""
    table = connection.ops.quote_name(JobRun._meta.db_table)
    runs = JobRun.objects.raw(
        f"SELECT r.* FROM unnest(%s::text[]) AS t(name) CROSS JOIN LATERAL ("  # noqa: S608
        f"SELECT * FROM {table} WHERE task_name = t.name "
        f"ORDER BY started_at DESC, id DESC LIMIT 1) AS r",
        [list(task_names)],
    )
    return {run.task_name: run for run in runs}


def job_waiting(queueing_lock: str) -> bool:
    """Whether a job of this queueing lock waits (then a new one would coalesce into it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs "
            "WHERE queueing_lock = %s AND status = 'todo')",
            [queueing_lock],
        )
        return cursor.fetchone()[0]


def job_in_progress(lock) -> Exists:
    """Whether a job of this lock (a string or an expression) waits or runs, as an EXISTS.

    For jobs enqueued with the same string as queueing lock and lock: each status is then an
    index probe (procrastinate's partial unique indexes on todo's queueing lock, doing's lock),
    so a list can annotate each of its rows with it.
    """
    jobs = ProcrastinateJob.objects.filter(
        Q(status="todo", queueing_lock=lock) | Q(status="doing", lock=lock)
    )
    return Exists(jobs)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
