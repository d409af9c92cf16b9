import csv
import io
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from identity.models import AuditEntry, Person
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from profiles.admin.exports import header, member_rows
from profiles.models import (
    PersonStats,
    Segment,
    SegmentSnapshot,
    Tag,
    TagAssignment,
    TagGroup,
    TagKind,
)
from profiles.services.definitions import save_segment, save_tag
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags
from tests.clock import iso_ago

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
# Alice and Bob were last seen this long ago: dormant (30 to 89 days) on any date.
LAST_SEEN_DAYS = 45
PERSONS = reverse("admin:identity_person_changelist")


def url(model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def listed(response) -> set[str]:
    assert response.status_code == 200
    return {person.public_id for person in response.context["cl"].result_list}


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def future(days: int = 30) -> str:
    return (timezone.localtime() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def form_errors(response, field: str) -> list[str]:
    assert response.status_code == 200
    return response.context["adminform"].form.errors.get(field, [])


class People:
    """Alice: mini-program buyer (2 payments), phone, follows the service account.
    Bob: mini-program viewer. Carol: H5 only, her service-account identity not following.
    Their resolves do not mark them seen (seen=False): their events say when, LAST_SEEN_DAYS ago."""

    def __init__(self, miniprogram, service_account, h5, actor):
        events = [
            {"appid": miniprogram.appid, "openid": "oAlice", "type": "pay", "amount": "30.00"},
            {"appid": miniprogram.appid, "openid": "oAlice", "type": "pay", "amount": "12.50"},
            {"appid": miniprogram.appid, "openid": "oBob", "type": "view"},
            {"appid": service_account.appid, "openid": "oAliceSvc", "type": "subscribe"},
        ]
        self.alice = resolve_identity(
            app=miniprogram, openid="oAlice", unionid="uAlice", actor=actor, seen=False
        ).person
        resolve_identity(
            app=service_account, openid="oAliceSvc", unionid="uAlice", actor=actor, seen=False
        )
        result = ingest_events(
            events=[
                {**event, "event_id": f"t{n}", "occurred_at": iso_ago(days=LAST_SEEN_DAYS + 3 - n)}
                for n, event in enumerate(events)
            ],
            actor=actor,
        )
        assert result.errors == []
        self.alice = bind_phone(person=self.alice, phone=PHONE, actor=actor)
        self.bob = resolve_identity(app=miniprogram, openid="oBob", actor=actor, seen=False).person
        self.carol = resolve_identity(
            app=h5, openid="oCarol", unionid="uCarol", actor=actor, seen=False
        ).person
        resolve_identity(
            app=service_account, openid="oCarolSvc", unionid="uCarol", actor=actor, seen=False
        )

    def ids(self, *names: str) -> set[str]:
        return {getattr(self, name).public_id for name in names}


@pytest.fixture
def people(miniprogram, service_account, h5, actor):
    return People(miniprogram, service_account, h5, actor)


@pytest.fixture
def segment(miniprogram, actor):
    return save_segment(
        segment=Segment(key="mini_users", name="Mini users", condition={"app": miniprogram.appid}),
        actor=actor,
    )


def expire(person: Person, key: str) -> None:
    """Test set-up: let an assignment run out (services refuse an expiry in the past)."""
    past = timezone.now() - timedelta(days=1)
    TagAssignment.objects.filter(person=person, tag__key=key).update(expires_at=past)


# Rendering


@pytest.mark.parametrize("model", [TagGroup, Tag, Segment])
@pytest.mark.parametrize("view", ["changelist", "add"])
def test_list_and_add_pages_render(admin_client, people, segment, model, view):
    assert admin_client.get(url(model, view)).status_code == 200


@pytest.mark.parametrize(
    ("model", "key"),
    [(TagGroup, "lifecycle"), (Tag, "vip"), (Tag, "dormant"), (Segment, "mini_users")],
)
def test_change_pages_render(admin_client, people, segment, model, key):
    obj = model.objects.get(key=key)

    response = admin_client.get(url(model, "change", obj.pk))

    assert response.status_code == 200


def test_person_pages_render_with_tags(admin_client, people, actor):
    assign_tags(person=people.alice, keys=["vip"], actor=actor)

    assert admin_client.get(PERSONS).status_code == 200
    page = admin_client.get(url(Person, "change", people.alice.pk))
    assert page.status_code == 200
    inline = next(
        formset
        for formset in page.context["inline_admin_formsets"]
        if formset.opts.model is TagAssignment
    )
    # Ingest refreshed the rule tags of Alice (two payments, last seen in October).
    assert {form.original.tag.key for form in inline} == {"vip", "repeat_buyer", "dormant"}


# Tags: saving through the service, conditions


def test_adding_a_rule_tag_saves_it_through_the_service(admin_client, people):
    form = {
        "key": "buyer",
        "name": "Buyer",
        "group": "",
        "kind": "rule",
        "condition": '{"field": "pay_count", "op": ">=", "value": 1}',
        "description": "",
    }

    response = admin_client.post(url(Tag, "add"), form)

    assert response.status_code == 302
    tag = Tag.objects.get(key="buyer")
    assert tag.condition == {"field": "pay_count", "op": ">=", "value": 1}
    entry = AuditEntry.objects.get(action="tag.create", target="buyer")
    assert (entry.actor_type, entry.actor) == ("admin", "admin")


def test_invalid_condition_shows_the_node_path_and_saves_nothing(admin_client, people):
    form = {
        "key": "broken",
        "name": "Broken",
        "kind": "rule",
        "condition": '{"all": [{"tag": "vip"}, {"tag": "x"}]}',
    }

    response = admin_client.post(url(Tag, "add"), form)

    assert form_errors(response, "condition") == ["all[1]: Unknown tag 'x'."]
    assert "&quot;x&quot;" in response.content.decode()  # the input is kept
    assert not Tag.objects.filter(key="broken").exists()
    assert not AuditEntry.objects.filter(action="tag.create").exists()


def test_invalid_segment_condition_leaves_the_segment_unchanged(admin_client, segment):
    form = {"key": "mini_users", "name": "Renamed", "condition": '{"any": [{"followed": "wxX"}]}'}

    response = admin_client.post(url(Segment, "change", segment.pk), form)

    assert form_errors(response, "condition") == [
        "any[0]: 'wxX' is not a registered service account."
    ]
    stored = Segment.objects.get(pk=segment.pk)
    assert (stored.name, stored.condition) == ("Mini users", segment.condition)


def test_manual_tag_ignores_the_condition_box(admin_client, people):
    form = {"key": "tea", "name": "Tea", "kind": "manual", "condition": "{not json"}

    response = admin_client.post(url(Tag, "add"), form)

    assert response.status_code == 302
    assert Tag.objects.get(key="tea").condition is None


def test_rule_tag_without_condition_is_a_form_error(admin_client, people):
    form = {"key": "empty", "name": "Empty", "kind": "rule", "condition": ""}

    response = admin_client.post(url(Tag, "add"), form)

    assert form_errors(response, "condition") == ["A rule tag needs a condition."]
    assert not Tag.objects.filter(key="empty").exists()


def test_condition_reads_as_text_next_to_the_json(admin_client, people, segment, miniprogram):
    tag_page = admin_client.get(url(Tag, "change", Tag.objects.get(key="repeat_buyer").pk))
    segment_page = admin_client.get(url(Segment, "change", segment.pk))

    assert "payments &gt;= 2" in tag_page.content.decode()
    assert f"uses app {miniprogram.appid}" in segment_page.content.decode()


def test_tag_key_is_read_only_after_creation(admin_client, people):
    request = admin_client.get("/").wsgi_request
    model_admin = admin.site._registry[Tag]
    vip = Tag.objects.get(key="vip")

    assert "key" in model_admin.get_readonly_fields(request, vip)
    assert "key" not in model_admin.get_readonly_fields(request, None)


def test_tag_member_counts_exclude_expired_assignments(admin_client, people, actor):
    for person in (people.alice, people.bob, people.carol):
        assign_tags(person=person, keys=["vip"], actor=actor)
    expire(people.bob, "vip")

    response = admin_client.get(url(Tag, "changelist"))

    counts = {tag.key: tag.active_members for tag in response.context["cl"].result_list}
    assert counts["vip"] == 2
    assert counts["dormant"] == 2  # Alice and Bob, from their October events
    assert f'href="{PERSONS}?tag=vip">2</a>' in response.content.decode()


def test_tag_list_query_count_does_not_grow_with_rows(admin_client, people, actor):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url(Tag, "changelist")).status_code == 200
        return len(queries.captured_queries)

    few = count_queries()
    for n in range(5):
        save_tag(tag=Tag(key=f"extra{n}", name=f"Extra {n}", kind=TagKind.MANUAL), actor=actor)
        assign_tags(person=people.alice, keys=[f"extra{n}"], actor=actor)

    assert count_queries() == few


def test_tag_autocomplete_offers_manual_tags_only(admin_client, people):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "profiles", "model_name": "tagassignment", "field_name": "tag", "term": ""},
    )

    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["VIP"]


