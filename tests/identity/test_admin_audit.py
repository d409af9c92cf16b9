"""Audit entries in words: actors, actions, links to person and target, before/after lists."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from identity.models import Actor, AuditEntry
from identity.services.audit import record_audit
from tests.factories import ApiKeyFactory, PersonFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/identity/auditentry/"


def entry_url(entry) -> str:
    return reverse("admin:identity_auditentry_change", args=[entry.pk])


def test_an_entry_reads_in_words_with_links(admin_client, miniprogram, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    person = PersonFactory()
    key = ApiKeyFactory(name="backend")
    entry = record_audit(
        actor=Actor.api_key(key),
        action="phone.bind",
        person=person,
        before={"phone": None},
        after={"phone": "+86 138****5678", "moved_from": {"id": "p_x", "apps": ["a", "b"]}},
    )
    AuditEntry.objects.filter(pk=entry.pk).update(
        created_at=datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
    )

    html = admin_client.get(entry_url(entry)).content.decode()

    assert f"API key {key.name} ({key.prefix})" in html
    assert "Phone number bound" in html
    assert reverse("admin:identity_person_change", args=[person.pk]) in html
    assert "<b>Phone:</b> +86 138****5678" in html
    assert "<b>Moved from:</b>" in html
    assert "a, b" in html
    assert "{&quot;" not in html
    assert '{"' not in html
    assert "March 2, 2024" in html  # 20:00 UTC is the next morning in Shanghai


@pytest.mark.parametrize(
    ("actor", "words"),
    [
        (Actor("admin", "alice"), "Staff user alice"),
        (Actor.system("schedule: rule tags"), "System: schedule: rule tags"),
    ],
)
def test_actors_in_words(admin_client, actor, words):
    entry = record_audit(actor=actor, action="tag.refresh", target="vip", after={"added": 1})

    assert words in admin_client.get(entry_url(entry)).content.decode()


def test_targets_naming_an_app_or_a_key_link_to_them(admin_client, miniprogram, actor):
    key = ApiKeyFactory(name="backend")
    record_audit(actor=actor, action="app.update", target=miniprogram.appid)
    record_audit(actor=actor, action="api_key.revoke", target=str(key))

    html = admin_client.get(LIST).content.decode()

    assert reverse("admin:identity_app_change", args=[miniprogram.pk]) in html
    assert reverse("admin:identity_apikey_change", args=[key.pk]) in html


def test_the_list_filters_by_person(admin_client, actor):
    mine, other = PersonFactory(), PersonFactory()
    kept = record_audit(actor=actor, action="tag.assign", person=mine)
    record_audit(actor=actor, action="tag.assign", person=other)

    response = admin_client.get(LIST, {"person": mine.pk})

    assert [entry.pk for entry in response.context["cl"].result_list] == [kept.pk]
    assert admin_client.get(LIST, {"person": "x"})["Location"].endswith("?e=1")


def test_the_list_filters_by_action_in_words(admin_client, actor):
    record_audit(actor=actor, action="tag.assign", target="a")
    record_audit(actor=actor, action="app.update", target="b")

    response = admin_client.get(LIST, {"action": "app.update"})

    assert [entry.action for entry in response.context["cl"].result_list] == ["app.update"]
    assert "App changed" in response.content.decode()


def _entries(count, miniprogram, actor):
    for n in range(count):
        person = PersonFactory()
        record_audit(actor=actor, action="tag.assign", person=person)
        record_audit(actor=actor, action="app.update", target=miniprogram.appid)
        record_audit(actor=actor, action="api_key.revoke", target=str(ApiKeyFactory(name=f"k{n}")))


def test_the_list_costs_the_same_queries_for_3_or_30_entries(
    admin_client, miniprogram, actor, django_assert_num_queries
):
    _entries(1, miniprogram, actor)
    admin_client.get(LIST)  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(LIST).status_code == 200
    _entries(10, miniprogram, actor)
    with django_assert_num_queries(len(few.captured_queries)):
        assert admin_client.get(LIST).status_code == 200
    assert len(few.captured_queries) <= 14
