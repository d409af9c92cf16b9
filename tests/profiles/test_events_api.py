import pytest

from config.api.scopes import EVENTS_WRITE, IDENTITY_READ
from identity.services.resolve import resolve_identity
from profiles.models import Event
from profiles.services.ingest import ingest_events

pytestmark = pytest.mark.django_db


def post(client, events):
    return client.post("/api/v1/events", {"events": events}, format="json")


def test_ingest_answers_counts_and_item_errors(api, event):
    response = post(api, [event(), event(type="nope"), event()])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert body["errors"] == [
        {
            "index": 1,
            "error": {
                "code": "invalid",
                "message": "The event is invalid.",
                "details": {"type": ["Unknown event type 'nope'."]},
            },
        }
    ]


@pytest.mark.parametrize("body", [{}, {"events": "x"}, {"events": []}, {"events": [{}] * 1001}])
def test_bad_batches_are_400(api, body):
    response = api.post("/api/v1/events", body, format="json")
    assert response.status_code == 400
    assert "events" in response.json()["error"]["details"]
    assert not Event.objects.exists()


def test_ingest_needs_events_write_and_the_app(make_client, event, h5):
    assert post(make_client(scopes=[IDENTITY_READ]), [event()]).status_code == 403
    restricted = make_client(scopes=[EVENTS_WRITE], apps=[h5.appid])
    body = post(restricted, [event()]).json()
    assert body["errors"][0]["error"]["code"] == "app_forbidden"
    assert post(make_client(scopes=[EVENTS_WRITE]), [event()]).json()["accepted"] == 1


def test_person_representation_carries_stats(api, event, miniprogram):
    post(api, [event(type="pay", amount="12.50", channel="qr_store"), event(type="login")])
    body = api.get(f"/api/v1/persons/lookup?appid={miniprogram.appid}&openid=oUser1").json()
    stats = body["stats"]
    assert stats["pay_count"] == 1
    assert stats["pay_total"] == "12.50"
    assert stats["first_channel"] == "qr_store"
    assert stats["events"]["login"]["count"] == 1
    assert stats["last_login_at"] is not None


def test_person_events_are_cursor_paginated_newest_first(api, event, miniprogram, actor):
    person = resolve_identity(app=miniprogram, openid="oUser1", actor=actor).person
    ingest_events(
        events=[
            event(
                event_id=f"e{day}",
                type="pay" if day % 2 else "view",
                amount="1.00",
                occurred_at=f"2026-10-{day:02d}T00:00:00Z",
            )
            for day in range(1, 8)
        ],
        actor=actor,
    )
    seen, cursor = [], None
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        page = api.get(f"/api/v1/persons/{person.public_id}/events{query}").json()
        seen += [e["event_id"] for e in page["results"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"e{day}" for day in range(7, 0, -1)]
    pays = api.get(f"/api/v1/persons/{person.public_id}/events?type=pay").json()["results"]
    assert [e["event_id"] for e in pays] == ["e7", "e5", "e3", "e1"]
    assert pays[0]["amount"] == "1.00"


@pytest.mark.parametrize("query", ["?limit=0", "?limit=500", "?cursor=%%%", "?type=a%20b"])
def test_bad_event_queries_are_400(api, miniprogram, actor, query):
    person = resolve_identity(app=miniprogram, openid="oUser1", actor=actor).person
    response = api.get(f"/api/v1/persons/{person.public_id}/events{query}")
    assert response.status_code == 400


def test_person_events_need_identity_read(make_client, miniprogram, actor):
    person = resolve_identity(app=miniprogram, openid="oUser1", actor=actor).person
    client = make_client(scopes=[EVENTS_WRITE])
    assert client.get(f"/api/v1/persons/{person.public_id}/events").status_code == 403