def test_refresh_now_adds_and_removes_rule_holders(admin_client, people, actor, settings):
    settings.JOBS_RUN_INLINE = False  # the refresh each save queues waits: staff run it now
    buyer = save_tag(
        tag=Tag(
            key="buyer",
            name="Buyer",
            kind=TagKind.RULE,
            condition={"field": "pay_count", "op": ">=", "value": 1},
        ),
        actor=actor,
    )
    vip = Tag.objects.get(key="vip")
    form = {"action": "refresh_now", ACTION_CHECKBOX_NAME: [buyer.pk, vip.pk], "index": 0}

    added = admin_client.post(url(Tag, "changelist"), form, follow=True)

    holders = TagAssignment.objects.filter(tag=buyer)
    assert set(holders.values_list("person__public_id", flat=True)) == people.ids("alice")
    assert "buyer refreshed: +1 added, -0 removed." in shown_messages(added)
    assert "Skipped 1 manual tag: only rule tags are refreshed." in shown_messages(added)

    buyer.condition = {"field": "pay_count", "op": ">=", "value": 3}
    save_tag(tag=buyer, actor=actor)
    removed = admin_client.post(url(Tag, "changelist"), form, follow=True)

    assert not holders.exists()
    assert "buyer refreshed: +0 added, -1 removed." in shown_messages(removed)
    buyer.refresh_from_db()
    assert (buyer.last_refresh_added, buyer.last_refresh_removed) == (0, 1)
    assert (
        AuditEntry.objects.filter(action="tag.refresh", target="buyer", actor="admin").count() == 2
    )


