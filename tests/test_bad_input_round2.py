"""Bad input a black-box review still saw answered with a 500, or handled too coarsely.

- `occurred_at` offsets PostgreSQL refuses (beyond -15:59..+15:59) or ISO 8601 does not write
  (seconds, minute 60) are item errors naming `occurred_at`; the batch's other items are stored.
- A `null` item is an item error by index, not a 400 for the whole batch.
- NUL anywhere in a query string, a form body, a path or a cookie never reaches PostgreSQL:
  400 naming the parameter (404 for a path; a cookie is dropped), in the API's JSON format,
  which the API keeps for its own query parameters.
- `event_id` is idempotent per app: two apps' keys may use the same ids without either seeing
  a duplicate; a replay within one app is one; events without an app share one namespace.
"""

from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.urls import reverse
from django.utils import timezone

from config.api.scopes import EVENTS_WRITE, IDENTITY_READ
from identity.models import AppKind, AuditEntry, MergeRecord, Person
from identity.services.resolve import resolve_identity
from platforms.wechat.pushes import Push, handle_push
from profiles.models import Event, EventType, Segment, Tag, TagKind
from profiles.services.definitions import save_segment, save_tag

pytestmark = pytest.mark.django_db

MINI, OTHER_MINI = "wx1111111111111111", "wx4444444444444444"


@pytest.fixture
def apps(miniprogram, make_app):
    return miniprogram, make_app(OTHER_MINI, AppKind.MINIPROGRAM, "Other mini-program")


def recent(hours: float = 1, offset: timedelta = timedelta(hours=8)) -> str:
    """A recent time as a backend writes it, in the given offset."""
    moment = timezone.now() - timedelta(hours=hours)
    return moment.astimezone(dt_timezone(offset)).replace(microsecond=0).isoformat()


def with_offset(offset: str, hours: float = 2) -> str:
    """A recent wall-clock time followed by any offset text, even one Python or PG refuses."""
    wall = (timezone.now() - timedelta(hours=hours)).replace(microsecond=0, tzinfo=None)
    return wall.isoformat() + offset


def event(event_id: str, occurred_at: str | None = None, appid: str = MINI, **fields) -> dict:
    body = {"event_id": event_id, "appid": appid, "openid": "oRound2", "type": "view"}
    return {**body, "occurred_at": occurred_at or recent(), **fields}


def post(client, events):
    return client.post("/api/v1/events", {"events": events}, format="json")


def stored_ids() -> set[str]:
    return set(Event.objects.values_list("event_id", flat=True))


# -- occurred_at ----------------------------------------------------------------------------

BAD_OFFSETS = [
    "+16:00",  # Python takes it, PostgreSQL refuses it: was a 500 for the whole batch
    "-16:00",
    "+23:59",
    "+05:30:15",  # seconds: not an ISO 8601 offset
    "+00:00:00.5",  # a fraction of a second, which Python silently drops
    "+08:60",  # minute 60, which Python reads as +09:00
]


@pytest.mark.parametrize("offset", BAD_OFFSETS)
def test_an_offset_postgresql_or_iso_8601_refuses_is_an_item_error(api, miniprogram, offset):
    response = post(api, [event("before"), event("odd", with_offset(offset)), event("after")])

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [error["index"] for error in body["errors"]] == [1]
    assert list(body["errors"][0]["error"]["details"]) == ["occurred_at"]
    assert stored_ids() == {"before", "after"}


def test_odd_times_in_one_batch_each_answered_on_its_own(api, miniprogram):
    items = [
        event("plus-15-59", recent(offset=timedelta(hours=15, minutes=59))),
        event("minus-15-59", recent(offset=-timedelta(hours=15, minutes=59))),
        event("compact", with_offset("+0800")),
        event("hours-only", with_offset("+08")),
        event("utc", with_offset("Z")),
        event("plus-16", with_offset("+16:00")),
        event("minus-16", with_offset("-16:00")),
        event("plus-23-59", with_offset("+23:59")),
        event("seconds", with_offset("+05:30:15")),
        event("year-1", "0001-01-01T00:00:00+15:59"),
        event("year-1-utc", "0001-01-01T00:00:00Z"),
        event("year-9999", "9999-12-31T23:59:59-15:59"),
        event("year-9999-utc", "9999-12-31T23:59:59Z"),
        event("hour-24", f"{timezone.now():%Y-%m-%d}T24:00:00Z"),
    ]

    response = post(api, items)

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 5
    assert [error["index"] for error in body["errors"]] == list(range(5, len(items)))
    assert all(list(e["error"]["details"]) == ["occurred_at"] for e in body["errors"])
    assert stored_ids() == {"plus-15-59", "minus-15-59", "compact", "hours-only", "utc"}
    stored = Event.objects.get(event_id="plus-15-59").occurred_at
    assert abs(stored - (timezone.now() - timedelta(hours=1))) < timedelta(minutes=1)


