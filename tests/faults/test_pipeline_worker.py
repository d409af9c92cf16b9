"""The pipeline's worker as a real process: killed mid-job, and down while ingest goes on.

The worker (`manage.py run_worker`) runs on the suite's test database, so it sees what the test
committed; the test's own ingests defer real jobs (JOBS_RUN_INLINE off).
"""

import signal
import sys
import time

import psycopg
import pytest
from django.db import connection
from django.test import Client

from identity.models import AppKind
from identity.services.apps import provision_app
from profiles.models import PendingEvents, PersonStats
from profiles.services import pipeline
from profiles.services.ingest import ingest_events
from profiles.services.stats_rebuild import rebuild_all_stats
from tests.clock import iso_ago
from tests.faults.conftest import manage, spawn, stop, url_of
from tests.faults.test_killed_workers import _check_identity_graph, _other_backends

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

APPID = "wx4444444444444444"
PERSONS = 40


@pytest.fixture(autouse=True)
def _real_worker(settings):
    settings.JOBS_RUN_INLINE = False


def _events(app, prefix: str, per_person: int = 3) -> list[dict]:
    return [
        {
            "event_id": f"{prefix}-{person}-{number}",
            "appid": app.appid,
            "openid": f"oPipe{person}",
            "type": "pay" if number % 2 else "view",
            "amount": f"{person % 7 + 1}.25",
            "channel": f"ch{person % 3}",
            "occurred_at": iso_ago(days=number + 1, minutes=person),
        }
        for person in range(PERSONS)
        for number in range(per_person)
    ]


def _start_worker(child_env, tmp_path, name: str):
    return spawn(
        [sys.executable, "manage.py", "run_worker"],
        env=child_env,
        output=tmp_path / f"{name}.log",
    )


def _pending() -> int:
    return PendingEvents.objects.count()


def _wait(condition, process, log, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the worker exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no progress within {seconds}s:\n{log.read_text()}"
        time.sleep(0.05)


def _waiting_on_stats_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE %s",
            ["%profiles_personstats%"],
        )
        return cursor.fetchone()[0] > 0