# Tag groups


def test_making_a_group_exclusive_while_persons_hold_two_of_its_tags_is_a_form_error(
    admin_client, people, actor
):
    interest = TagGroup.objects.get(key="interest")
    for key in ("tea", "coffee"):
        save_tag(tag=Tag(key=key, name=key, group=interest, kind=TagKind.MANUAL), actor=actor)
    assign_tags(person=people.alice, keys=["tea", "coffee"], actor=actor)
    form = {"name": "Interest", "exclusive": "on", "description": ""}

    response = admin_client.post(url(TagGroup, "change", interest.pk), form)

    [error] = form_errors(response, "exclusive")
    assert "1 person holds more than one tag of this group" in error
    assert TagGroup.objects.get(pk=interest.pk).exclusive is False
    assert TagAssignment.objects.filter(person=people.alice, tag__group=interest).count() == 2
    assert not AuditEntry.objects.filter(action="tag_group.update").exists()


def test_group_change_saves_through_the_service(admin_client):
    interest = TagGroup.objects.get(key="interest")
    form = {"name": "Interests", "exclusive": "on", "description": ""}

    response = admin_client.post(url(TagGroup, "change", interest.pk), form)

    assert response.status_code == 302
    assert TagGroup.objects.get(pk=interest.pk).exclusive is True
    assert AuditEntry.objects.get(action="tag_group.update").after == {
        "name": "Interests",
        "exclusive": True,
    }


# Person filters


def test_person_filter_by_tag_counts_active_assignments_only(admin_client, people, actor):
    assign_tags(person=people.alice, keys=["vip"], actor=actor)
    assign_tags(person=people.bob, keys=["vip"], actor=actor)
    expire(people.bob, "vip")

    assert listed(admin_client.get(PERSONS, {"tag": "vip"})) == people.ids("alice")


def test_person_filter_by_app(admin_client, people, h5, miniprogram):
    assert listed(admin_client.get(PERSONS, {"app": h5.appid})) == people.ids("carol")
    assert listed(admin_client.get(PERSONS, {"app": miniprogram.appid})) == people.ids(
        "alice", "bob"
    )


