"""The request id (`X-Request-ID`, in and out), its place in every log record of the request,
and the access line written for each request (config/observability.py).

A few answers come from views of this module (`urls` marker): a lost database in a plain Django
view (the 503 of config/middleware.py), a crash (500), a view that logs.
"""

import logging
import re

import pytest
from django.db import OperationalError
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from identity.models import ApiKey
from tests.conftest import PERSON_OPENID

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


def _database_gone(request):
    raise OperationalError("connection refused")


def _crash(request):
    raise RuntimeError("boom")


def _logs(request):
    logging.getLogger("tests.inside").info("inside the view")
    return HttpResponse("ok")


urlpatterns = [
    path("gone", _database_gone, name="gone"),
    path("crash", _crash, name="crash"),
    path("logs", _logs, name="logs"),
]


def test_each_answer_carries_a_new_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


@pytest.mark.parametrize("incoming", ["abcd1234", "req-2026.01_01-XYZ", "a" * 64])
def test_a_safe_incoming_id_is_kept(client, incoming):
    assert client.get("/healthz", HTTP_X_REQUEST_ID=incoming)["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["short", "a" * 65, "has space12", "new\nline1234", "quote'1234", "请求编号" * 3, ""],
)
def test_an_unsafe_incoming_id_is_replaced(client, incoming):
    answer = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)["X-Request-ID"]

    assert GENERATED.fullmatch(answer)


def test_refusals_and_errors_carry_the_id_too(client):
    unauthenticated = client.get("/api/v1/persons/lookup", HTTP_X_REQUEST_ID="refused-401")
    unknown = client.get("/no/such/page", HTTP_X_REQUEST_ID="missing-404")
    nul = client.get("/healthz", {"q": "\x00"}, HTTP_X_REQUEST_ID="nul-guard-400")

    assert (unauthenticated.status_code, unauthenticated["X-Request-ID"]) == (401, "refused-401")
    assert (unknown.status_code, unknown["X-Request-ID"]) == (404, "missing-404")
    assert (nul.status_code, nul["X-Request-ID"]) == (400, "nul-guard-400")


@pytest.mark.urls(__name__)
def test_the_503_of_a_lost_database_and_a_crash_carry_the_id():
    client = Client(raise_request_exception=False)

    gone = client.get("/gone", HTTP_X_REQUEST_ID="database-gone")
    crash = client.get("/crash", HTTP_X_REQUEST_ID="crashed-500")

    assert (gone.status_code, gone["X-Request-ID"]) == (503, "database-gone")
    assert gone.json()["error"]["code"] == "database_unavailable"
    assert (crash.status_code, crash["X-Request-ID"]) == (500, "crashed-500")


@pytest.mark.urls(__name__)
def test_every_record_of_a_request_names_its_id(client, json_log):
    client.get("/logs", HTTP_X_REQUEST_ID="with-logs-1")
    logging.getLogger("tests.outside").info("between requests")

    records = {record["message"]: record for record in json_log()}
    assert records["inside the view"]["request_id"] == "with-logs-1"
    assert "request_id" not in records["between requests"]


def test_one_access_line_per_request_without_query_or_path(api, person, json_log):
    key = ApiKey.objects.get(name="test key")

    response = api.get(
        "/api/v1/persons/lookup",
        {"appid": person.identities.first().app.appid, "openid": PERSON_OPENID},
        HTTP_X_REQUEST_ID="lookup-access-1",
    )

    assert response.status_code == 200
    access = [record for record in json_log() if record["logger"] == "access"]
    assert len(access) == 1
    line = access[0]
    assert set(line) >= {"time", "level", "logger", "message", "request_id"}
    assert line["request_id"] == "lookup-access-1"
    assert (line["method"], line["route"], line["status"]) == (
        "GET",
        "api/v1/persons/lookup",
        200,
    )
    assert line["api_key"] == key.prefix
    assert line["db_queries"] >= 1
    assert line["duration_ms"] >= line["db_ms"] >= 0
    assert PERSON_OPENID not in json_log.text()
    assert "?" not in line["message"]


def test_the_access_line_names_the_route_of_a_person_not_its_id(api, person, json_log):
    api.get(f"/api/v1/persons/{person.public_id}")

    (line,) = [record for record in json_log() if record["logger"] == "access"]
    assert line["route"] == "api/v1/persons/<slug:person_id>"
    assert person.public_id not in json_log.text()


def test_an_unauthenticated_request_names_no_key(client, json_log):
    client.get("/api/v1/persons/lookup")

    (line,) = [record for record in json_log() if record["logger"] == "access"]
    assert line["status"] == 401
    assert "api_key" not in line
