"""The person admin's "Erase selected persons (personal data)" action."""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from identity.models import AuditEntry, Identity, Person, UnionId
from identity.services.merge import merge_persons
from identity.services.resolve import resolve_identity
from profiles.models import Event
from profiles.services.ingest import ingest_events
from tests.clock import iso_ago

pytestmark = pytest.mark.django_db

PERSONS = reverse("admin:identity_person_changelist")
ACTION = "erase_persons"


@pytest.fixture
def paying_person(person_with_phone, miniprogram, actor):
    """The `person_with_phone`, with a payment in the mini-program (stats, an event)."""
    result = ingest_events(
        events=[
            {
                "event_id": "evt-erase-1",
                "appid": miniprogram.appid,
                "openid": "oMini1",
                "type": "pay",
                "amount": "12.50",
                "occurred_at": iso_ago(hours=1),
                "properties": {"address": "1 Example Road"},
            }
        ],
        actor=actor,
    )
    assert result.accepted == 1
    return person_with_phone


def erase(client, *persons, confirm=True):
    data = {"action": ACTION, ACTION_CHECKBOX_NAME: [p.pk for p in persons]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(PERSONS, data, follow=confirm)


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def offered_actions(client) -> set[str]:
    response = client.get(PERSONS)
    assert response.status_code == 200
    form = response.context["action_form"]
    return {name for name, _ in form.fields["action"].choices} if form else set()


def staff_user(*permissions: str) -> User:
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_the_registered_person_admin_offers_erasure_and_the_tag_actions(rf, admin_user):
    request = rf.get(PERSONS)
    request.user = admin_user
    actions = admin.site._registry[Person].get_actions(request)
    assert {ACTION, "add_tag", "remove_tag"} <= set(actions)
    assert "delete_selected" not in actions
    assert str(actions[ACTION][2]) == "Erase selected persons (personal data)"


def test_the_action_first_asks_for_confirmation(admin_client, paying_person):
    response = erase(admin_client, paying_person, confirm=False)

    assert response.status_code == 200
    assert "admin/identity/person_erase_confirmation.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert paying_person.public_id in page
    assert 'name="confirm"' in page
    assert Person.objects.get(pk=paying_person.pk).erased_at is None
    assert not AuditEntry.objects.filter(action="person.erase").exists()


def test_confirming_erases_the_personal_data_and_keeps_the_aggregates(
    admin_client, admin_user, paying_person, miniprogram, actor
):
    response = erase(admin_client, paying_person)

    assert response.redirect_chain
    assert shown_messages(response) == ["Erased the personal data of 1 person."]
    erased = Person.objects.get(pk=paying_person.pk)
    assert erased.erased_at is not None
    assert erased.phone_encrypted is None
    assert erased.phone_index is None
    assert not Identity.objects.filter(person=erased).exists()
    assert not UnionId.objects.filter(person=erased).exists()
    event = Event.objects.get(event_id="evt-erase-1")
    assert event.person_id == erased.pk
    assert event.properties == {}
    assert erased.stats.pay_count == 1
    entry = AuditEntry.objects.get(action="person.erase")
    assert (entry.actor_type, entry.actor) == ("admin", admin_user.username)
    assert entry.person_id == erased.pk
    # The erased identifiers are free for a new person.
    again = resolve_identity(app=miniprogram, openid="oMini1", unionid="oUnion1", actor=actor)
    assert again.created
    assert again.person.pk != erased.pk


def test_erasing_twice_changes_nothing_more(admin_client, paying_person):
    erase(admin_client, paying_person)
    erased_at = Person.objects.get(pk=paying_person.pk).erased_at

    response = erase(admin_client, paying_person)

    assert shown_messages(response) == [
        "Erased the personal data of 0 persons. 1 was already erased."
    ]
    assert Person.objects.get(pk=paying_person.pk).erased_at == erased_at
    assert AuditEntry.objects.filter(action="person.erase").count() == 1


def test_a_merged_away_id_erases_its_survivor_once(admin_client, paying_person, h5, actor):
    younger = resolve_identity(app=h5, openid="oH5", actor=actor).person
    merge_persons(first=paying_person, second=younger, reason="manual", actor=actor)

    response = erase(admin_client, paying_person, younger)

    assert shown_messages(response) == ["Erased the personal data of 1 person."]
    assert Person.objects.get(pk=paying_person.pk).erased_at is not None
    assert AuditEntry.objects.filter(action="person.erase").count() == 1


def test_staff_without_the_delete_permission_cannot_erase(client, paying_person):
    client.force_login(staff_user("view_person"))

    assert ACTION not in offered_actions(client)
    erase(client, paying_person)
    assert Person.objects.get(pk=paying_person.pk).erased_at is None
    assert not AuditEntry.objects.filter(action="person.erase").exists()


def test_staff_with_the_delete_permission_can_erase(client, paying_person):
    client.force_login(staff_user("view_person", "delete_person"))

    assert ACTION in offered_actions(client)
    erase(client, paying_person)
    assert Person.objects.get(pk=paying_person.pk).erased_at is not None
