"""Segments (DESIGN.md, REST table): definitions with counts, members, snapshots, commands."""

import itertools
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from config.api.scopes import IDENTITY_READ, SEGMENTS_READ, TAGS_WRITE
from identity.exceptions import InvalidInput
from identity.models import AuditEntry, Person
from identity.services.merge import merge_persons
from identity.services.resolve import resolve_identity
from profiles.conditions import matching_persons
from profiles.models import Segment, SegmentSnapshot, TagAssignment
from profiles.services.definitions import save_segment
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
VIPS = {"tag": "vip"}


def make_segment(actor, key="vips", condition=None, name=None) -> Segment:
    segment = Segment(key=key, name=name or key.title(), condition=condition or VIPS)
    return save_segment(segment=segment, actor=actor)


def add_members(count, *, miniprogram, service_account, actor, start=0) -> list[Person]:
    """Create persons in the VIP segment: each with stats, per-type stats and a tag; every
    other one also has an openid in the service account (same unionid)."""
    persons = []
    for n in range(start, start + count):
        unionid = f"oUnionSeg{n}"
        person = resolve_identity(
            app=miniprogram, openid=f"oSegMini{n}", unionid=unionid, actor=actor
        ).person
        if n % 2 == 0:
            resolve_identity(
                app=service_account, openid=f"oSegSvc{n}", unionid=unionid, actor=actor
            )
        assign_tags(person=person, keys=["vip"], actor=actor)
        persons.append(person)
    when = (timezone.now() - timedelta(hours=1)).isoformat()
    ingest_events(
        events=[
            {
                "event_id": f"seg-{next(_ids)}",
                "appid": miniprogram.appid,
                "openid": f"oSegMini{n}",
                "type": kind,
                "occurred_at": when,
                **({"amount": "5.00"} if kind == "pay" else {}),
            }
            for n in range(start, start + count)
            for kind in ("view", "pay")
        ],
        actor=actor,
    )
    return persons


@pytest.fixture
def outsider(h5, actor):
    """A live person outside the VIP segment, never seen: no stats row at all.

    Resolved with seen=False (a resolve marks its person seen now): so "seen within a day" has
    someone to leave out, and the counts meet a person without stats, counted as zero."""
    return resolve_identity(app=h5, openid="oOutsider", actor=actor, seen=False).person


# --- definitions ------------------------------------------------------------------------------


def test_save_segment_validates_the_condition_naming_paths(actor, miniprogram):
    segment = Segment(
        key="broken",
        name="Broken",
        condition={"all": [{"tag": "vip"}, {"tag": "nope"}, {"any": [{"app": "wxnope"}]}]},
    )
    with pytest.raises(InvalidInput) as caught:
        save_segment(segment=segment, actor=actor)

    messages = caught.value.details["condition"]
    assert sorted(message.split(":")[0] for message in messages) == ["all[1]", "all[2].any[0]"]
    assert not Segment.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="segment.").exists()


def test_save_segment_audits_creation_and_change(actor):
    segment = make_segment(actor)
    segment.condition = {"not": VIPS}
    save_segment(segment=segment, actor=actor)

    created, updated = AuditEntry.objects.filter(action__startswith="segment.").order_by("pk")
    assert (created.action, created.target) == ("segment.create", "vips")
    assert (updated.action, updated.before, updated.after["condition"]) == (
        "segment.update",
        {"condition": VIPS},
        {"not": VIPS},
    )


# --- list and detail --------------------------------------------------------------------------


def test_list_answers_each_segment_with_its_count(
    api, actor, miniprogram, service_account, outsider
):
    add_members(3, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)
    make_segment(actor, key="others", condition={"not": VIPS})
    make_segment(actor, key="followers", condition={"followed": service_account.appid})

    response = api.get("/api/v1/segments")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(s["key"], s["count"]) for s in results] == [
        ("followers", 0),
        ("others", 1),
        ("vips", 3),
    ]
    assert results[2] == {
        "key": "vips",
        "name": "Vips",
        "description": "",
        "condition": VIPS,
        "count": 3,
    }


