"""The five lifecycle stages of a new install: each boundary, no gap, no overlap.

The clock is pinned by evaluating the presets' conditions at a fixed `now` (the compiler takes
it), and the stats are built relative to that instant.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from identity.models import Actor, Person
from profiles.conditions import matching_persons
from profiles.models import PersonStats, Tag, TagAssignment
from profiles.presets import PRESET_TAGS
from profiles.services.rules import refresh_rule_tags
from tests.clock import ago

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 3, 15, 4, 0, tzinfo=UTC)
STAGES = ("new", "active", "cooling", "dormant", "churned")
SECOND = timedelta(seconds=1)


def person_seen(last: datetime, first: datetime | None = None) -> Person:
    person = Person.objects.create()
    PersonStats.objects.create(person=person, first_seen_at=first or last, last_seen_at=last)
    return person


def stages_of(person: Person, at: datetime = NOW) -> list[str]:
    conditions = dict(Tag.objects.filter(key__in=STAGES).values_list("key", "condition"))
    return [key for key in STAGES if matching_persons(conditions[key], now=at).filter(pk=person.pk)]


def test_a_new_install_has_the_five_exclusive_stages():
    tags = Tag.objects.filter(key__in=STAGES).select_related("group")
    assert sorted(tag.key for tag in tags) == sorted(STAGES)
    assert {(tag.group.key, tag.group.exclusive, tag.kind) for tag in tags} == {
        ("lifecycle", True, "rule")
    }


@pytest.mark.parametrize(
    ("days_ago", "stage"),
    [
        # Seen exactly N days ago is still "within N days"; a second more is the next stage.
        (timedelta(days=7) - SECOND, "active"),
        (timedelta(days=7), "active"),
        (timedelta(days=7) + SECOND, "cooling"),  # "8 days ago"
        (timedelta(days=29), "cooling"),  # "29 days ago"
        (timedelta(days=29) + SECOND, "dormant"),  # "30 days ago"
        (timedelta(days=89), "dormant"),  # "89 days ago"
        (timedelta(days=89) + SECOND, "churned"),  # "90 days ago"
        (timedelta(days=3000), "churned"),
    ],
)
def test_last_seen_boundaries(days_ago, stage):
    # first seen long before: never new
    person = person_seen(NOW - days_ago, first=NOW - timedelta(days=4000))
    assert stages_of(person) == [stage]


@pytest.mark.parametrize(
    ("first_seen", "stage"),
    [
        (timedelta(days=7) - SECOND, "new"),
        (timedelta(days=7), "new"),
        (timedelta(days=7) + SECOND, "active"),
    ],
)
def test_new_ends_after_seven_days_then_active(first_seen, stage):
    person = person_seen(NOW - timedelta(hours=1), first=NOW - first_seen)
    assert stages_of(person) == [stage]


def test_every_seen_person_is_in_exactly_one_stage():
    # Every six hours from a day ahead (a clock a little fast) to 120 days ago, first seen then
    # or long before.
    persons = []
    for quarter in range(-4, 120 * 4):
        last = NOW - timedelta(hours=6 * quarter)
        persons += [person_seen(last), person_seen(last, first=last - timedelta(days=30))]
    held: dict[int, list[str]] = {}
    conditions = dict(Tag.objects.filter(key__in=STAGES).values_list("key", "condition"))
    for key in STAGES:
        for pk in matching_persons(conditions[key], now=NOW).values_list("pk", flat=True):
            held.setdefault(pk, []).append(key)
    assert {len(held.get(p.pk, [])) for p in persons} == {1}


def test_a_person_never_seen_has_no_stage():
    assert stages_of(Person.objects.create()) == []


def test_the_refresh_gives_each_seen_person_one_lifecycle_tag():
    # Relative to the real clock, as the scheduled refresh runs.
    expected = {
        person_seen(ago(days=1)).pk: "new",
        person_seen(ago(days=2), first=ago(days=50)).pk: "active",
        person_seen(ago(days=15), first=ago(days=50)).pk: "cooling",
        person_seen(ago(days=45), first=ago(days=50)).pk: "dormant",
        person_seen(ago(days=200), first=ago(days=300)).pk: "churned",
    }
    refresh_rule_tags(actor=Actor.system("test"), keys=STAGES)
    got = dict(
        TagAssignment.objects.filter(tag__key__in=STAGES).values_list("person_id", "tag__key")
    )
    assert got == expected


def test_preset_names_show_translated_while_they_are_the_default(monkeypatch, admin_client):
    # A stand-in for the catalogue's translation: the admin shows it wherever it names the tag.
    monkeypatch.setitem(PRESET_TAGS, "dormant", ("Dormant", "休眠"))
    tag = Tag.objects.get(key="dormant")
    assert str(tag) == "休眠"
    page = admin_client.get(reverse("admin:profiles_tag_changelist")).content.decode()
    assert "休眠" in page
    tag.name = "Sleeping"
    tag.save()
    assert str(tag) == "Sleeping"  # a name an operator gave is theirs
    assert "Sleeping" in admin_client.get(reverse("admin:profiles_tag_changelist")).content.decode()