def test_person_filter_by_followed_service_account(admin_client, people, service_account):
    response = admin_client.get(PERSONS, {"followed": service_account.appid})

    assert listed(response) == people.ids("alice")


def test_person_filter_by_phone_presence(admin_client, people):
    assert listed(admin_client.get(PERSONS, {"has_phone": "yes"})) == people.ids("alice")
    assert listed(admin_client.get(PERSONS, {"has_phone": "no"})) == people.ids("bob", "carol")


def test_person_list_shows_active_tag_keys(admin_client, people, actor):
    assign_tags(person=people.bob, keys=["vip"], actor=actor)

    response = admin_client.get(PERSONS)

    keys = {person.public_id: person.tag_keys for person in response.context["cl"].result_list}
    assert keys[people.alice.public_id] == ["dormant", "repeat_buyer"]
    assert keys[people.bob.public_id] == ["dormant", "vip"]
    assert keys[people.carol.public_id] == []


def test_person_filters_combine(admin_client, people, miniprogram):
    response = admin_client.get(PERSONS, {"app": miniprogram.appid, "has_phone": "no"})

    assert listed(response) == people.ids("bob")


# Bulk tag actions


def test_add_tag_action_shows_a_form_listing_the_selected_persons(admin_client, people):
    selected = [people.alice.pk, people.bob.pk]
    form = {"action": "add_tag", ACTION_CHECKBOX_NAME: selected, "index": 0, "select_across": 0}

    response = admin_client.post(PERSONS, form)

    html = response.content.decode()
    assert response.status_code == 200
    assert response.templates[0].name == "admin/profiles/person_tag_action.html"
    assert people.alice.public_id in html
    assert people.carol.public_id not in html
    assert "admin-autocomplete" in html  # the tag is picked through the autocomplete
    assert not TagAssignment.objects.filter(tag__key="vip").exists()


def test_add_tag_action_assigns_the_tag_and_writes_audit(admin_client, people):
    vip = Tag.objects.get(key="vip")
    selected = [people.alice.pk, people.bob.pk]
    form = {
        "action": "add_tag",
        ACTION_CHECKBOX_NAME: selected,
        "select_across": 0,
        "apply": "yes",
        "tag": vip.pk,
        "expires_at": future(),
    }

    response = admin_client.post(PERSONS, form, follow=True)

    assert "Added tag “VIP” to 2 persons." in shown_messages(response)
    rows = TagAssignment.objects.filter(tag=vip)
    assert set(rows.values_list("person__public_id", flat=True)) == people.ids("alice", "bob")
    assert all(row.expires_at is not None and row.source == "admin" for row in rows)
    entry = AuditEntry.objects.get(action="tag.bulk_assign")
    assert (entry.actor, entry.target) == ("admin", "vip")
    assert set(entry.after["persons"]) == people.ids("alice", "bob")


def test_add_tag_action_works_on_all_persons_across_pages(admin_client, people, h5):
    vip = Tag.objects.get(key="vip")
    form = {
        "action": "add_tag",
        ACTION_CHECKBOX_NAME: [people.carol.pk],
        "select_across": 1,
        "apply": "yes",
        "tag": vip.pk,
    }

    admin_client.post(f"{PERSONS}?app={h5.appid}", form)
    admin_client.post(PERSONS, form)  # unfiltered: every person

    assert set(
        TagAssignment.objects.filter(tag=vip).values_list("person__public_id", flat=True)
    ) == people.ids("alice", "bob", "carol")
    first, second = AuditEntry.objects.filter(action="tag.bulk_assign").order_by("pk")
    assert first.after["persons"] == [people.carol.public_id]
    assert len(second.after["persons"]) == 3


@pytest.mark.parametrize(
    ("tag", "expires_at", "field"),
    [("", "", "tag"), ("dormant", "", "tag"), ("vip", "2020-01-01T00:00", "expires_at")],
)
def test_add_tag_action_with_a_bad_form_changes_nothing(
    admin_client, people, tag, expires_at, field
):
    form = {
        "action": "add_tag",
        ACTION_CHECKBOX_NAME: [people.alice.pk],
        "select_across": 0,
        "apply": "yes",
        "tag": Tag.objects.get(key=tag).pk if tag else "",
        "expires_at": expires_at,
    }

    response = admin_client.post(PERSONS, form)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert not TagAssignment.objects.filter(tag__key="vip").exists()
    assert not AuditEntry.objects.filter(action__startswith="tag.bulk").exists()


