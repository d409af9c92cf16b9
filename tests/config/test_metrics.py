"""`GET /metrics`: who may read it, and the request, cache and queue metrics it shows.

The counters are the process's (no PROMETHEUS_MULTIPROC_DIR in the suite) and outlive a test,
so each test compares a scrape after its requests with one before.
"""

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from config import metrics
from config.api.scopes import ALL_SCOPES, METRICS_READ
from identity.models import ApiKey
from jobs.tasks import prune_job_history
from profiles.models import PendingEvents
from tests.clock import ago

pytestmark = pytest.mark.django_db

PERSON_ROUTE = "api/v1/persons/<slug:person_id>"


def test_metrics_need_a_key():
    response = APIClient().get("/metrics")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_metrics_need_the_metrics_scope(make_client):
    client = make_client(scopes=[scope for scope in ALL_SCOPES if scope != METRICS_READ])

    response = client.get("/metrics")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "scope_missing"


def test_a_revoked_key_is_refused(make_client):
    client = make_client(scopes=[METRICS_READ], name="revoked prometheus")
    ApiKey.objects.filter(name="revoked prometheus").update(revoked_at=timezone.now())

    assert client.get("/metrics").status_code == 401


def test_the_answer_is_prometheus_text_in_the_format_asked_for(make_client):
    client = make_client(scopes=[METRICS_READ])

    plain = client.get("/metrics")
    text_only = client.get("/metrics", HTTP_ACCEPT="text/plain")
    openmetrics = client.get(
        "/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0, text/plain;q=0.5"
    )

    assert plain.status_code == 200
    assert plain["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# TYPE uid_http_request_duration_seconds histogram" in plain.content
    assert text_only.status_code == 200  # no 406: the API's renderers do not decide here
    assert openmetrics["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.content.endswith(b"# EOF\n")


def test_metrics_stay_out_of_the_public_schema(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    assert "/metrics" not in schema["paths"]


def test_requests_are_timed_by_route_method_and_status(api, person, scrape):
    before = scrape()

    assert api.get(f"/api/v1/persons/{person.public_id}").status_code == 200
    assert api.get(f"/api/v1/persons/{person.public_id}").status_code == 200
    assert api.get("/api/v1/persons/pNoSuchPerson").status_code == 404

    after = scrape()
    name = "uid_http_request_duration_seconds_count"
    for status, count in (("200", 2), ("404", 1)):
        labels = {"route": PERSON_ROUTE, "method": "GET", "status": status}
        assert after.value(name, **labels) - before.value(name, **labels) == count
    # Routes are URL patterns: the ids of the paths appear nowhere.
    assert person.public_id not in after.text
    assert "pNoSuchPerson" not in after.text


def test_answers_outside_the_urlconf_have_fixed_route_names(client, scrape):
    before = scrape()

    assert client.get("/no/such/page/p123").status_code == 404
    assert client.get("/static/admin/css/base.css").status_code == 200
    assert client.generic("BREW", "/healthz").status_code == 405

    after = scrape()
    name = "uid_http_request_duration_seconds_count"

    def delta(**labels):
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta(route="(unmatched)", method="GET", status="404") == 1
    assert delta(route="(static)", method="GET", status="200") == 1
    assert delta(route="healthz", method="other", status="405") == 1
    assert "/no/such/page" not in after.text
    assert "BREW" not in after.text


def test_each_request_records_its_sql_time(client, scrape):
    before = scrape()

    assert client.get("/healthz").status_code == 200  # one statement

    after = scrape()
    name = "uid_http_request_db_seconds"
    assert (
        after.value(f"{name}_count", route="healthz")
        - before.value(f"{name}_count", route="healthz")
        == 1
    )
    assert after.value(f"{name}_sum", route="healthz") > before.value(
        f"{name}_sum", route="healthz"
    )


def test_person_cache_results_are_exported(scrape):
    before = scrape()

    metrics.PERSON_CACHE_REQUESTS.labels(result="hit").inc()
    metrics.PERSON_CACHE_REQUESTS.labels(result="hit").inc()
    metrics.PERSON_CACHE_REQUESTS.labels(result="error").inc()

    after = scrape()
    name = "uid_person_cache_requests_total"
    assert after.labels(name, "result") >= {"hit", "miss", "error", "bypass"}
    assert after.value(name, result="hit") - before.value(name, result="hit") == 2
    assert after.value(name, result="error") - before.value(name, result="error") == 1


def _waiting_job(seconds: float) -> None:
    """A job deferred `seconds` ago and not taken yet (as tests/jobs/test_health.py builds it)."""
    job_id = prune_job_history.defer()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - make_interval(secs => %s) "
            "WHERE job_id = %s AND type = 'deferred'",
            [seconds, job_id],
        )


def test_the_queue_is_measured_at_scrape_time(scrape):
    # Given nothing waiting and no worker ever started
    idle = scrape()
    assert idle.value("uid_queue_up") == 1
    assert idle.value("uid_queue_depth") == 0
    assert idle.value("uid_queue_oldest_job_age_seconds") == 0
    assert idle.value("uid_worker_heartbeat_age_seconds") == float("inf")
    assert idle.value("uid_worker_state", state="down") == 1

    # When a job has waited two minutes and events five
    _waiting_job(seconds=120)
    PendingEvents.objects.create(
        event_ids=[1, 2, 3],
        occurred_at=[ago(days=1)] * 3,
        event_count=3,
        accepted_at=ago(minutes=5),
        actor_type="system",
        actor_label="test",
        source="api",
    )

    # Then the next scrape shows them
    busy = scrape()
    assert busy.value("uid_queue_depth") == 1
    assert 120 <= busy.value("uid_queue_oldest_job_age_seconds") < 3600
    assert busy.value("uid_backlog_units", backlog="pending_events") == 3
    # (PostgreSQL's now() is the test transaction's start: a little earlier than Python's.)
    assert 240 <= busy.value("uid_backlog_oldest_age_seconds", backlog="pending_events") < 3600


def test_a_queue_that_cannot_be_read_does_not_fail_the_scrape(scrape, monkeypatch):
    def unreachable():
        raise RuntimeError("database gone")

    monkeypatch.setattr("jobs.selectors.queue_health", unreachable)

    answer = scrape()

    assert answer.value("uid_queue_up") == 0
    assert "uid_queue_depth" not in answer.text
    assert "uid_http_request_duration_seconds" in answer.text
