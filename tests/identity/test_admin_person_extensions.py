"""The hook through which other apps extend identity's one person admin."""

import pytest
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models.functions import Upper
from django.urls import reverse

from identity.admin import person_extensions
from identity.admin.person_extensions import (
    PersonAdminExtension,
    person_admin_extensions,
    register_person_admin_extension,
)
from identity.models import Person
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:identity_person_changelist"


@admin.display(description="loud id")
def loud_id(obj):
    return obj.loud_id


@admin.action(description="Wave at the selected persons", permissions=["wave"])
def wave(model_admin, request, queryset):
    model_admin.message_user(request, f"Waved at {queryset.count()}.", messages.SUCCESS)


def waving(allowed: bool) -> PersonAdminExtension:
    return PersonAdminExtension(
        name="waving",
        list_display=("loud_id",),
        actions=(wave,),
        fieldsets=(("Loud", {"fields": ("loud_id",)}),),
        displays={"loud_id": loud_id},
        permissions={"wave": lambda request: allowed},
        queryset=lambda queryset: queryset.annotate(loud_id=Upper("public_id")),
    )


@pytest.fixture
def registry(monkeypatch):
    """Extensions registered in a test last for that test only."""
    monkeypatch.setattr(person_extensions, "_extensions", dict(person_extensions._extensions))


@pytest.fixture
def person(miniprogram, actor):
    return resolve_identity(app=miniprogram, openid="oExtended", actor=actor).person


@pytest.fixture
def model_admin():
    return admin.site._registry[Person]


def test_without_extensions_the_person_admin_is_identitys_alone(
    registry, monkeypatch, model_admin, admin_client, person
):
    # Given no app extends the person admin
    monkeypatch.setattr(person_extensions, "_extensions", {})

    # When it lists and shows persons
    listing = admin_client.get(reverse(CHANGELIST))
    page = admin_client.get(reverse("admin:identity_person_change", args=[person.pk]))

    # Then it offers identity's own columns, filter, action and fields, and both pages render
    assert model_admin.list_display[-1] == "erased_at"
    assert len(model_admin.list_filter) == 1
    assert model_admin.actions == ("erase_persons",)
    assert len(model_admin.fieldsets) == 1
    assert model_admin.readonly_fields == model_admin.fieldsets[0][1]["fields"]
    assert listing.status_code == 200
    assert page.status_code == 200
    assert model_admin.check() == []


def test_an_extension_adds_its_column_section_and_action(
    registry, model_admin, admin_client, person
):
    # Given an extension with a column, a section, an action and the query they read
    register_person_admin_extension(waving(allowed=True))

    # When the list and the change page are shown
    listing = admin_client.get(reverse(CHANGELIST))
    page = admin_client.get(reverse("admin:identity_person_change", args=[person.pk]))

    # Then the column and the section show the annotated value, after identity's own
    assert model_admin.list_display[-1] == "loud_id"
    assert person.public_id.upper() in listing.content.decode()
    assert "field-loud_id" in page.content.decode()
    assert person.public_id.upper() in page.content.decode()
    assert model_admin.check() == []

    # And the action is offered and runs
    assert "wave" in listing.context["action_form"].fields["action"].choices[-1]
    done = admin_client.post(
        reverse(CHANGELIST),
        {"action": "wave", ACTION_CHECKBOX_NAME: [person.pk], "index": 0},
        follow=True,
    )
    assert [str(m) for m in done.context["messages"]] == ["Waved at 1."]


def test_an_extension_action_follows_its_permission(registry, model_admin, rf, admin_user):
    # Given an extension whose action permission says no
    register_person_admin_extension(waving(allowed=False))
    request = rf.get("/")
    request.user = admin_user

    # Then the action is not offered, while identity's still is
    actions = model_admin.get_actions(request)
    assert "wave" not in actions
    assert "erase_persons" in actions


def test_registering_again_replaces_the_extension(registry):
    register_person_admin_extension(waving(allowed=False))
    register_person_admin_extension(waving(allowed=True))

    assert [e.name for e in person_admin_extensions()].count("waving") == 1