def _wait_for_no_other_backends() -> None:
    deadline = time.monotonic() + 10
    while _other_backends()[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _other_backends()[0] == 0


def test_a_worker_killed_mid_job_loses_and_doubles_nothing(child_env, actor, tmp_path):
    # Given persons whose stats exist, and a second ingest of theirs waiting for the worker
    app = provision_app(appid=APPID, kind=AppKind.MINIPROGRAM, name="pipe", actor=actor)[0]
    assert ingest_events(events=_events(app, "first"), actor=actor).accepted == PERSONS * 3
    pipeline.apply_pending_events()
    assert ingest_events(events=_events(app, "second"), actor=actor).accepted == PERSONS * 3
    before = sorted(PersonStats.objects.values_list("person_id", "event_count", "pay_total"))

    # When the worker's job is stopped half-way (its stats upsert waits for a row another
    # session holds) and the worker is killed there
    blocker = psycopg.connect(url_of(connection.settings_dict), autocommit=False)
    try:
        blocker.execute(
            "SELECT 1 FROM profiles_personstats ORDER BY person_id DESC LIMIT 1 FOR UPDATE"
        )
        log = tmp_path / "worker.log"
        worker = _start_worker(child_env, tmp_path, "worker")
        try:
            _wait(_waiting_on_stats_lock, worker, log)
        finally:
            stop(worker, signal.SIGKILL)
        assert worker.returncode == -signal.SIGKILL
    finally:
        # The killed worker's backend waits for this lock before it notices its client is gone.
        blocker.rollback()
        blocker.close()
    _wait_for_no_other_backends()

    # Then nothing of the half-done job is left: the events still wait, the stats are as before
    assert _pending() == 1
    assert sorted(PersonStats.objects.values_list("person_id", "event_count", "pay_total")) == (
        before
    )

    # And a restarted worker applies them exactly once
    worker = _start_worker(child_env, tmp_path, "restarted")
    try:
        _wait(lambda: _pending() == 0, worker, tmp_path / "restarted.log", seconds=30)
    finally:
        stop(worker, signal.SIGTERM)
    assert sorted(PersonStats.objects.values_list("event_count", flat=True)) == [6] * PERSONS
    assert rebuild_all_stats(dry_run=True)[1] == 0
    done = manage("rebuild_stats", "--check", env=child_env)
    assert done.returncode == 0, done.stdout + done.stderr
    _check_identity_graph(child_env)


def test_ingest_accepts_while_the_worker_is_down_and_it_catches_up(child_env, actor, tmp_path):
    from identity.services.api_keys import create_api_key

    app = provision_app(appid=APPID, kind=AppKind.MINIPROGRAM, name="pipe", actor=actor)[0]
    _, secret = create_api_key(name="pipe", scopes=["events:write"], actor=actor)
    client = Client(headers={"authorization": f"Bearer {secret}"})

    # While no worker runs, every batch is accepted and waits
    for batch in range(5):
        response = client.post(
            "/api/v1/events",
            {"events": _events(app, f"down{batch}", per_person=1)},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["accepted"] == PERSONS
    assert _pending() == 5
    assert not PersonStats.objects.exists()
    health = client.get("/healthz").json()
    assert health["worker"] == "down"
    assert health["queue"]["pending_events"] == 5 * PERSONS

    # When the worker comes back, it catches up and the health check says so
    log = tmp_path / "worker.log"
    worker = _start_worker(child_env, tmp_path, "worker")
    try:
        _wait(lambda: _pending() == 0, worker, log)
        _wait(lambda: client.get("/healthz").json()["worker"] == "ok", worker, log)
    finally:
        stop(worker, signal.SIGTERM)
    assert sorted(PersonStats.objects.values_list("event_count", flat=True)) == [5] * PERSONS
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_a_worker_applying_a_random_stream_with_merges_and_undos_equals_a_rebuild(
    child_env, actor, tmp_path
):
    import contextlib
    import random

    from identity.exceptions import Conflict
    from identity.models import MergeRecord
    from identity.services.merge import merge_persons
    from identity.services.resolve import resolve_identity
    from identity.services.undo import undo_merge
    from profiles.services.activity import activity_drift

    # Given a worker running beside the test
    rng = random.Random(20261201)
    mini = provision_app(appid=APPID, kind=AppKind.MINIPROGRAM, name="pipe", actor=actor)[0]
    h5 = provision_app(appid="wx5555555555555555", kind=AppKind.H5, name="h5", actor=actor)[0]
    log = tmp_path / "worker.log"
    worker = _start_worker(child_env, tmp_path, "worker")
    try:
        # When batches of random events arrive, with merges and undos in between, while the
        # worker applies what it can
        records = []
        for step in range(40):
            app = rng.choice([mini, h5])
            batch = [
                {
                    "event_id": f"rand-{step}-{number}",
                    "appid": app.appid,
                    "openid": f"oRand{app.pk}-{rng.randrange(8)}",
                    "type": rng.choice(["view", "login", "pay", "share"]),
                    "amount": f"{rng.randrange(0, 9000) / 100:.2f}",
                    "channel": rng.choice(["", "qr", "article"]),
                    "occurred_at": iso_ago(days=rng.randrange(0, 40), minutes=step),
                }
                for number in range(rng.randrange(1, 15))
            ]
            assert not ingest_events(events=batch, actor=actor).errors
            roll = rng.random()
            if roll < 0.25:
                first = resolve_identity(
                    app=mini, openid=f"oRand{mini.pk}-{rng.randrange(8)}", actor=actor
                ).person
                second = resolve_identity(
                    app=h5, openid=f"oRand{h5.pk}-{rng.randrange(8)}", actor=actor
                ).person
                with contextlib.suppress(Conflict):  # two openids of one app: no merge
                    records.append(
                        merge_persons(first=first, second=second, reason="manual", actor=actor)
                    )
            elif roll < 0.35 and len(records) > 1:  # keep one merge standing
                with contextlib.suppress(Conflict):  # a later merge may stand in the way
                    undo_merge(record=records.pop(rng.randrange(len(records))), actor=actor)
            time.sleep(rng.choice([0, 0, 0.05, 0.2]))
        # Then, once it has caught up
        _wait(lambda: _pending() == 0, worker, log)
    finally:
        stop(worker, signal.SIGTERM)

    assert MergeRecord.objects.filter(undone_at__isnull=True).exists()
    assert MergeRecord.objects.filter(undone_at__isnull=False).exists()
    assert rebuild_all_stats(dry_run=True)[1] == 0
    assert activity_drift() == []
    _check_identity_graph(child_env)
