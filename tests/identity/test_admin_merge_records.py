"""Merge records in words, the ?person= filter, and undoing only after a confirmation."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from identity.models import MergeReason, MergeRecord, Person
from identity.phones import mask_phone
from identity.services.merge import merge_persons
from profiles.services.tags import assign_tags
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
LIST = "/admin/identity/mergerecord/"


def a_merge(miniprogram, service_account, actor, n: str = "", phone: str = PHONE):
    """A phone merge that moved an openid, a unionid, the phone and a tag."""
    older = PersonFactory(
        openids={miniprogram: f"oOlderMini{n}"}, created_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    younger = PersonFactory(
        openids={service_account: f"oYoungerSvc{n}"},
        unionid=f"uYounger{n}",
        phone=phone,
        created_at=datetime(2024, 6, 1, tzinfo=UTC),
    )
    assign_tags(person=younger, keys=["vip"], actor=actor)
    return merge_persons(first=older, second=younger, reason=MergeReason.PHONE, actor=actor)


@pytest.fixture
def record(miniprogram, service_account, actor):
    return a_merge(miniprogram, service_account, actor)


def record_url(record) -> str:
    return reverse("admin:identity_mergerecord_change", args=[record.pk])


def undo_url(record) -> str:
    return reverse("admin:identity_mergerecord_undo", args=[record.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def test_the_record_page_shows_what_moved_in_words(admin_client, record, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    MergeRecord.objects.filter(pk=record.pk).update(
        created_at=datetime(2024, 7, 1, 16, 30, tzinfo=UTC)
    )

    html = admin_client.get(record_url(record)).content.decode()

    assert "Service account: oYoungerSvc" in html
    assert "wechat: uYounger" in html
    assert mask_phone("+86" + PHONE) in html
    assert PHONE not in html
    assert "VIP" in html  # the tag by name, not its pk
    assert "Shared phone number" in html  # the reason in words
    assert "System: tests" in html  # the actor in words
    for person in (record.survivor, record.loser):
        assert reverse("admin:identity_person_change", args=[person.pk]) in html
    assert '"identities"' not in html
    assert "tombstones" not in html
    assert "July 2, 2024" in html
    assert "12:30" in html
    assert 'id="undo-merge"' in html


def test_the_list_filters_by_person_as_survivor_or_loser(admin_client, record, miniprogram, actor):
    other = merge_persons(
        first=PersonFactory(openids={miniprogram: "oA"}),
        second=PersonFactory(),
        reason=MergeReason.MANUAL,
        actor=actor,
    )

    def listed(pk):
        response = admin_client.get(LIST, {"person": pk})
        return {r.pk for r in response.context["cl"].result_list}

    assert listed(record.survivor_id) == {record.pk}
    assert listed(record.loser_id) == {record.pk}
    assert listed(other.survivor_id) == {other.pk}
    assert admin_client.get(LIST, {"person": "nope"})["Location"].endswith("?e=1")


def test_the_undo_action_asks_first_then_undoes(admin_client, record):
    form = {"action": "undo_merges", "_selected_action": [record.pk]}

    page = admin_client.post(LIST, form)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Service account: oYoungerSvc" in html  # what goes back to the loser
    assert 'id="confirm-undo"' in html
    assert MergeRecord.objects.get(pk=record.pk).undone_at is None

    done = admin_client.post(LIST, {**form, "confirm": "yes"})

    assert done.status_code == 302
    assert "Undid 1 merge." in messages_of(done)
    assert set(Person.objects.live().values_list("pk", flat=True)) == {
        record.survivor_id,
        record.loser_id,
    }


def test_the_record_page_button_undoes_after_its_confirmation(admin_client, record):
    page = admin_client.get(undo_url(record))

    assert page.status_code == 200
    assert 'id="confirm-undo"' in page.content.decode()
    assert MergeRecord.objects.get(pk=record.pk).undone_at is None

    done = admin_client.post(undo_url(record))

    assert done["Location"] == record_url(record)
    stored = MergeRecord.objects.get(pk=record.pk)
    assert stored.undone_at is not None
    assert stored.undone_by == "admin:admin"
    assert Person.objects.get(pk=record.loser_id).merged_into_id is None
    assert 'id="undo-merge"' not in admin_client.get(record_url(record)).content.decode()


def test_an_undo_that_cannot_happen_is_a_message(admin_client, record):
    admin_client.post(undo_url(record))
    MergeRecord.objects.filter(pk=record.pk).update(undone_at=None)  # a stale record

    done = admin_client.post(undo_url(record), follow=True)

    assert done.status_code == 200
    texts = [str(m) for m in done.context["messages"]]
    assert any(text.startswith(f"merge #{record.pk}:") for text in texts)


def test_undo_needs_the_change_permission_of_merge_records(client, record):
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_mergerecord"))
    client.force_login(staff)

    assert client.get(undo_url(record)).status_code == 403
    assert client.post(undo_url(record)).status_code == 403
    assert 'id="undo-merge"' not in client.get(record_url(record)).content.decode()
    assert MergeRecord.objects.get(pk=record.pk).undone_at is None


def test_an_unknown_record_is_404(admin_client):
    assert (
        admin_client.get(reverse("admin:identity_mergerecord_undo", args=[999999])).status_code
        == 404
    )


def test_the_undo_page_reads_the_same_number_of_queries_for_one_or_five_records(
    admin_client, miniprogram, service_account, actor
):
    records = [
        a_merge(miniprogram, service_account, actor, str(n), f"1381234567{n}") for n in range(5)
    ]

    def queries_of_the_page(chosen) -> int:
        form = {"action": "undo_merges", "_selected_action": [r.pk for r in chosen]}
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.post(LIST, form)
        assert page.content.decode().count('class="undo-record"') == len(chosen)
        assert "VIP" in page.content.decode()
        return len(queries)

    assert queries_of_the_page(records[:1]) == queries_of_the_page(records)