# -- null items -----------------------------------------------------------------------------


def test_a_null_item_is_an_item_error_by_index(api, miniprogram):
    response = post(api, [event("first"), None, event("third")])

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert body["errors"] == [
        {
            "index": 1,
            "error": {
                "code": "invalid",
                "message": "Each event must be an object.",
                "details": {"event": ["Not an object."]},
            },
        }
    ]
    assert stored_ids() == {"first", "third"}


def test_a_batch_of_only_null_is_item_errors_too(api):
    body = post(api, [None, None]).json()

    assert body["accepted"] == 0
    assert [error["index"] for error in body["errors"]] == [0, 1]


# -- NUL in the admin -----------------------------------------------------------------------


@pytest.fixture
def admin_data(miniprogram, actor):
    """Rows that make every filter below active (a filter without choices is not applied)."""
    resolve_identity(app=miniprogram, openid="oAdminNul", actor=actor)
    save_tag(tag=Tag(key="round2_vip", name="Round 2 VIP", kind=TagKind.MANUAL), actor=actor)
    save_segment(
        segment=Segment(key="round2", name="Round 2", condition={"tag": "round2_vip"}), actor=actor
    )
    assert Segment.objects.exists()
    assert AuditEntry.objects.exists()


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize(
    ("model", "query", "field"),
    [
        (Person, "segment=%00", "segment"),
        (Person, "tag=%00", "tag"),
        (Person, "q=%00", "q"),
        (Person, "app=wx%00", "app"),
        (AuditEntry, "action=%00", "action"),
        (AuditEntry, "actor_type__exact=%00", "actor_type__exact"),
        (AuditEntry, "q=%00", "q"),
        (MergeRecord, "reason=%00", "reason"),
        (Event, "type=%00", "type"),
        (Tag, "kind=%00", "kind"),
        (Tag, "o=1&x=%00", "x"),  # any parameter, known to the admin or not
        (Tag, "%00=1", "query"),  # NUL in a name
    ],
)
def test_nul_in_an_admin_query_parameter_is_400(admin_client, admin_data, model, query, field):
    response = admin_client.get(f"{changelist(model)}?{query}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]) == [field]


def test_nul_in_the_path_of_an_admin_page_is_404(admin_client, admin_data):
    key = EventType.objects.order_by("key").first().key
    url = reverse("admin:profiles_eventtype_change", args=[key])

    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url.replace(key, key + "%00")).status_code == 404


def test_nul_in_an_admin_form_is_400_and_changes_nothing(admin_client, admin_data):
    person = Person.objects.get()
    tag = Tag.objects.get(key="round2_vip")
    form = {
        "action": "add_tag",
        "_selected_action": [str(person.pk)],
        "apply": "1",
        "tag": f"{tag.pk}\x00",
    }

    response = admin_client.post(changelist(Person), form)

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["tag"]
    assert not person.tag_assignments.exists()


def test_a_session_cookie_of_nul_is_dropped_not_a_500(client, db):
    client.cookies["sessionid"] = "\x00" * 32

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302  # to the login page, as for any visitor without a session
    assert client.get(response["Location"]).status_code == 200


# -- NUL in the API -------------------------------------------------------------------------
# Guards: the API answered these in its JSON error format before the middleware existed, and
# must still (not an HTML page, and naming the same field).


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("phone=%00", "phone"),
        (f"appid={MINI}&openid=a%00", "openid"),
        ("unionid=u%00", "unionid"),
    ],
)
def test_nul_in_an_api_query_is_still_a_json_400(api, miniprogram, query, field):
    response = api.get(f"/api/v1/persons/lookup?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"]
    assert "\x00" not in response.content.decode()


