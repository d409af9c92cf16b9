"""The metrics the apps count: events accepted and applied, WeChat calls and their outcomes.

WeChat answers from the fake server on loopback (tests/conftest.py `fake_wechat`), as in
tests/platforms/wechat/test_logins.py; a transport error is a port where nothing listens.
"""

import socket

import pytest

from config.api.scopes import IDENTITY_WRITE
from identity.services.app_secrets import set_app_credentials
from platforms.wechat import transport
from platforms.wechat.errors import WeChatUnavailable
from platforms.wechat.transport import WeChatTransport
from tests.clock import iso_ago

pytestmark = pytest.mark.django_db

SECRET = "mini-secret-0123456789"
JSCODE2SESSION = "/sns/jscode2session"


def _event(event_id: str, appid: str, openid: str) -> dict:
    return {
        "event_id": event_id,
        "appid": appid,
        "openid": openid,
        "type": "view",
        "occurred_at": iso_ago(hours=1),
    }


def test_ingested_events_are_counted_as_accepted_and_applied(api, miniprogram, scrape):
    batch = {"events": [_event(f"evt-metrics-{n}", miniprogram.appid, "oMetrics1") for n in (1, 2)]}
    before = scrape()

    first = api.post("/api/v1/events", batch, format="json")
    replay = api.post("/api/v1/events", batch, format="json")

    assert (first.json()["accepted"], replay.json()["duplicates"]) == (2, 2)
    after = scrape()
    accepted = "uid_events_accepted_total"
    assert after.value(accepted, source="events") - before.value(accepted, source="events") == 2
    # The suite runs jobs inline (JOBS_RUN_INLINE): the pipeline applied the batch already.
    applied = "uid_events_applied_total"
    assert after.value(applied) - before.value(applied) == 2


@pytest.fixture
def wechat_mini(fake_wechat, miniprogram, actor):
    set_app_credentials(app=miniprogram, secret=SECRET, actor=actor)
    fake_wechat.add_app(miniprogram.appid, SECRET)
    return miniprogram


def _login(client, appid: str, code: str):
    return client.post(
        "/api/v1/wechat/miniprogram/login", {"appid": appid, "code": code}, format="json"
    )


def test_wechat_calls_are_counted_by_api_and_outcome(make_client, fake_wechat, wechat_mini, scrape):
    client = make_client(scopes=[IDENTITY_WRITE])
    before = scrape()

    ok = _login(client, wechat_mini.appid, fake_wechat.login_code(wechat_mini.appid, "oMiniM1"))
    fake_wechat.fail_next(JSCODE2SESSION, 40029)
    refused = _login(client, wechat_mini.appid, fake_wechat.login_code(wechat_mini.appid, "oM2"))

    assert (ok.status_code, refused.status_code) == (200, 400)
    after = scrape()
    calls = "uid_wechat_calls_total"
    for outcome in ("ok", "40029"):
        labels = {"api": JSCODE2SESSION, "outcome": outcome}
        assert after.value(calls, **labels) - before.value(calls, **labels) == 1
    durations = "uid_wechat_call_duration_seconds_count"
    assert (
        after.value(durations, api=JSCODE2SESSION) - before.value(durations, api=JSCODE2SESSION)
        == 2
    )
    # The openids and codes travel in parameters, never in a label.
    assert "oMiniM1" not in after.text


def test_an_unreachable_wechat_counts_each_try_as_a_transport_error(scrape, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(transport, "BACKOFF_SECONDS", 0)
    client = WeChatTransport(base_url=f"http://127.0.0.1:{port}", timeout=2)
    before = scrape()

    with pytest.raises(WeChatUnavailable):
        client.call("GET", "/cgi-bin/token")
    client.close()

    after = scrape()
    labels = {"api": "/cgi-bin/token", "outcome": "transport_error"}
    name = "uid_wechat_calls_total"
    assert after.value(name, **labels) - before.value(name, **labels) == transport.RETRIES + 1