def test_detail_answers_the_count_and_404_for_an_unknown_key(
    api, actor, miniprogram, service_account, outsider
):
    add_members(2, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)

    detail = api.get("/api/v1/segments/vips")
    missing = api.get("/api/v1/segments/nope")
    missing_members = api.get("/api/v1/segments/nope/members")

    assert (detail.status_code, detail.json()["count"]) == (200, 2)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert missing_members.status_code == 404


def test_counts_equal_the_matching_persons_for_every_kind_of_condition(
    api, actor, miniprogram, service_account, h5, outsider
):
    add_members(4, miniprogram=miniprogram, service_account=service_account, actor=actor)
    conditions = {
        "a": {"not": VIPS},
        "b": {"app": service_account.appid},
        "c": {"field": "pay_count", "op": "<", "value": 1},
        "d": {"field": "last_seen_at", "op": "within_days", "value": 1},
        "e": {"event": "pay", "within_days": 7, "max_count": 0},
        "f": {"event": "view", "within_days": 7, "min_count": 1, "max_count": 1},
        "g": {"all": [VIPS, {"not": {"app": service_account.appid}}]},
        "h": {"any": [{"has_phone": True}, {"app": "wx3333333333333333"}]},
    }
    for key, condition in conditions.items():
        make_segment(actor, key=key, condition=condition)

    counts = {s["key"]: s["count"] for s in api.get("/api/v1/segments").json()["results"]}

    expected = {key: matching_persons(c).count() for key, c in conditions.items()}
    assert counts == expected
    assert expected == {"a": 1, "b": 2, "c": 1, "d": 4, "e": 1, "f": 4, "g": 2, "h": 1}

    # A resolve marks the outsider seen now (docs/lifecycle.md, "Seen"): "seen within a day"
    # counts it from then on; its new stats row holds no payment, so "c" and "e" still count it.
    resolve_identity(app=h5, openid="oOutsider", actor=actor)
    counts = {s["key"]: s["count"] for s in api.get("/api/v1/segments").json()["results"]}
    assert counts == {**expected, "d": 5}


def test_merged_away_persons_are_not_counted_nor_listed(
    api, actor, miniprogram, service_account, h5
):
    [member] = add_members(1, miniprogram=miniprogram, service_account=service_account, actor=actor)
    other = resolve_identity(app=h5, openid="oOther", actor=actor).person
    assign_tags(person=other, keys=["vip"], actor=actor)
    merge_persons(first=member, second=other, reason="manual", actor=actor)
    make_segment(actor)

    assert api.get("/api/v1/segments/vips").json()["count"] == 1
    listed = api.get("/api/v1/segments/vips/members").json()["results"]
    assert [body["id"] for body in listed] == [member.public_id]


# --- members ----------------------------------------------------------------------------------


def test_members_paginate_in_id_order_without_duplicates(
    api, actor, miniprogram, service_account, outsider
):
    members = add_members(7, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)
    seen, pages, cursor = [], 0, None

    while True:
        url = "/api/v1/segments/vips/members?limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(url)
        assert response.status_code == 200
        body = response.json()
        pages += 1
        seen.extend(person["id"] for person in body["results"])
        assert len(body["results"]) == (3 if pages < 3 else 1)
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    by_pk = sorted(members, key=lambda p: p.pk)
    assert seen == [person.public_id for person in by_pk]
    assert len(set(seen)) == 7
    assert outsider.public_id not in seen


def test_members_are_full_person_representations(api, actor, miniprogram, service_account):
    add_members(1, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)

    [member] = api.get("/api/v1/segments/vips/members").json()["results"]

    assert [tag["key"] for tag in member["tags"]] == ["new", "vip"]  # "new": a rule preset
    assert member["stats"]["pay_count"] == 1
    assert {i["app_kind"] for i in member["identities"]} == {"miniprogram", "service_account"}
    assert "openid" not in member  # only with ?appid=


