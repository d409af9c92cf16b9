"""The person page and list as operations staff read them: local times, names, History."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from identity.models import Actor, AuditEntry, Identity, Person
from identity.services.merge import merge_persons
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from tests.conftest import PERSON_OPENID, PERSON_SERVICE_OPENID

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_restored():
    """A request in Chinese leaves Chinese active in this thread (LocaleMiddleware): restore
    the language, so that later tests run in their own."""
    current = translation.get_language()
    yield
    translation.activate(current) if current else translation.deactivate()


CHANGELIST = reverse("admin:identity_person_changelist")
# 18:30 UTC is 02:30 the next day in Beijing (TIME_ZONE is Asia/Shanghai).
FIRST_SEEN = datetime(2026, 1, 15, 18, 30, tzinfo=UTC)
LOCAL = {"en": "Jan. 16, 2026, 2:30 a.m.", "zh-hans": "2026年1月16日 02:30"}
UTC_TEXT = ("Jan. 15, 2026", "2026年1月15日", "18:30", "+00:00")


def change_url(person: Person) -> str:
    return reverse("admin:identity_person_change", args=[person.pk])


def page(client, person: Person, language: str = "en") -> str:
    response = client.get(change_url(person), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def seen(person_with_phone):
    Identity.objects.filter(person=person_with_phone).update(created_at=FIRST_SEEN)
    return person_with_phone


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_identities_show_when_first_seen_in_local_time(admin_client, seen, language):
    html = page(admin_client, seen, language)

    identities = html[html.index('id="identities-group"') :]
    identities = identities[: identities.index("</table>")]
    assert LOCAL[language] in identities
    assert not any(text in identities for text in UTC_TEXT)


def test_identity_rows_are_named_by_app_and_openid_not_by_internal_id(admin_client, seen):
    html = page(admin_client, seen)

    assert "identity #" not in html
    assert "unionid #" not in html
    assert "Shop mini-program" in html
    assert PERSON_OPENID in html
    assert PERSON_SERVICE_OPENID in html


def test_followed_is_not_applicable_outside_a_service_account(admin_client, seen):
    Identity.objects.filter(person=seen, app__kind="service_account").update(followed=True)

    html = page(admin_client, seen)

    rows = html[html.index('id="identities-group"') :]
    rows = rows[: rows.index("</table>")].split('<tr class="form-row')[1:]
    mini, service = rows  # ordered by appid: the mini-program first
    assert "not applicable" in mini
    assert "icon-unknown" not in mini
    assert "icon-yes" in service


def test_a_service_account_identity_of_unknown_follow_state_says_so(admin_client, seen):
    html = page(admin_client, seen)

    rows = html[html.index('id="identities-group"') :]
    assert "unknown" in rows[: rows.index("</table>")]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_page_shows_no_raw_none(admin_client, person, language):
    # A person with no phone, no stats, no events, no tags: every empty value is a dash
    html = page(admin_client, person, language)

    assert ">None<" not in html
    assert "None</" not in html
    assert ": None" not in html


def test_history_lists_the_persons_audit_entries_in_words(admin_client, seen, actor):
    bind_phone(person=seen, phone="13912345678", on_conflict="move", actor=actor)
    AuditEntry.objects.filter(person=seen).update(created_at=FIRST_SEEN)

    html = page(admin_client, seen)

    history = html[html.index('class="person-history"') :]
    history = history[: history.index("</table>")]
    assert "phone +86 139****5678 bound" in history
    assert "System: tests" in history
    assert LOCAL["en"] in history
    assert "phone.bind" not in history
    assert "13912345678" not in html


def test_history_shows_the_latest_ten_entries(admin_client, seen, actor):
    for n in range(12):
        bind_phone(person=seen, phone=f"1391234{n:04d}", on_conflict="move", actor=actor)

    html = page(admin_client, seen)

    history = html[html.index('class="person-history"') :]
    history = history[: history.index("</table>")]
    assert history.count("<tr>") == 11  # the header and ten entries
    assert "139****0011" in history  # the newest
    assert "139****0000" not in history


def test_history_names_an_admin_and_a_key_as_every_page_does(admin_client, person):
    key = type("Key", (), {"name": "demo", "prefix": "ab12cd34"})()
    bind_phone(person=person, phone="13912340000", actor=Actor.api_key(key))
    bind_phone(
        person=person,
        phone="13912340001",
        on_conflict="move",
        actor=Actor.admin(User(username="ops-anna")),
    )

    html = page(admin_client, person)

    history = html[html.index('class="person-history"') :]
    assert "<td>API key demo (ab12cd34)</td>" in history  # the prefix tells keys of one name apart
    assert "<td>Staff user ops-anna</td>" in history
    assert "api_key:" not in html


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_page_links_to_the_persons_audit_entries_and_merges(admin_client, seen, language):
    html = page(admin_client, seen, language)

    audit = reverse("admin:identity_auditentry_changelist") + f"?person={seen.pk}"
    merges = reverse("admin:identity_mergerecord_changelist") + f"?person={seen.pk}"
    assert f'href="{audit}"' in html
    assert f'href="{merges}"' in html


def test_the_history_button_leads_to_the_persons_audit_entries(admin_client, seen):
    response = admin_client.get(reverse("admin:identity_person_history", args=[seen.pk]))

    assert response.status_code == 302
    assert response.url.endswith(f"?person={seen.pk}")
    assert admin_client.get(reverse("admin:identity_person_history", args=[0])).status_code in (
        302,
        404,
    )


def test_a_merged_person_page_renders_and_names_the_merge(admin_client, miniprogram, h5, actor):
    first = resolve_identity(app=miniprogram, openid="oFirstOne", actor=actor).person
    second = resolve_identity(app=h5, openid="oSecondOne", actor=actor).person
    merge_persons(first=first, second=second, reason="manual", actor=actor)

    html = page(admin_client, first)

    assert "another person merged into this one" in html
    assert "person.merge" not in html


def test_staff_without_the_view_permission_cannot_open_the_page(person):
    staff = User.objects.create_user("viewer", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)

    assert client.get(change_url(person)).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_person"))
    staff = User.objects.get(pk=staff.pk)
    client.force_login(staff)
    assert client.get(change_url(person)).status_code == 200


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_change_page_runs_a_bounded_number_of_queries(
    admin_client, seen, actor, language, django_assert_max_num_queries
):
    for n in range(15):
        bind_phone(person=seen, phone=f"1391234{n:04d}", on_conflict="move", actor=actor)

    # 17 today: session, user, the person (twice: the extensions' context reads it), each
    # inline and section once, the History's entries and app names.
    with django_assert_max_num_queries(20):
        page(admin_client, seen, language)


def test_the_list_runs_a_bounded_number_of_queries(
    admin_client, miniprogram, actor, django_assert_max_num_queries
):
    for n in range(25):
        found = resolve_identity(app=miniprogram, openid=f"oListed{n}", actor=actor).person
        bind_phone(person=found, phone=f"1381234{n:04d}", actor=actor)

    with django_assert_max_num_queries(8):
        response = admin_client.get(CHANGELIST, {"q": "olisted"})

    assert len(response.context["cl"].result_list) == 25


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_list_renders_in_both_languages_with_local_times(admin_client, seen, language):
    Person.objects.filter(pk=seen.pk).update(created_at=FIRST_SEEN)

    response = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE=language)

    html = response.content.decode()
    assert response.status_code == 200
    assert LOCAL[language] in html
    assert "+86 138****5678" in html
