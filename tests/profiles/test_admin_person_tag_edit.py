"""Adding and removing one manual tag on the person page, through the tag services."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from identity.admin.person_extensions import person_extension_url
from identity.models import AuditEntry, Person
from profiles.models import Tag, TagAssignment, TagKind, TagSource
from profiles.services.tags import assign_tags, remove_tag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_restored():
    """A request in Chinese leaves Chinese active in this thread (LocaleMiddleware): restore
    the language, so that later tests run in their own."""
    current = translation.get_language()
    yield
    translation.activate(current) if current else translation.deactivate()


def add_url(person: Person) -> str:
    return person_extension_url("profiles", "tag-add", person.pk)


def remove_url(person: Person) -> str:
    return person_extension_url("profiles", "tag-remove", person.pk)


def post(client, url: str, data: dict, language: str = "en") -> list[str]:
    """Post, follow the redirect to the person page and return its messages."""
    response = client.post(url, data, follow=True, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith("/change/")
    return [str(message) for message in response.context["messages"]]


def held(person: Person) -> set[str]:
    return set(TagAssignment.objects.filter(person=person).values_list("tag__key", flat=True))


@pytest.fixture
def tagger(db):
    """A staff user who may view persons and change tag assignments, nothing more."""
    user = User.objects.create_user("tagger", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_person", "view_tagassignment", "change_tagassignment"]
        )
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_staff_user_adds_a_manual_tag_with_an_expiry(tagger, person, language):
    expires = (timezone.localtime() + timedelta(days=3)).replace(second=0, microsecond=0)

    messages = post(
        tagger,
        add_url(person),
        {"tag": "vip", "expires_at": expires.strftime("%Y-%m-%dT%H:%M")},
        language,
    )

    assignment = TagAssignment.objects.get(person=person, tag__key="vip")
    assert assignment.source == TagSource.ADMIN
    assert assignment.assigned_by == "admin:tagger"
    assert assignment.expires_at == expires  # read in TIME_ZONE, as the form shows it
    entry = AuditEntry.objects.get(person=person, action="tag.assign")
    assert (entry.actor_type, entry.actor) == ("admin", "tagger")
    assert entry.after["source"] == "admin"
    assert len(messages) == 1
    assert "VIP" in messages[0]


def test_a_staff_user_removes_a_manual_tag(tagger, person, actor):
    assign_tags(person=person, keys=["vip"], actor=actor)

    messages = post(tagger, remove_url(person), {"tag": "vip"})

    assert "vip" not in held(person)
    assert messages == ["Removed tag “VIP”."]
    entry = AuditEntry.objects.get(person=person, action="tag.remove")
    assert (entry.actor_type, entry.actor) == ("admin", "tagger")


def test_removing_a_tag_the_person_lacks_says_so(tagger, person):
    messages = post(tagger, remove_url(person), {"tag": "vip"})

    assert messages == ["The person did not hold “VIP”."]
    assert not AuditEntry.objects.filter(action="tag.remove").exists()


@pytest.mark.parametrize("url", [add_url, remove_url])
def test_a_rule_tag_cannot_be_changed_by_hand(tagger, person, url):
    messages = post(tagger, url(person), {"tag": "repeat_buyer"})

    assert len(messages) == 1
    assert "Rule tags are kept by their rule" in messages[0]
    assert "repeat_buyer" not in held(person)
    assert not AuditEntry.objects.filter(action__in=["tag.assign", "tag.remove"]).exists()


def test_an_unknown_tag_is_a_message_naming_it(tagger, person):
    messages = post(tagger, add_url(person), {"tag": "no_such_tag"})

    assert "no_such_tag" in messages[0]
    assert held(person) == set()


def test_an_expiry_in_the_past_is_refused(tagger, person):
    past = timezone.localtime() - timedelta(days=1)

    messages = post(
        tagger, add_url(person), {"tag": "vip", "expires_at": past.strftime("%Y-%m-%dT%H:%M")}
    )

    assert "expires_at" in messages[0] or "Expires at" in messages[0]
    assert held(person) == set()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"tag": "vip", "expires_at": "next tuesday"}, "Expires at"),
        ({"tag": ""}, "Tag"),
        ({"tag": "x" * 200}, "Tag"),
        ({}, "Tag"),
    ],
)
def test_bad_input_is_a_message_naming_the_field(tagger, person, data, field):
    messages = post(tagger, add_url(person), data)

    assert messages[0].startswith(f"{field}:")
    assert held(person) == set()


def test_a_merged_away_person_keeps_its_tags(tagger, person, miniprogram):
    survivor = Person.objects.create()
    Person.objects.filter(pk=person.pk).update(merged_into=survivor)

    messages = post(tagger, add_url(person), {"tag": "vip"})

    assert "merged away or erased" in messages[0]
    assert held(person) == held(survivor) == set()


def test_get_is_not_allowed(tagger, person):
    assert tagger.get(add_url(person)).status_code == 405
    assert tagger.get(remove_url(person)).status_code == 405


def test_an_unknown_person_is_404(tagger):
    missing = Person(pk=987654)

    assert tagger.post(add_url(missing), {"tag": "vip"}).status_code == 404
    assert tagger.post("/admin/identity/person/abc/profiles/tag-add/").status_code == 404


def test_staff_without_the_tag_permission_are_refused(person):
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_person"))
    client = Client()
    client.force_login(viewer)

    response = client.post(add_url(person), {"tag": "vip"})

    assert response.status_code == 403
    assert held(person) == set()
    # And the page offers them no tag form
    page = client.get(reverse("admin:identity_person_change", args=[person.pk]))
    assert 'id="person-tag-add"' not in page.content.decode()


def test_the_form_needs_the_csrf_token(person):
    user = User.objects.create_superuser("boss", password="x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(add_url(person), {"tag": "vip"}).status_code == 403

    page = client.get(reverse("admin:identity_person_change", args=[person.pk]))
    token = page.context["csrf_token"]
    response = client.post(add_url(person), {"tag": "vip", "csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert held(person) == {"vip"}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_page_offers_manual_tags_and_a_remove_button_per_manual_tag(
    tagger, person, actor, language
):
    assign_tags(person=person, keys=["vip"], actor=actor)
    TagAssignment.objects.create(
        person=person, tag=Tag.objects.get(key="repeat_buyer"), source=TagSource.RULE
    )

    url = reverse("admin:identity_person_change", args=[person.pk])
    html = tagger.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    # The forms sit outside the page's own form; the controls name them
    assert html.index('id="person-tag-add"') < html.index('id="person_form"')
    assert f'action="{add_url(person)}"' in html
    options = html[html.index('id="person-tag-add-tag"') :]
    options = options[: options.index("</select>")]
    assert 'value="vip"' in options
    assert 'value="repeat_buyer"' not in options  # rule tags are not offered
    assert 'data-tag="vip"' in html
    assert 'data-tag="repeat_buyer"' not in html


@pytest.fixture
def manual_preset(db):
    """The preset "Repeat buyer" made manual: a manual tag whose name Chinese translates."""
    Tag.objects.filter(key="repeat_buyer").update(kind=TagKind.MANUAL, condition=None)
    return Tag.objects.get(key="repeat_buyer")


def test_the_form_and_the_message_show_a_presets_translated_name(tagger, person, manual_preset):
    # Given a manual preset tag, its stored name the English default
    assert manual_preset.name == "Repeat buyer"
    url = reverse("admin:identity_person_change", args=[person.pk])

    # When staff reading Chinese open the page and add it
    html = tagger.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    messages = post(tagger, add_url(person), {"tag": "repeat_buyer"}, "zh-hans")

    # Then the option and the message name it in Chinese
    options = html[html.index('id="person-tag-add-tag"') :]
    options = options[: options.index("</select>")]
    assert '<option value="repeat_buyer">复购用户</option>' in options
    assert "Repeat buyer" not in options
    assert "复购用户" in messages[0]
    assert "Repeat buyer" not in messages[0]


def test_removing_says_so_in_the_operators_language(tagger, person, manual_preset, actor):
    assign_tags(person=person, keys=["repeat_buyer"], actor=actor)

    messages = post(tagger, remove_url(person), {"tag": "repeat_buyer"}, "zh-hans")

    assert "复购用户" in messages[0]
    assert "repeat_buyer" not in held(person)


def test_remove_tag_says_whether_the_person_held_it(person, actor):
    assign_tags(person=person, keys=["vip"], actor=actor)

    assert remove_tag(person=person, key="vip", actor=actor) is True
    assert remove_tag(person=person, key="vip", actor=actor) is False
    assert AuditEntry.objects.filter(person=person, action="tag.remove").count() == 1
