"""Keep the queue healthy: retry the jobs of dead workers, forget old jobs and run records.

A worker killed with SIGKILL (or by a lost machine) leaves its jobs `doing` for ever: their
transactions rolled back with its connections, but procrastinate only knows that the worker's
heartbeat stopped. These services use procrastinate's own queries (its definition of a stalled
job: `doing`, and its worker's heartbeat older than the threshold or the worker gone), through
its synchronous connector, which is the caller's Django connection (jobs/worker.py).
"""

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db import transaction
from procrastinate import exceptions, sql, utils
from procrastinate.contrib.django import app

from jobs.runs import mark_interrupted, prune_runs

logger = logging.getLogger(__name__)

FINISHED = ("succeeded",)
OTHER_FINAL = ("failed", "cancelled", "aborted")


@dataclass
class StalledRetry:
    retried: int = 0
    superseded: int = 0
    skipped: int = 0
    workers_pruned: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def retry_stalled_jobs(*, seconds_since_heartbeat: float) -> StalledRetry:
    """Put the jobs of dead workers back in the queue, then forget the dead workers.

    Each job is retried in its own savepoint. A job whose queueing lock is already held by a
    waiting job (the pipeline's coalesced job, a scheduled job's next tick) is not retried but
    closed as aborted: the waiting job does the same work. The scheduled runs of the retried
    jobs are marked interrupted.
    """
    connector = app.connector.get_sync_connector()
    outcome = StalledRetry()
    rows = connector.execute_query_all(
        query=sql.queries["select_stalled_jobs_by_heartbeat"],
        queue=None,
        task_name=None,
        seconds_since_heartbeat=seconds_since_heartbeat,
    )
    closed = []
    for row in rows:
        try:
            with transaction.atomic():
                app.job_manager.retry_job_by_id(row["id"], utils.utcnow())
            outcome.retried += 1
            done = "retried"
        except exceptions.UniqueViolation:
            with transaction.atomic():
                connector.execute_query(
                    query=sql.queries["finish_job"],
                    job_id=row["id"],
                    status="aborted",
                    delete_job=False,
                )
            outcome.superseded += 1
            done = "closed (a waiting job of its queueing lock does its work)"
        except exceptions.ConnectorException:
            # Another worker's retry took it first (it is no longer `doing`).
            outcome.skipped += 1
            continue
        closed.append(row["id"])
        logger.warning("Job %s (%s) of a dead worker: %s", row["id"], row["task_name"], done)
    mark_interrupted(closed)
    pruned = connector.execute_query_all(
        query=sql.queries["prune_stalled_workers"],
        seconds_since_heartbeat=seconds_since_heartbeat,
    )
    outcome.workers_pruned = len(pruned)
    return outcome


def prune_job_history(*, keep_succeeded: timedelta, keep_other: timedelta) -> dict:
    """Delete finished queue jobs and run records past their retention.

    Succeeded jobs go after `keep_succeeded` (the pipeline leaves one per catch-up); failed,
    cancelled and aborted jobs and the run records stay `keep_other`, for the post-mortem.
    """
    connector = app.connector.get_sync_connector()
    for statuses, kept in ((FINISHED, keep_succeeded), (OTHER_FINAL, keep_other)):
        connector.execute_query(
            query=sql.queries["delete_old_jobs"],
            nb_hours=max(int(kept.total_seconds() // 3600), 1),
            queue=None,
            statuses=list(statuses),
        )
    return {"runs_deleted": prune_runs(older_than=keep_other)}
