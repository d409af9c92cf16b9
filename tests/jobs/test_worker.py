"""`manage.py run_worker` as a real process on the test database: jobs, stops, a SIGKILL.

The worker only sees committed rows, hence transactional tests. A job is held mid-run by a row
lock that another session takes (the worker's own statement waits for it), so that a stop or
a kill lands while it runs.
"""

import re
import signal
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from procrastinate.exceptions import AlreadyEnqueued

from jobs.models import JobRun, Outcome
from jobs.tasks import prune_job_history, retry_stalled_jobs
from tests.faults.conftest import manage, spawn, stop, url_of

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]

STARTED = re.compile(r"Worker (\d+) started \(pid \d+\): all queues, concurrency 2")


@pytest.fixture(autouse=True)
def _real_worker(settings):
    settings.JOBS_RUN_INLINE = False


def _worker(child_env, tmp_path, name: str, *args: str):
    log = tmp_path / f"{name}.log"
    process = spawn(
        [sys.executable, "manage.py", "run_worker", "--concurrency", "2", *args],
        env=child_env,
        output=log,
    )
    return process, log


def _defer(task) -> int:
    """Defer `task`, or take the job of its queueing lock that a worker's schedule deferred."""
    try:
        return task.defer()
    except AlreadyEnqueued:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'",
                [task.queueing_lock],
            )
            return cursor.fetchone()[0]


def _status(job_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", [job_id])
        return cursor.fetchone()[0]


def _wait(condition, process, log, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process is None or process.poll() is None, f"the worker exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"nothing happened in {seconds}s:\n{log.read_text()}"
        time.sleep(0.05)


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE %s",
            ["%jobs_jobrun%"],
        )
        return cursor.fetchone()[0] > 0


class _HeldRun:
    """An old run record locked by another session: pruning the history waits for it."""

    def __enter__(self):
        old = JobRun.objects.create(
            task_name="jobs.prune_job_history", started_at=timezone.now() - timedelta(days=90)
        )
        self.session = psycopg.connect(url_of(connection.settings_dict), autocommit=False)
        self.session.execute("SELECT 1 FROM jobs_jobrun WHERE id = %s FOR UPDATE", [old.pk])
        return self

    def release(self):
        if not self.session.closed:
            self.session.rollback()
            self.session.close()

    def __exit__(self, *exc):
        self.release()


def test_the_worker_runs_a_deferred_job_and_stops_on_sigterm(child_env, tmp_path):
    # Given a deferred job and a running worker
    job_id = prune_job_history.defer()
    worker, log = _worker(child_env, tmp_path, "worker")
    try:
        # When it has run the job
        _wait(lambda: _status(job_id) == "succeeded", worker, log)
    finally:
        # And it is asked to stop
        stop(worker, signal.SIGTERM)

    # Then it ran the job (recorded), stopped cleanly, and said so with its id
    assert worker.returncode == 0, log.read_text()
    text = log.read_text()
    worker_id = STARTED.search(text).group(1)
    assert f"Worker {worker_id} stopped on SIGTERM" in text
    run = JobRun.objects.get(job_id=job_id)
    assert run.outcome == Outcome.OK
    with connection.cursor() as cursor:  # it unregistered: no heartbeat left behind
        cursor.execute("SELECT count(*) FROM procrastinate_workers WHERE id = %s", [worker_id])
        assert cursor.fetchone()[0] == 0


def test_sigterm_lets_the_running_job_finish_and_takes_no_new_one(child_env, tmp_path):
    with _HeldRun() as held:
        # Given a worker in the middle of a job
        job_id = prune_job_history.defer()
        worker, log = _worker(child_env, tmp_path, "worker", "--stop-timeout", "0")
        try:
            _wait(_waiting_on_a_lock, worker, log)

            # When it is asked to stop, and a new job arrives meanwhile
            worker.send_signal(signal.SIGTERM)
            _wait(lambda: "Stop requested (SIGTERM)" in log.read_text(), worker, log)
            later = _defer(retry_stalled_jobs)
            time.sleep(0.5)
            assert worker.poll() is None  # still finishing its job
            held.release()
            worker.wait(timeout=30)
        finally:
            stop(worker)

    # Then the running job finished, the new one still waits, and the worker exited cleanly
    assert worker.returncode == 0, log.read_text()
    assert "finishing 1 running jobs" in log.read_text()
    assert _status(job_id) == "succeeded"
    assert JobRun.objects.get(job_id=job_id).outcome == Outcome.OK
    assert _status(later) == "todo"


@pytest.mark.parametrize(
    ("how", "args"),
    [("second signal", ["--stop-timeout", "0"]), ("stop timeout", ["--stop-timeout", "1"])],
)
def test_a_second_signal_or_the_stop_timeout_exits_at_once(child_env, tmp_path, how, args):
    with _HeldRun():
        # Given a worker asked to stop while its job waits
        job_id = _defer(prune_job_history)
        worker, log = _worker(child_env, tmp_path, "worker", *args)
        try:
            _wait(_waiting_on_a_lock, worker, log)
            worker.send_signal(signal.SIGTERM)
            _wait(lambda: "Stop requested" in log.read_text(), worker, log)

            # When a second signal comes, or the stop timeout runs out
            if how == "second signal":
                worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        finally:
            stop(worker)

    # Then it exits at once, saying so, and the job is left to the stalled-job retry
    assert worker.returncode == 1
    assert f"Stopping at once ({how}" in log.read_text()
    assert _status(job_id) == "doing"


def test_a_job_of_a_killed_worker_is_retried_by_the_stalled_job_retry(child_env, tmp_path):
    with _HeldRun():
        # Given a worker killed (SIGKILL) in the middle of a job
        job_id = _defer(prune_job_history)
        worker, log = _worker(child_env, tmp_path, "killed")
        try:
            _wait(_waiting_on_a_lock, worker, log)
        finally:
            stop(worker, signal.SIGKILL)
    assert worker.returncode == -signal.SIGKILL
    assert _status(job_id) == "doing"  # procrastinate only knows the heartbeat stopped
    assert JobRun.objects.get(job_id=job_id).outcome == Outcome.RUNNING
    dead = STARTED.search(log.read_text()).group(1)

    # When its heartbeat is older than JOBS_STALLED_SECONDS (set back, instead of waiting)
    # and the schedule's stalled-job retry runs in another worker
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '10 minutes' "
            "WHERE id = %s",
            [dead],
        )
    retry_id = _defer(retry_stalled_jobs)
    done = manage("run_worker", "--until-empty", env=child_env, timeout=120)

    # Then the job ran again, to completion, and the interrupted run is recorded as such
    assert done.returncode == 0, done.stdout + done.stderr
    assert _status(retry_id) == "succeeded"
    assert JobRun.objects.get(job_id=retry_id).result["retried"] == 1
    assert _status(job_id) == "succeeded"
    runs = sorted(JobRun.objects.filter(job_id=job_id).values_list("outcome", flat=True))
    assert runs == [Outcome.INTERRUPTED, Outcome.OK]
    with connection.cursor() as cursor:  # and the dead worker is forgotten
        cursor.execute("SELECT count(*) FROM procrastinate_workers WHERE id = %s", [dead])
        assert cursor.fetchone()[0] == 0


def test_until_empty_runs_what_is_queued_then_exits(child_env):
    first, second = prune_job_history.defer(), retry_stalled_jobs.defer()

    done = manage("run_worker", "--until-empty", env=child_env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert (_status(first), _status(second)) == ("succeeded", "succeeded")
    assert "until the queue is empty" in done.stderr
    # No schedule in this mode: only the two deferred jobs ran
    assert JobRun.objects.count() == 2
