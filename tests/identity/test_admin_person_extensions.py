"""The hook through which other apps extend identity's one person admin."""

import pytest
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models.functions import Upper
from django.http import HttpResponse
from django.urls import reverse

from identity.admin import person_extensions
from identity.admin.person_extensions import (
    PersonAdminExtension,
    person_admin_extensions,
    person_extension_url,
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
    assert model_admin.list_display[-1] == "created_at"
    assert len(model_admin.list_filter) == 1
    assert model_admin.actions[0] == "erase_persons"
    assert [title for title, _options in model_admin.fieldsets] == [None, "History"]
    assert model_admin.readonly_fields == (
        *model_admin.fieldsets[0][1]["fields"],
        "recent_history",
    )
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


def greet(model_admin, request, object_id):
    return HttpResponse(f"hello {object_id}")


@pytest.fixture
def greeting(registry, settings, tmp_path):
    """An extension with a view, a template outside the change form, its context and words."""
    (tmp_path / "greeting.html").write_text('<p id="greeting">{{ greeting }}</p>')
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], str(tmp_path)]}
    ]
    register_person_admin_extension(
        PersonAdminExtension(
            name="greeting",
            views={"greet": greet},
            change_context=lambda request, person: {"greeting": f"hi {person.public_id}"},
            change_form_templates=("greeting.html",),
            audit_describers={"identity.": lambda entry: "never asked: identity says its own"},
        )
    )


def test_an_extension_adds_its_views_templates_and_context(greeting, admin_client, person):
    # Given an extension with a view, a template and the context it draws
    page = admin_client.get(reverse("admin:identity_person_change", args=[person.pk]))

    # Then the page includes the template, outside the page's form, with the context
    html = page.content.decode()
    assert f'<p id="greeting">hi {person.public_id}</p>' in html
    assert html.index('id="greeting"') < html.index('id="person_form"')
    # And the view answers under the person's URL, behind the admin's login
    url = person_extension_url("greeting", "greet", person.pk)
    assert admin_client.get(url).content == f"hello {person.pk}".encode()
    assert admin_client.__class__().get(url).status_code == 302  # to the login page
    unknown = person_extension_url("greeting", "wave", person.pk)
    assert admin_client.get(unknown).status_code == 404


def test_identity_describes_its_own_entries_before_the_extensions(greeting, admin_client, person):
    html = admin_client.get(reverse("admin:identity_person_change", args=[person.pk]))

    assert "never asked" not in html.content.decode()
    assert "first seen in" in html.content.decode()


def test_an_extension_describes_its_own_audit_actions(registry, admin_client, person, actor):
    from identity.services.audit import record_audit

    register_person_admin_extension(
        PersonAdminExtension(name="waves", audit_describers={"wave.": lambda entry: "waved"})
    )
    record_audit(actor=actor, action="wave.hello", person=person)
    record_audit(actor=actor, action="other.thing", person=person)

    html = admin_client.get(reverse("admin:identity_person_change", args=[person.pk]))

    history = html.content.decode()
    history = history[history.index('class="person-history"') :]
    assert "<td>waved</td>" in history
    assert "<td>other.thing</td>" in history  # no words for it: its code, not nothing
