"""`/healthz` reports the worker ("ok", "lagging", "down") and the backlog, in one statement.

The queue's rows are built directly: worker heartbeats, waiting jobs, pending events.
"""

import pytest
from django.db import connection

from jobs.tasks import prune_job_history
from profiles.models import PendingEvents
from tests.clock import ago

pytestmark = pytest.mark.django_db


def _heartbeat(seconds_ago: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - make_interval(secs => %s))",
            [seconds_ago],
        )


def _waiting_job(seconds: float) -> int:
    """A job deferred `seconds` ago and not taken yet."""
    job_id = prune_job_history.defer()
    _waited(job_id, seconds=seconds)
    return job_id


def _waited(job_id: int, *, seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - make_interval(secs => %s) "
            "WHERE job_id = %s AND type = 'deferred'",
            [seconds, job_id],
        )


def _pending(events: int, *, seconds: float) -> None:
    PendingEvents.objects.create(
        event_ids=list(range(1, events + 1)),
        occurred_at=[ago(days=1)] * events,
        event_count=events,
        accepted_at=ago(minutes=seconds / 60),
        actor_type="system",
        actor_label="test",
        source="api",
    )


def _health(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200  # whatever the worker does: the web still accepts
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    return body


def test_a_live_worker_with_nothing_waiting_is_ok(client, django_assert_num_queries):
    _heartbeat(3)

    body = _health(client, django_assert_num_queries)

    assert body["worker"] == "ok"
    assert body["queue"] == {
        "depth": 0,
        "oldest_seconds": None,
        "pending_events": 0,
        "oldest_pending_seconds": None,
    }


def test_no_recent_heartbeat_is_down(client, django_assert_num_queries, settings):
    settings.JOBS_WORKER_DOWN_SECONDS = 30
    assert _health(client, django_assert_num_queries)["worker"] == "down"  # no worker at all

    _heartbeat(45)  # a worker that stopped writing heartbeats
    _pending(3, seconds=5)

    body = _health(client, django_assert_num_queries)
    assert body["worker"] == "down"
    assert body["queue"]["pending_events"] == 3


def test_a_job_waiting_too_long_is_lagging(client, django_assert_num_queries, settings):
    settings.JOBS_LAG_SECONDS = 60
    _heartbeat(1)
    job_id = _waiting_job(seconds=20)
    assert _health(client, django_assert_num_queries)["worker"] == "ok"

    _waited(job_id, seconds=90)

    body = _health(client, django_assert_num_queries)
    assert body["worker"] == "lagging"
    assert body["queue"]["depth"] == 1
    assert 90 <= body["queue"]["oldest_seconds"] <= 120


def test_events_pending_too_long_are_lagging(client, django_assert_num_queries, settings):
    settings.JOBS_LAG_SECONDS = 60
    _heartbeat(1)
    _pending(500, seconds=10)
    _pending(200, seconds=150)

    body = _health(client, django_assert_num_queries)

    assert body["worker"] == "lagging"
    assert body["queue"]["pending_events"] == 700
    assert 149 <= body["queue"]["oldest_pending_seconds"] <= 180
    assert body["queue"]["depth"] == 0


def test_a_job_scheduled_for_later_is_not_waiting(client, django_assert_num_queries):
    _heartbeat(1)
    prune_job_history.configure(schedule_in={"minutes": 10}).defer()

    body = _health(client, django_assert_num_queries)

    assert body["worker"] == "ok"
    assert (body["queue"]["depth"], body["queue"]["oldest_seconds"]) == (0, None)