# -- per-app idempotency --------------------------------------------------------------------


def test_two_apps_keys_may_send_the_same_event_id(make_client, apps):
    mini, other = apps
    key_a = make_client(scopes=[EVENTS_WRITE], apps=[mini.appid], name="a")
    key_b = make_client(scopes=[EVENTS_WRITE], apps=[other.appid], name="b")

    first = post(key_a, [event("order-42", appid=mini.appid)]).json()
    second = post(key_b, [event("order-42", appid=other.appid)]).json()
    replay_a = post(key_a, [event("order-42", appid=mini.appid)]).json()
    replay_b = post(key_b, [event("order-42", appid=other.appid)]).json()

    assert (first["accepted"], first["duplicates"], first["errors"]) == (1, 0, [])
    assert (second["accepted"], second["duplicates"], second["errors"]) == (1, 0, [])
    assert (replay_a["accepted"], replay_a["duplicates"]) == (0, 1)
    assert (replay_b["accepted"], replay_b["duplicates"]) == (0, 1)
    assert sorted(Event.objects.values_list("app__appid", "event_id")) == [
        (mini.appid, "order-42"),
        (other.appid, "order-42"),
    ]


def test_one_batch_may_carry_the_same_id_for_two_apps(api, apps):
    mini, other = apps

    body = post(
        api,
        [
            event("same", appid=mini.appid),
            event("same", appid=other.appid),
            event("same", appid=mini.appid),  # a replay within the batch
        ],
    ).json()

    assert (body["accepted"], body["duplicates"], body["errors"]) == (2, 1, [])


def test_events_without_an_app_share_one_namespace_of_their_own(make_client, apps, actor):
    mini, _ = apps
    person = resolve_identity(app=mini, openid="oRound2", actor=actor).person
    first_key = make_client(scopes=[EVENTS_WRITE, IDENTITY_READ], name="first")
    second_key = make_client(scopes=[EVENTS_WRITE, IDENTITY_READ], name="second")
    by_person = {
        "event_id": "signup-1",
        "person_id": person.public_id,
        "type": "register",
        "occurred_at": recent(),
    }

    first = post(first_key, [by_person]).json()
    second = post(second_key, [by_person]).json()
    same_id_in_an_app = post(first_key, [event("signup-1", appid=mini.appid)]).json()

    assert (first["accepted"], first["duplicates"]) == (1, 0)
    assert (second["accepted"], second["duplicates"]) == (0, 1)
    assert (same_id_in_an_app["accepted"], same_id_in_an_app["duplicates"]) == (1, 0)


def test_a_restricted_key_names_its_app_on_events_by_person_id(make_client, apps, actor):
    """Events without an app share one namespace of ids among all keys: a key restricted to
    apps must name one of its apps, so that it can neither pre-empt nor detect others' ids."""
    mini, _ = apps
    person = resolve_identity(app=mini, openid="oRound2", actor=actor).person
    everyone = make_client(scopes=[EVENTS_WRITE], name="site backend")
    confined = make_client(scopes=[EVENTS_WRITE], apps=[mini.appid], name="mini backend")
    by_person = {
        "event_id": "signup-1",
        "person_id": person.public_id,
        "type": "register",
        "occurred_at": recent(),
    }
    assert post(everyone, [by_person]).json()["accepted"] == 1

    probe = post(confined, [by_person]).json()
    named = post(confined, [{**by_person, "appid": mini.appid}]).json()

    assert (probe["accepted"], probe["duplicates"]) == (0, 0)
    assert set(probe["errors"][0]["error"]["details"]) == {"appid"}
    assert (named["accepted"], named["duplicates"]) == (1, 0)


def test_a_push_is_not_a_duplicate_of_another_apps_event(make_client, miniprogram, service_account):
    push = Push(
        openid="oPushed",
        create_time=int(timezone.now().timestamp()) - 60,
        msg_type="event",
        event="SCAN",
        event_key="store_7",
    )
    other_key = make_client(scopes=[EVENTS_WRITE], apps=[miniprogram.appid])
    assert post(other_key, [event(push.event_id, appid=miniprogram.appid)]).json()["accepted"] == 1

    assert handle_push(service_account, push) == "stored"
    assert handle_push(service_account, push) == "duplicate"