def test_a_page_exactly_at_the_end_has_no_next_cursor(api, actor, miniprogram, service_account):
    add_members(4, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)

    first = api.get("/api/v1/segments/vips/members?limit=2").json()
    second = api.get(f"/api/v1/segments/vips/members?limit=2&cursor={first['next_cursor']}")

    assert second.json()["next_cursor"] is None
    assert len(second.json()["results"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"), ("cursor=@@", "cursor")],
)
def test_bad_member_queries_are_400(api, actor, query, field):
    make_segment(actor)
    response = api.get(f"/api/v1/segments/vips/members?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_members_with_appid_carry_their_openid_there(api, actor, miniprogram, service_account):
    members = add_members(3, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)

    response = api.get(f"/api/v1/segments/vips/members?appid={service_account.appid}")

    assert response.status_code == 200
    openids = {body["id"]: body["openid"] for body in response.json()["results"]}
    assert openids == {
        members[0].public_id: "oSegSvc0",
        members[1].public_id: None,
        members[2].public_id: "oSegSvc2",
    }
    mini = api.get(f"/api/v1/segments/vips/members?appid={miniprogram.appid}").json()
    assert [body["openid"] for body in mini["results"]] == ["oSegMini0", "oSegMini1", "oSegMini2"]


def test_members_with_an_unknown_appid_is_400(api, actor):
    make_segment(actor)
    response = api.get("/api/v1/segments/vips/members?appid=wxnope")
    assert response.status_code == 400
    assert "appid" in response.json()["error"]["details"]


def test_a_key_restricted_to_other_apps(make_client, actor, miniprogram, service_account, h5):
    add_members(2, miniprogram=miniprogram, service_account=service_account, actor=actor)
    elsewhere = resolve_identity(app=h5, openid="oH5Vip", actor=actor).person
    assign_tags(person=elsewhere, keys=["vip"], actor=actor)
    make_segment(actor)
    client = make_client(scopes=[SEGMENTS_READ], apps=[miniprogram.appid])

    forbidden = client.get(f"/api/v1/segments/vips/members?appid={service_account.appid}")
    allowed = client.get(f"/api/v1/segments/vips/members?appid={miniprogram.appid}")
    plain = client.get("/api/v1/segments/vips/members")

    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "app_forbidden"
    assert allowed.status_code == 200
    assert len(allowed.json()["results"]) == 2
    # a restricted key sees neither the h5-only member nor identities of other apps
    assert elsewhere.public_id not in {body["id"] for body in plain.json()["results"]}
    for body in plain.json()["results"]:
        assert {i["appid"] for i in body["identities"]} == {miniprogram.appid}
    # counts and pages agree with what the key may see
    assert client.get("/api/v1/segments/vips").json()["count"] == 2
    assert api_count(make_client(scopes=[SEGMENTS_READ]), "vips") == 3
    first = client.get("/api/v1/segments/vips/members?limit=1").json()
    second = client.get(f"/api/v1/segments/vips/members?limit=1&cursor={first['next_cursor']}")
    assert len(second.json()["results"]) == 1
    assert second.json()["next_cursor"] is None


def api_count(client, key) -> int:
    return client.get(f"/api/v1/segments/{key}").json()["count"]


@pytest.mark.parametrize(
    "path", ["/api/v1/segments", "/api/v1/segments/vips", "/api/v1/segments/vips/members"]
)
def test_segment_endpoints_need_the_segments_read_scope(make_client, actor, path):
    make_segment(actor)

    other_scopes = make_client(scopes=[IDENTITY_READ, TAGS_WRITE]).get(path)
    anonymous = APIClient().get(path)
    reader = make_client(scopes=[SEGMENTS_READ]).get(path)

    assert other_scopes.status_code == 403
    assert other_scopes.json()["error"]["code"] == "scope_missing"
    assert anonymous.status_code == 401
    assert reader.status_code == 200


# --- constant queries -------------------------------------------------------------------------


def _queries(client, path) -> int:
    client.get(path)  # warm-up: the key's last-used time is written at most once a minute
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_count_and_members_run_a_constant_number_of_queries(
    api, actor, miniprogram, service_account
):
    add_members(2, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)
    paths = [
        "/api/v1/segments/vips",
        "/api/v1/segments/vips/members",
        f"/api/v1/segments/vips/members?appid={service_account.appid}",
        "/api/v1/segments/vips/members?limit=1000",
    ]
    small = {path: _queries(api, path) for path in paths}
    assert len(api.get(paths[1]).json()["results"]) == 2

    add_members(28, miniprogram=miniprogram, service_account=service_account, actor=actor, start=2)

    large = {path: _queries(api, path) for path in paths}
    assert len(api.get(paths[1]).json()["results"]) == 30
    assert large == small
    # auth, segment, one count under its statement timeout: inside the test's transaction that
    # is savepoint, timeout, count, timeout back, release (outside one, timeout and count)
    assert small["/api/v1/segments/vips"] <= 7
    # auth, segment, page, then one prefetch per part of the representation
    assert small["/api/v1/segments/vips/members"] <= 8


def test_the_list_counts_every_segment_in_one_query(api, actor, miniprogram, service_account):
    add_members(2, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)
    one = _queries(api, "/api/v1/segments")

    make_segment(actor, key="others", condition={"not": VIPS})
    make_segment(actor, key="payers", condition={"event": "pay", "within_days": 7, "min_count": 1})

    assert _queries(api, "/api/v1/segments") == one


# --- commands ---------------------------------------------------------------------------------


def test_snapshot_segments_records_one_row_per_segment_per_day(
    actor, miniprogram, service_account, outsider
):
    add_members(2, miniprogram=miniprogram, service_account=service_account, actor=actor)
    make_segment(actor)
    make_segment(actor, key="others", condition={"not": VIPS})
    out = StringIO()

    call_command("snapshot_segments", stdout=out)

    today = timezone.localdate()
    assert sorted(SegmentSnapshot.objects.values_list("segment__key", "day", "count")) == [
        ("others", today, 1),
        ("vips", today, 2),
    ]
    assert "vips: 2" in out.getvalue()

    add_members(1, miniprogram=miniprogram, service_account=service_account, actor=actor, start=5)
    call_command("snapshot_segments", stdout=StringIO())

    assert sorted(SegmentSnapshot.objects.values_list("segment__key", "day", "count")) == [
        ("others", today, 1),
        ("vips", today, 3),
    ]


def test_refresh_rule_tags_command_refreshes_the_named_tag(actor, miniprogram, service_account):
    [person] = add_members(1, miniprogram=miniprogram, service_account=service_account, actor=actor)
    ingest_events(
        events=[
            {
                "event_id": "cmd-pay",
                "appid": miniprogram.appid,
                "openid": "oSegMini0",
                "type": "pay",
                "occurred_at": timezone.now().isoformat(),
                "amount": "1.00",
            }
        ],
        actor=actor,
    )
    TagAssignment.objects.filter(tag__key="repeat_buyer").delete()  # e.g. a changed threshold
    out = StringIO()

    call_command("refresh_rule_tags", "--tag", "repeat_buyer", stdout=out)

    assert TagAssignment.objects.filter(person=person, tag__key="repeat_buyer").exists()
    assert "repeat_buyer: +1 -0" in out.getvalue()
    assert AuditEntry.objects.filter(action="tag.refresh", target="repeat_buyer").exists()


def test_refresh_rule_tags_command_without_tag_refreshes_all(actor, miniprogram, service_account):
    add_members(1, miniprogram=miniprogram, service_account=service_account, actor=actor)
    TagAssignment.objects.filter(tag__key="new").delete()
    out = StringIO()

    call_command("refresh_rule_tags", stdout=out)

    assert TagAssignment.objects.filter(tag__key="new").count() == 1
    for key in ("active", "churned", "dormant", "high_value", "new", "repeat_buyer"):
        assert f"{key}: " in out.getvalue()


@pytest.mark.parametrize("key", ["nope", "vip"])
def test_refresh_rule_tags_command_refuses_what_is_not_a_rule_tag(key):
    with pytest.raises(CommandError):
        call_command("refresh_rule_tags", "--tag", key, stdout=StringIO())
