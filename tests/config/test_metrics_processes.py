"""Multiprocess mode: counters of several processes, one scrape (config/metrics_files.py).

gunicorn's workers and the background worker each write their own files into
PROMETHEUS_MULTIPROC_DIR; the process that answers /metrics sums them. The writers here are
real processes, started with the variable set as gunicorn.conf.py and `make run` set it.
"""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from config import metrics, metrics_files

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
from config import metrics

metrics.EVENTS_ACCEPTED.labels("events").inc(int(sys.argv[1]))
metrics.EVENTS_APPLIED.inc(int(sys.argv[1]))
metrics.REQUEST_DURATION.labels("api/v1/persons/lookup", "GET", "200").observe(0.002)
"""


@pytest.mark.django_db
def test_one_scrape_sums_the_counters_of_every_process(tmp_path, scrape, monkeypatch):
    # Given two processes that counted into one directory (a web worker and the worker)
    env = {**os.environ, metrics_files.ENV: str(tmp_path)}
    for amount in (3, 4):
        subprocess.run([sys.executable, "-c", WRITER, str(amount)], cwd=ROOT, env=env, check=True)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2

    # When /metrics is read by a process in multiprocess mode on that directory
    monkeypatch.setattr(metrics, "MULTIPROCESS_DIR", str(tmp_path))
    answer = scrape()

    # Then it shows the sum of both, and the queue measured at scrape time
    assert answer.value("uid_events_accepted_total", source="events") == 7
    assert answer.value("uid_events_applied_total") == 7
    assert (
        answer.value(
            "uid_http_request_duration_seconds_count", route="api/v1/persons/lookup", status="200"
        )
        == 2
    )
    assert answer.value("uid_queue_up") == 1


def test_a_server_start_clears_the_files_of_processes_that_are_gone(tmp_path):
    # Given the file of a process that ended, one of a live process, and a file of another kind
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(ended.stdout)
    dead = tmp_path / f"counter_{dead_pid}.db"
    live = tmp_path / f"histogram_{os.getpid()}.db"
    other = tmp_path / "README"
    for path in (dead, live, other):
        path.write_bytes(b"x")

    # When the server starts
    removed = metrics_files.remove_dead_process_files(tmp_path)

    # Then only the gone process's file is removed (the running background worker keeps its own)
    assert removed == [dead]
    assert not dead.exists()
    assert live.exists()
    assert other.exists()


def test_gunicorn_sets_the_directory_clears_it_and_marks_dead_workers(tmp_path, monkeypatch):
    # Given no directory named by the environment, and gunicorn's access log not asked for
    monkeypatch.setattr(metrics_files, "DEFAULT_DIR", tmp_path / "prometheus")
    monkeypatch.setenv(metrics_files.ENV, "placeholder")
    monkeypatch.delenv(metrics_files.ENV)  # restored to unset after the test
    monkeypatch.delenv("GUNICORN_ACCESSLOG", raising=False)

    # When gunicorn reads its configuration
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    # Then the workers will write into the local directory, and gunicorn's access log is off
    directory = tmp_path / "prometheus"
    assert os.environ[metrics_files.ENV] == str(directory)
    assert directory.is_dir()
    assert conf["accesslog"] is None
    assert conf["worker_class"] == "gthread"

    # And its hooks clear a gone process's files at start, and a dead worker's live gauges
    stale = directory / "counter_999999999.db"
    stale.write_bytes(b"x")
    conf["on_starting"](server=None)
    assert not stale.exists()
    live_gauge = directory / f"gauge_livesum_{os.getpid()}.db"
    live_gauge.write_bytes(b"x")
    conf["child_exit"](server=None, worker=type("Worker", (), {"pid": os.getpid()})())
    assert not live_gauge.exists()


def test_gunicorn_access_log_can_still_be_turned_on(monkeypatch, tmp_path):
    monkeypatch.setenv(metrics_files.ENV, str(tmp_path))
    monkeypatch.setenv("GUNICORN_ACCESSLOG", "-")

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert conf["accesslog"] == "-"
