"""The person admin's manual merge: exactly two persons, a preview, a refusal, the confirmation."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from identity.models import AuditEntry, Identity, MergeReason, MergeRecord, Person
from identity.phones import mask_phone
from identity.services.merge import merge_persons
from profiles.services.tags import assign_tags
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
LIST = "/admin/identity/person/"
OLDER, YOUNGER = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def pair(miniprogram, service_account, actor):
    older = PersonFactory(openids={miniprogram: "oOlderMini"}, created_at=OLDER)
    younger = PersonFactory(
        openids={service_account: "oYoungerSvc"},
        unionid="uYounger",
        phone=PHONE,
        created_at=YOUNGER,
    )
    assign_tags(person=younger, keys=["vip"], actor=actor)
    return older, younger


def run_action(client, persons, **extra):
    form = {"action": "merge_two_persons", "_selected_action": [p.pk for p in persons], **extra}
    return client.post(LIST, form)


def confirm(client, persons, preview=None):
    """Confirm what a preview showed: the form carries the preview's fingerprint back."""
    preview = preview or run_action(client, persons)
    fingerprint = preview.context["preview"].fingerprint
    return run_action(client, persons, confirm="yes", merge_fingerprint=fingerprint)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def test_the_action_wants_exactly_two_persons(admin_client, pair):
    response = run_action(admin_client, pair[:1])

    assert response.status_code == 302
    assert any("exactly two" in text for text in messages_of(response))
    assert not MergeRecord.objects.exists()


def test_the_preview_shows_the_survivor_and_what_moves_to_it(admin_client, pair):
    older, younger = pair

    response = run_action(admin_client, [younger, older])

    assert response.status_code == 200
    assert response.context["preview"].survivor.pk == older.pk  # the older one survives
    html = response.content.decode()
    survivor_side, loser_side = html.split('data-side="loser"')
    assert older.public_id in survivor_side
    assert younger.public_id in loser_side
    assert "Service account: oYoungerSvc" in loser_side  # app name + openid
    assert "wechat: uYounger" in loser_side
    assert mask_phone("+86" + PHONE) in loser_side
    assert PHONE not in html  # never the number in clear
    assert "VIP" in loser_side
    assert 'id="confirm-merge"' in html
    assert not MergeRecord.objects.exists()  # a preview writes nothing


def test_a_conflicting_merge_is_refused_in_the_preview(admin_client, pair, miniprogram):
    older, _younger = pair
    rival = PersonFactory(openids={miniprogram: "oRivalMini"}, created_at=YOUNGER)

    response = run_action(admin_client, [older, rival])

    html = response.content.decode()
    assert response.context["refusal"]
    assert "Shop mini-program" in html  # the app both hold an openid in, by name
    assert 'id="confirm-merge"' not in html

    # A forged confirmation is refused the same way: the action checks before it merges.
    confirmed = run_action(admin_client, [older, rival], confirm="yes")
    assert confirmed.status_code == 200
    assert not MergeRecord.objects.exists()


def test_confirming_merges_with_reason_manual_as_the_staff_user(admin_client, pair):
    older, younger = pair

    response = confirm(admin_client, [older, younger])

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:identity_person_change", args=[older.pk])
    record = MergeRecord.objects.get()
    assert (record.survivor_id, record.loser_id, record.reason) == (
        older.pk,
        younger.pk,
        MergeReason.MANUAL,
    )
    assert record.actor == "admin:admin"
    entry = AuditEntry.objects.get(action="person.merge")
    assert (entry.actor_type, entry.actor, entry.person_id) == ("admin", "admin", older.pk)
    assert Person.objects.get(pk=younger.pk).merged_into_id == older.pk
    assert any(younger.public_id in text for text in messages_of(response))


def test_persons_already_merged_are_not_merged_again(admin_client, pair):
    older, younger = pair
    confirm(admin_client, [older, younger])

    response = run_action(admin_client, [older, younger], confirm="yes")

    assert response.status_code == 200
    assert "already one" in response.content.decode()
    assert MergeRecord.objects.count() == 1


def test_staff_without_change_person_cannot_merge(client, pair):
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_person"))
    client.force_login(staff)

    listing = client.get(LIST)
    response = run_action(client, pair, confirm="yes")

    assert "merge_two_persons" not in listing.content.decode()
    assert response.status_code in (200, 302)  # the list again: no such action for this user
    assert not MergeRecord.objects.exists()


def test_the_preview_form_carries_its_fingerprint(admin_client, pair):
    response = run_action(admin_client, pair)

    fingerprint = response.context["preview"].fingerprint
    assert fingerprint
    assert f'name="merge_fingerprint" value="{fingerprint}"' in response.content.decode()


def test_a_person_merged_into_a_third_since_the_preview_is_not_merged(
    admin_client, pair, h5, actor
):
    # Given a preview of A and B, then A merged into an older person C
    older, younger = pair  # A is the younger, B the older
    preview = run_action(admin_client, [younger, older])
    third = PersonFactory(openids={h5: "oThird"}, created_at=datetime(2023, 1, 1, tzinfo=UTC))
    merge_persons(first=younger, second=third, reason=MergeReason.PHONE, actor=actor)

    # When the operator confirms what the preview showed
    response = confirm(admin_client, [younger, older], preview)

    # Then C and B are not merged: the preview of C and B shows, saying that things changed
    assert response.status_code == 200
    assert 'id="merge-changed"' in response.content.decode()
    assert response.context["preview"].survivor.pk == third.pk
    assert MergeRecord.objects.count() == 1  # A into C only
    assert Person.objects.get(pk=older.pk).merged_into_id is None
    assert not AuditEntry.objects.filter(action="person.merge", actor_type="admin").exists()

    # and what it shows now can be confirmed
    done = confirm(admin_client, [younger, older], response)
    assert done.status_code == 302
    assert Person.objects.get(pk=older.pk).merged_into_id == third.pk


def test_a_person_that_gained_an_identifier_since_the_preview_is_not_merged(
    admin_client, pair, service_account
):
    older, younger = pair
    preview = run_action(admin_client, [older, younger])
    Identity.objects.create(person=older, app=service_account, openid="oLateSvc")

    response = confirm(admin_client, [older, younger], preview)

    assert response.status_code == 200
    assert 'id="merge-changed"' in response.content.decode()
    assert not MergeRecord.objects.exists()


def test_a_confirmation_without_a_fingerprint_merges_nothing(admin_client, pair):
    response = run_action(admin_client, pair, confirm="yes")

    assert response.status_code == 200
    assert 'id="merge-changed"' in response.content.decode()
    assert not MergeRecord.objects.exists()
