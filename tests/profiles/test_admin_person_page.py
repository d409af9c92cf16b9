"""What profiles adds to the person page, as staff read it: local times and names."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import formats, timezone, translation

from identity.models import Actor, Person
from profiles.models import PersonStats, Tag, TagAssignment, TagSource
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_restored():
    """A request in Chinese leaves Chinese active in this thread (LocaleMiddleware): restore
    the language, so that later tests run in their own."""
    current = translation.get_language()
    yield
    translation.activate(current) if current else translation.deactivate()


# 18:30 UTC is 02:30 the next day in Beijing (TIME_ZONE is Asia/Shanghai).
AT = datetime(2026, 1, 15, 18, 30, tzinfo=UTC)
LOCAL = {"en": "Jan. 16, 2026, 2:30 a.m.", "zh-hans": "2026年1月16日 02:30"}
UTC_TEXT = ("Jan. 15, 2026", "2026年1月15日", "18:30", "+00:00")
LANGUAGES = ["en", "zh-hans"]


def page(client, person: Person, language: str = "en") -> str:
    url = reverse("admin:identity_person_change", args=[person.pk])
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, start: str, end: str = "</fieldset>") -> str:
    part = html[html.index(start) :]
    return part[: part.index(end)]


@pytest.fixture
def with_stats(person):
    PersonStats.objects.create(
        person=person,
        event_count=3,
        first_seen_at=AT,
        last_seen_at=AT,
        last_login_at=AT,
        pay_count=1,
        pay_total="12.50",
        last_pay_at=AT,
    )
    return person


@pytest.mark.parametrize("language", LANGUAGES)
def test_stats_are_shown_in_local_time(admin_client, with_stats, language):
    html = page(admin_client, with_stats, language)

    stats = section(html, "field-first_seen", "field-event_count")
    assert stats.count(LOCAL[language]) == 3  # first seen, last seen, last login
    assert not any(text in stats for text in UTC_TEXT)
    assert LOCAL[language] in section(html, "field-last_payment")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_list_shows_last_seen_in_local_time(admin_client, with_stats, language):
    url = reverse("admin:identity_person_changelist")
    html = admin_client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert LOCAL[language] in section(html, 'id="result_list"', "</table>")


@pytest.mark.parametrize("language", LANGUAGES)
def test_missing_stats_are_dashes_not_none(admin_client, person, language):
    html = page(admin_client, person, language)

    assert '<div class="readonly">-</div>' in section(html, "field-first_channel")
    assert "None" not in section(html, "field-first_seen", "field-latest_events")


def test_latest_events_name_the_type_and_app_in_local_time(admin_client, person, miniprogram):
    at = timezone.now() - timedelta(hours=3)
    event = {"event_id": "e-1", "appid": miniprogram.appid, "openid": "oMini1", "type": "pay"}
    event |= {"occurred_at": at.isoformat(), "amount": "12.50"}
    ingest_events(events=[event], actor=Actor.system("tests"))

    html = page(admin_client, person)

    events = section(html, "field-latest_events", "</table>")
    with translation.override("en"):
        local = formats.localize(timezone.localtime(at))
    assert f"<td>Pay</td><td>Shop mini-program</td><td>{local}</td>" in events
    by_type = section(html, 'id="event_stats-group"', "</table>")
    assert "Pay" in by_type
    assert "stats of person" not in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_tag_assignments_name_who_gave_them(admin_client, person, language):
    # Given a tag from an API key, one from a staff user and one from a rule
    key = type("Key", (), {"name": "demo", "prefix": "ab12cd34"})()
    assign_tags(person=person, keys=["vip"], actor=Actor.api_key(key))
    interest = Tag.objects.create(key="tea", name="Tea lover")
    assign_tags(
        person=person,
        keys=[interest.key],
        actor=Actor.admin(User(username="ops-anna")),
        source=TagSource.ADMIN,
    )
    TagAssignment.objects.create(
        person=person,
        tag=Tag.objects.get(key="repeat_buyer"),
        source=TagSource.RULE,
        assigned_by="system:schedule: rule tags",
    )

    html = page(admin_client, person, language)

    # Then each is named as staff know it, never as the stored actor label
    tags = section(html, 'id="tag_assignments-group"', "</table>")
    assigners = re.findall(r'class="field-assigner">\s*<p>(.*?)</p>', tags)
    if language == "en":
        assert sorted(assigners) == [
            "API key demo (ab12cd34)",
            "Staff user ops-anna",
            "rule ‘Repeat buyer’",  # noqa: RUF001
        ]
    assert len(assigners) == 3
    assert any("demo (ab12cd34)" in cell for cell in assigners)
    assert any(cell.endswith("ops-anna") for cell in assigners)
    assert "api_key:" not in tags
    assert "admin:ops-anna" not in tags
    assert "on person #" not in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_tag_assignment_and_expiry_times_are_local(admin_client, person, actor, language):
    assign_tags(person=person, keys=["vip"], actor=actor)
    TagAssignment.objects.filter(person=person).update(assigned_at=AT, expires_at=AT)

    html = page(admin_client, person, language)

    tags = section(html, 'id="tag_assignments-group"', "</table>")
    assert tags.count(LOCAL[language]) == 2
    assert not any(text in tags for text in UTC_TEXT)


def test_tag_history_names_the_staff_user_and_shows_local_times(admin_client, person):
    assign_tags(person=person, keys=["vip"], actor=Actor.admin(User(username="ops-anna")))
    from identity.models import AuditEntry

    AuditEntry.objects.filter(person=person, action="tag.assign").update(created_at=AT)

    html = page(admin_client, person)

    history = section(html, 'class="tag-history"', "</table>")
    assert f"<td>{LOCAL['en']}</td><td>Staff user ops-anna</td><td>added vip</td>" in history
    assert "Admin user:" not in history


def test_an_empty_tag_history_is_a_dash(admin_client, person):
    html = page(admin_client, person)

    assert '<div class="readonly">-</div>' in section(html, "field-tag_history")
