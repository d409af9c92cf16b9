"""The stalled-job retry on queue rows built directly: a dead worker's jobs go back in the queue."""

from datetime import timedelta

import pytest
from django.db import connection

from jobs import maintenance
from jobs.maintenance import retry_stalled_jobs
from jobs.models import JobRun, Outcome
from jobs.tasks import prune_job_history
from profiles.tasks.schedule import snapshot_segment_sizes, sweep_pending_events
from tests.clock import ago

pytestmark = pytest.mark.django_db


def _worker(heartbeat_seconds_ago: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - make_interval(secs => %s)) RETURNING id",
            [heartbeat_seconds_ago],
        )
        return cursor.fetchone()[0]


def _running(task, worker_id: int) -> int:
    """A job of `task` that `worker_id` took (as procrastinate's fetch leaves it)."""
    job_id = task.defer()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
            [worker_id, job_id],
        )
    return job_id


def _status(job_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", [job_id])
        return cursor.fetchone()[0]


def _workers() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM procrastinate_workers")
        return {row[0] for row in cursor.fetchall()}


def test_jobs_of_a_dead_worker_are_retried_and_those_of_a_live_one_left_alone():
    # Given a worker silent for 5 minutes and a live one, each in the middle of a job
    dead, alive = _worker(300), _worker(2)
    orphan = _running(prune_job_history, dead)
    busy = _running(snapshot_segment_sizes, alive)
    JobRun.objects.create(
        task_name="jobs.prune_job_history", job_id=orphan, started_at=ago(minutes=5)
    )

    # When the retry runs with the 60 s threshold
    outcome = retry_stalled_jobs(seconds_since_heartbeat=60)

    # Then the dead worker's job waits again, its run is closed, and the dead worker is gone
    assert (outcome.retried, outcome.superseded, outcome.workers_pruned) == (1, 0, 1)
    assert (_status(orphan), _status(busy)) == ("todo", "doing")
    assert JobRun.objects.get(job_id=orphan).outcome == Outcome.INTERRUPTED
    assert _workers() == {alive}


def test_a_stalled_job_whose_queueing_lock_waits_again_is_closed_not_retried():
    # Given a dead worker's job, and the next job of the same queueing lock already waiting
    dead = _worker(300)
    orphan = _running(sweep_pending_events, dead)
    waiting = sweep_pending_events.defer()

    # When the retry runs
    outcome = retry_stalled_jobs(seconds_since_heartbeat=60)

    # Then the waiting job does the work: the stalled one is closed as aborted
    assert (outcome.retried, outcome.superseded) == (0, 1)
    assert (_status(orphan), _status(waiting)) == ("aborted", "todo")


def test_a_job_left_by_a_pruned_worker_is_retried():
    # Given a job whose worker row is already gone (pruned at another worker's start)
    dead = _worker(300)
    orphan = _running(prune_job_history, dead)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_workers WHERE id = %s", [dead])

    assert retry_stalled_jobs(seconds_since_heartbeat=60).retried == 1
    assert _status(orphan) == "todo"


def test_finished_jobs_are_forgotten_after_their_retention():
    def finished(status: str, hours_ago: int) -> int:
        job_id = snapshot_segment_sizes.configure(queueing_lock=None).defer()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_jobs SET status = %s WHERE id = %s", [status, job_id]
            )
            cursor.execute(
                "UPDATE procrastinate_events SET at = now() - make_interval(hours => %s) "
                "WHERE job_id = %s",
                [hours_ago, job_id],
            )
        return job_id

    old_ok, new_ok = finished("succeeded", 30), finished("succeeded", 2)
    old_failed, recent_failed = finished("failed", 24 * 40), finished("failed", 30)

    maintenance.prune_job_history(keep_succeeded=timedelta(hours=24), keep_other=timedelta(days=30))

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM procrastinate_jobs")
        left = {row[0] for row in cursor.fetchall()}
    assert left == {new_ok, recent_failed}
    assert {old_ok, old_failed}.isdisjoint(left)
