"""No personal data in logs or metrics: openids, unionids, phone numbers, person ids.

The API's identity calls are made through the test client (a resolve with a unionid, lookups
by openid, unionid and phone, one at a time and in a batch, a phone bind, a conflicting bind,
a person another app's key may not see), with every logger at DEBUG through the configured
JSON formatter and its filters. Neither the log lines nor the /metrics text may hold one of
the values; each request's id is in its access line, equal to its `X-Request-ID` header.
"""

import pytest

from config.api.scopes import METRICS_READ

pytestmark = pytest.mark.django_db

OPENID, OTHER_OPENID = "oPrivacyOpenid123", "oPrivacyOther456"
UNIONID = "oPrivacyUnion789"
PHONE = "13987654321"
PHONE_FORMS = (PHONE, "+86" + PHONE, "86" + PHONE, "139****4321")


def test_identity_calls_leave_no_personal_data_in_logs_or_metrics(
    api, make_client, miniprogram, make_app, json_log
):
    app = miniprogram.appid
    other_app = make_app("wxPrivacyOther0000").appid
    outsider = make_client(apps=[other_app], name="outsider")
    responses = []

    def call(response, status):
        assert response.status_code == status, response.content
        responses.append(response)
        return response.json() if response.content else None

    # Given a person resolved with a unionid, and another one without
    resolve = "/api/v1/identities/resolve"
    body = {"appid": app, "openid": OPENID, "unionid": UNIONID}
    person_id = call(api.post(resolve, body, format="json"), 200)["person"]["id"]
    body = {"appid": app, "openid": OTHER_OPENID}
    other_id = call(api.post(resolve, body, format="json"), 200)["person"]["id"]

    # When the API binds, looks up and refuses
    phone_url = f"/api/v1/persons/{person_id}/phone"
    call(api.put(phone_url, {"phone": PHONE}, format="json"), 200)
    conflict = {"phone": PHONE, "on_conflict": "fail"}
    call(api.put(f"/api/v1/persons/{other_id}/phone", conflict, format="json"), 409)
    lookup = "/api/v1/persons/lookup"
    call(api.get(lookup, {"appid": app, "openid": OPENID}), 200)
    call(api.get(lookup, {"unionid": UNIONID}), 200)
    call(api.get(lookup, {"phone": PHONE}), 200)
    call(api.post(lookup, {"appid": app, "openids": [OPENID, OTHER_OPENID]}, format="json"), 200)
    call(api.post(lookup, {"unionids": [UNIONID]}, format="json"), 200)
    call(api.post(lookup, {"phones": [PHONE]}, format="json"), 200)
    call(api.get(f"/api/v1/persons/{person_id}"), 200)
    call(outsider.get(f"/api/v1/persons/{person_id}"), 404)
    call(outsider.get(lookup, {"appid": app, "openid": OPENID}), 403)
    scrape = make_client(scopes=[METRICS_READ], name="prometheus").get("/metrics")
    assert scrape.status_code == 200
    responses.append(scrape)

    # Then neither the logs nor the metrics hold any of the values
    values = [OPENID, OTHER_OPENID, UNIONID, person_id, other_id, *PHONE_FORMS]
    logs, metrics = json_log.text(), scrape.content.decode()
    assert logs, "nothing was logged: the capture is broken"
    assert [value for value in values if value in logs] == []
    assert [value for value in values if value in metrics] == []

    # And each request's id is in its access line, as its answer's header said
    lines = json_log()
    access = [line["request_id"] for line in lines if line["logger"] == "access"]
    assert access == [response["X-Request-ID"] for response in responses]
    # Django's own records of the refusals name the route, not the path, and the request's id
    refusals = {
        line["message"]: line["request_id"] for line in lines if line["logger"] == "django.request"
    }
    by_status = {response.status_code: response["X-Request-ID"] for response in responses}
    assert refusals == {
        "Conflict: api/v1/persons/<slug:person_id>/phone": by_status[409],
        "Not Found: api/v1/persons/<slug:person_id>": by_status[404],
        "Forbidden: api/v1/persons/lookup": by_status[403],
    }