def test_remove_tag_action_removes_the_tag_and_writes_audit(admin_client, people, actor):
    for person in (people.alice, people.bob, people.carol):
        assign_tags(person=person, keys=["vip"], actor=actor)
    vip = Tag.objects.get(key="vip")
    form = {
        "action": "remove_tag",
        ACTION_CHECKBOX_NAME: [people.alice.pk, people.bob.pk],
        "select_across": 0,
        "apply": "yes",
        "tag": vip.pk,
    }

    response = admin_client.post(PERSONS, form, follow=True)

    assert "Removed tag “VIP” from 2 persons." in shown_messages(response)
    remaining = TagAssignment.objects.filter(tag=vip)
    assert set(remaining.values_list("person__public_id", flat=True)) == people.ids("carol")
    entry = AuditEntry.objects.get(action="tag.bulk_remove")
    assert (entry.target, set(entry.after["persons"])) == ("vip", people.ids("alice", "bob"))


def test_tag_history_on_the_person_and_tag_pages(admin_client, people, actor):
    assign_tags(person=people.alice, keys=["vip"], actor=actor)
    form = {
        "action": "remove_tag",
        ACTION_CHECKBOX_NAME: [people.alice.pk],
        "select_across": 0,
        "apply": "yes",
        "tag": Tag.objects.get(key="vip").pk,
    }
    admin_client.post(PERSONS, form)

    person_page = admin_client.get(url(Person, "change", people.alice.pk)).content.decode()
    tag_page = admin_client.get(url(Tag, "change", Tag.objects.get(key="vip").pk))

    history = person_page[person_page.index('class="tag-history"') :]
    assert "removed vip from 1 person (bulk)" in history
    assert "<td>Staff user admin</td>" in history  # the staff user, by username
    assert "added vip" in history
    assert "System: tests" in history
    assert "removed vip from 1 person (bulk)" in tag_page.content.decode()
    bob_page = admin_client.get(url(Person, "change", people.bob.pk)).content.decode()
    assert 'class="tag-history"' not in bob_page


# Segments


def test_segment_change_page_shows_the_live_count_and_members_link(admin_client, people, segment):
    response = admin_client.get(url(Segment, "change", segment.pk))

    html = response.content.decode()
    assert '<div class="readonly">2</div>' in html
    assert f'href="{PERSONS}?segment=mini_users"' in html


def test_segment_list_counts_each_segment(admin_client, people, segment, actor, h5):
    save_segment(segment=Segment(key="h5", name="H5", condition={"app": h5.appid}), actor=actor)

    response = admin_client.get(url(Segment, "changelist"))

    counts = {seg.key: seg.live_members for seg in response.context["cl"].result_list}
    assert counts == {"h5": 1, "mini_users": 2}


def test_segment_growth_chart_shows_the_snapshots(admin_client, segment):
    for day, count in ((1, 3), (2, 6)):
        SegmentSnapshot.objects.create(segment=segment, day=f"2026-11-0{day}", count=count)

    html = admin_client.get(url(Segment, "change", segment.pk)).content.decode()

    assert html.count("<rect ") == 2
    assert 'height="30"' in html
    assert 'height="60"' in html


def test_members_link_filters_the_person_list(admin_client, people, segment):
    assert listed(admin_client.get(PERSONS, {"segment": "mini_users"})) == people.ids(
        "alice", "bob"
    )
    assert listed(admin_client.get(PERSONS, {"segment": "gone"})) == set()


def export(admin_client, *segments):
    form = {"action": "export_members_csv", ACTION_CHECKBOX_NAME: [s.pk for s in segments]}
    return admin_client.post(url(Segment, "changelist"), {**form, "index": 0})


