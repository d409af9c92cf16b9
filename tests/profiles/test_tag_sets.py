"""Tagging the persons a query names (profiles.services.tag_sets): the report cells' tags.

The query here is a plain list of person ids; the reports' cell queries are tested through
the analytics API (tests/analytics/test_api.py).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from identity.exceptions import InvalidInput
from identity.models import AuditEntry, Person
from profiles.models import Tag, TagAssignment, TagKind, TagSource
from profiles.services.tag_sets import RuleTagConflict, tag_persons_of_query
from profiles.services.tags import assign_tags
from tests.factories import SYSTEM, PersonFactory, TagFactory, TagGroupFactory

pytestmark = pytest.mark.django_db
WHAT = {"report": "retention", "cell": {"cohort": "2026-09-07", "offset": "2"}}


def _tag(persons, key: str = "cell", **kwargs) -> int:
    return tag_persons_of_query(
        person_sql="SELECT unnest(%s::bigint[]) AS person_id",
        params=[[person.pk for person in persons]],
        key=key,
        actor=SYSTEM,
        source=TagSource.API,
        what=WHAT,
        **kwargs,
    )


def _holders(key: str) -> set[int]:
    return set(TagAssignment.objects.filter(tag__key=key).values_list("person_id", flat=True))


def test_a_new_key_creates_a_manual_tag_in_no_group_and_tags_the_set():
    persons = PersonFactory.create_batch(3)

    count = _tag([*persons, persons[0]], name="Came back")

    assert count == 3  # each person once
    tag = Tag.objects.get(key="cell")
    assert (tag.kind, tag.name, tag.group_id) == (TagKind.MANUAL, "Came back", None)
    assert _holders("cell") == {person.pk for person in persons}
    assignment = TagAssignment.objects.filter(tag=tag).first()
    assert (assignment.source, assignment.expires_at) == (TagSource.API, None)


def test_the_name_defaults_to_the_key_and_an_empty_set_still_creates_the_tag():
    assert _tag([]) == 0
    assert Tag.objects.get(key="cell").name == "cell"


def test_the_audit_records_the_set_and_its_counts_never_the_persons():
    persons = PersonFactory.create_batch(2)

    _tag(persons)

    created = AuditEntry.objects.get(action="tag.create", target="cell")
    assert created.after == {"name": "cell", "kind": TagKind.MANUAL, "group": None}
    assigned = AuditEntry.objects.get(action="tag.assign_set", target="cell")
    assert assigned.after == {**WHAT, "persons": 2, "tagged": 2}
    assert all(person.public_id not in str(assigned.after) for person in persons)


def test_merged_away_and_erased_persons_count_but_are_not_tagged():
    survivor, merged, erased = PersonFactory.create_batch(3)
    Person.objects.filter(pk=merged.pk).update(merged_into=survivor)
    Person.objects.filter(pk=erased.pk).update(erased_at=timezone.now())

    assert _tag([survivor, merged, erased]) == 3
    assert _holders("cell") == {survivor.pk}
    assert AuditEntry.objects.get(action="tag.assign_set").after["tagged"] == 1


def test_a_holder_keeps_the_tag_and_its_time_and_loses_its_expiry():
    TagFactory(key="cell")
    holder, other = PersonFactory.create_batch(2)
    assign_tags(
        person=holder, keys=["cell"], actor=SYSTEM, expires_at=timezone.now() + timedelta(days=1)
    )
    before = TagAssignment.objects.get(person=holder)

    assert _tag([holder, other]) == 2

    after = TagAssignment.objects.get(person=holder)
    assert after.assigned_at == before.assigned_at
    assert after.expires_at is None
    assert _holders("cell") == {holder.pk, other.pk}
    assert not AuditEntry.objects.filter(action="tag.create").exists()


def test_a_tag_of_an_exclusive_group_displaces_the_others_of_the_group():
    group = TagGroupFactory(key="tier", exclusive=True)
    TagFactory(key="gold", group=group)
    TagFactory(key="silver", group=group)
    person = PersonFactory()
    assign_tags(person=person, keys=["silver"], actor=SYSTEM)

    _tag([person], key="gold")

    held = TagAssignment.objects.filter(person=person).values_list("tag__key", flat=True)
    assert list(held) == ["gold"]


def test_a_rule_tag_is_refused_and_nothing_changes():
    TagFactory(key="cell", rule=True)
    person = PersonFactory()

    with pytest.raises(RuleTagConflict) as raised:
        _tag([person])

    assert (raised.value.status, raised.value.code) == (409, "rule_tag")
    assert _holders("cell") == set()
    assert not AuditEntry.objects.filter(action="tag.assign_set").exists()


@pytest.mark.parametrize(
    ("key", "name", "field"),
    [
        ("two words", None, "tag"),
        ("", None, "tag"),
        ("x" * 33, None, "tag"),
        ("cell", "   ", "name"),
        ("cell", "n" * 101, "name"),
        ("cell", "a\x00b", "name"),
    ],
)
def test_a_bad_key_or_name_is_refused_naming_it(key, name, field):
    with pytest.raises(InvalidInput) as raised:
        _tag(PersonFactory.create_batch(1), key=key, name=name)

    assert field in raised.value.details
    assert not Tag.objects.filter(key=key).exists()
