"""Input the API fuzzing found mishandled, or that it cannot send itself.

Each answer must be a 4xx in the error format (or an event reported as invalid), never a 500:
NUL characters reach PostgreSQL text and jsonb, which refuse them; unpaired surrogates (JSON
may carry "\\udfff") cannot be encoded as UTF-8, neither to the database nor in an error
message that quotes them; a well formed but impossible time; JSON nested thousands of levels
deep. A method an endpoint does not implement is a 405, not a 403 for a missing scope. An
empty query value (`?limit=`) is checked as the schema says, not read as absent.
"""

import pytest

from identity.models import AppKind

MINI = "wx1111111111111111"
VALID_EVENT = (
    '{"event_id": "e1", "appid": "wx1111111111111111", "openid": "o_hostile", "type": "view", '
    '"occurred_at": "2026-01-01T10:00:00+08:00"'
)


@pytest.fixture
def person_id(api, make_app):
    make_app(MINI, AppKind.MINIPROGRAM)
    response = api.post(
        "/api/v1/identities/resolve", {"appid": MINI, "openid": "o_hostile"}, format="json"
    )
    return response.json()["person"]["id"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/persons/p%00x",
        "/api/v1/persons/p%00x/events",
        "/api/v1/persons/p%00x/tags/vip",
    ],
)
def test_nul_in_a_person_id_of_the_path_is_not_found(api, path):
    response = api.delete(path) if path.endswith("vip") else api.get(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (', "channel": "a\\u0000"', "channel"),
        (', "channel": "a\\udfff"', "channel"),
        (', "properties": {"k": "a\\u0000"}', "properties"),
        (', "properties": {"\\u0000": 1}', "properties"),
        (', "properties": {"k": ["\\ud800"]}', "properties"),
    ],
)
def test_text_postgresql_cannot_store_is_an_invalid_event(api, person_id, extra, field):
    response = api.post(
        "/api/v1/events", f'{{"events": [{VALID_EVENT}{extra}}}]}}', content_type="application/json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 0
    assert field in body["errors"][0]["error"]["details"]


@pytest.mark.parametrize(
    "item",
    [
        '{"event_id": "e1", "appid": "wx\\u0000", "openid": "o1", "type": "view", '
        '"occurred_at": "2026-01-01T10:00:00+08:00"}',
        '{"event_id": "e1", "person_id": "p\\u0000", "type": "view", '
        '"occurred_at": "2026-01-01T10:00:00+08:00"}',
        '{"event_id": "e1", "appid": "wx1111111111111111", "openid": "o1", "type": "view", '
        '"occurred_at": "2024-01-01T12:99:00Z"}',
    ],
)
def test_a_nul_subject_or_an_impossible_time_is_an_invalid_event(api, person_id, item):
    response = api.post(
        "/api/v1/events", f'{{"events": [{item}]}}', content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["errors"][0]["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/persons/lookup", '{"unionids": ["u1"], "platform": "x\\udfff"}'),
        ("/api/v1/identities/resolve", '{"appid": "wx\\udfff", "openid": "o1"}'),
    ],
)
def test_an_unpaired_surrogate_quoted_in_an_error_is_escaped(api, path, body):
    response = api.post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_malformed(api, depth):
    body = '{"events": ' + "[" * depth + "]" * depth + "}"

    response = api.post("/api/v1/events", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


@pytest.mark.parametrize(
    ("method", "path"),
    [("patch", "/api/v1/events"), ("put", "/api/v1/tags"), ("post", "/api/v1/segments")],
)
def test_a_method_the_endpoint_lacks_is_not_allowed(api, method, path):
    response = getattr(api, method)(path, {}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"]


def test_options_of_a_post_only_endpoint_still_needs_a_scope(api):
    assert api.options("/api/v1/events").status_code == 403


@pytest.mark.parametrize(("query", "status"), [("limit=", 400), ("type=", 400), ("cursor=", 200)])
def test_an_empty_query_value_is_a_value(api, person_id, query, status):
    response = api.get(f"/api/v1/persons/{person_id}/events?{query}")

    assert response.status_code == status