def test_csv_export_streams_the_members(admin_client, people, segment, actor, miniprogram):
    assign_tags(person=people.alice, keys=["vip"], actor=actor)

    response = export(admin_client, segment)

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="segment-mini_users-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    apps = [miniprogram.appid, "wx2222222222222222", "wx3333333333333333"]
    stats = ["pay_count", "pay_total", "last_seen_at"]
    assert rows[0] == ["person_id", "unionid", *apps, "phone", *stats, "tags"]
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_id) == people.ids("alice", "bob")
    alice = by_id[people.alice.public_id]
    assert alice["unionid"] == "uAlice"
    assert alice[miniprogram.appid] == "oAlice"
    assert alice["wx2222222222222222"] == "oAliceSvc"
    assert alice["phone"] == "'+86 138****5678"  # masked, and quoted against formulas
    assert (alice["pay_count"], alice["pay_total"]) == ("2", "42.50")
    last_seen = PersonStats.objects.get(person=people.alice).last_seen_at
    assert timezone.now() - last_seen > timedelta(days=LAST_SEEN_DAYS - 1)
    assert alice["last_seen_at"] == f"{timezone.localtime(last_seen):%Y-%m-%d %H:%M:%S}"
    assert alice["tags"] == "dormant,repeat_buyer,vip"
    assert by_id[people.bob.public_id]["phone"] == ""
    assert PHONE not in text
    assert "+8613812345678" not in text
    assert AuditEntry.objects.filter(action="segment.export", target="mini_users").exists()


def test_csv_export_pages_through_all_members(people, segment):
    apps = []

    rows = list(member_rows(segment, apps, page_size=1))

    assert rows[0] == header(apps)
    assert {row[0] for row in rows[1:]} == people.ids("alice", "bob")
    assert len(rows) == 3


def test_csv_export_takes_exactly_one_segment(admin_client, people, segment, actor, h5):
    other = save_segment(
        segment=Segment(key="h5", name="H5", condition={"app": h5.appid}), actor=actor
    )

    response = export(admin_client, segment, other)

    assert response.status_code == 302
    followed = admin_client.get(response["Location"])
    assert "Choose exactly one segment to export." in shown_messages(followed)
    assert not AuditEntry.objects.filter(action="segment.export").exists()


# Deleting definitions


def test_a_tag_used_by_a_segment_cannot_be_deleted(admin_client, people, actor):
    save_segment(segment=Segment(key="vips", name="VIPs", condition={"tag": "vip"}), actor=actor)
    vip = Tag.objects.get(key="vip")

    response = admin_client.post(url(Tag, "delete", vip.pk), {"post": "yes"})

    assert response.status_code == 200
    assert response.context["protected"]
    assert Tag.objects.filter(key="vip").exists()


def test_deleting_an_unused_tag_goes_through_the_service(admin_client, people, actor):
    save_tag(tag=Tag(key="tea", name="Tea", kind=TagKind.MANUAL), actor=actor)
    assign_tags(person=people.alice, keys=["tea"], actor=actor)

    response = admin_client.post(url(Tag, "delete", Tag.objects.get(key="tea").pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Tag.objects.filter(key="tea").exists()
    entry = AuditEntry.objects.get(action="tag.delete", target="tea")
    assert (entry.actor, entry.before["assignments"]) == ("admin", 1)


# Translations


def test_model_names_are_translated_to_chinese(settings):
    settings.LANGUAGE_CODE = "zh-hans"

    with translation.override("zh-hans"):
        assert str(Tag._meta.verbose_name) == "标签"
        assert str(Segment._meta.verbose_name_plural) == "人群"
        assert str(Person._meta.verbose_name) == "用户"


def test_language_code_setting_is_the_admin_default(admin_client, settings, segment):
    settings.LANGUAGE_CODE = "zh-hans"

    response = admin_client.get(url(Segment, "change", segment.pk))

    html = response.content.decode()
    assert "实时人数" in html  # "live count"
    assert "使用过应用" in html  # the condition reads in Chinese too


def test_admin_pages_speak_chinese_on_request(admin_client, people, segment):
    tags = admin_client.get(url(Tag, "changelist"), headers={"accept-language": "zh-hans"})
    persons = admin_client.get(PERSONS, headers={"accept-language": "zh-hans"})

    assert "有效成员数" in tags.content.decode()  # the "active members" column
    assert "添加标签…" in persons.content.decode()  # the "Add tag…" action
    english = admin_client.get(url(Tag, "changelist"), headers={"accept-language": "en"})
    assert "active members" in english.content.decode().lower()
