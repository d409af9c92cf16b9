"""The person page's "Why": each rule tag and segment, leaf by leaf, held or not, in 3 queries.

Its answers are the refresh's (the condition tests' population, leaf by leaf), read with the
person's own rows, shown only to staff who may view tags or segments and only for live persons.
"""

import json
import re
from contextlib import contextmanager

import psycopg
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from identity.models import Actor, Person
from identity.services.erase import erase_person
from identity.services.merge import merge_persons
from profiles.admin.person_why import why, why_section
from profiles.conditions import matching_persons
from profiles.conditions.explain import explain_person
from profiles.conditions.grammar import MAX_NODES
from profiles.models import Event, PersonStats, Segment, Tag, TagAssignment, TagKind
from profiles.services.rules import refresh_rule_tags
from tests.clock import ago
from tests.factories import PersonFactory
from tests.profiles.test_conditions import (
    COMBINATOR_CASES,
    LEAF_CASES,
    population,  # noqa: F401 - a fixture
)

pytestmark = pytest.mark.django_db

PHONE_NOT_VIP = {"all": [{"has_phone": True}, {"not": {"tag": "vip"}}]}
BUYER_OR_RECENT = {
    "any": [
        {"field": "pay_count", "op": ">=", "value": 2},
        {"field": "last_seen_at", "op": "within_days", "value": 3},
    ]
}


@pytest.fixture
def rules():
    tag = Tag.objects.create(
        key="phone-not-vip", name="Phone, not VIP", kind=TagKind.RULE, condition=PHONE_NOT_VIP
    )
    segment = Segment.objects.create(key="buyers", name="Buyers", condition=BUYER_OR_RECENT)
    return tag, segment


def by_key(explained, kind):
    return {item.key: item for item in explained if item.kind == kind}


def test_each_leaf_and_group_is_marked_for_the_person(rules):
    person = PersonFactory(phone="+8613800138000")
    PersonStats.objects.create(person=person, pay_count=1, last_seen_at=ago(days=1))

    explained = explain_person(person)

    tag = by_key(explained, "tag")["phone-not-vip"]
    assert tag.tree.kind == "all"
    assert tag.tree.held is True
    has_phone, negation = tag.tree.children
    assert (has_phone.kind, has_phone.held, has_phone.text) == ("leaf", True, "has a phone number")
    assert (negation.kind, negation.held, negation.children[0].held) == ("not", True, False)
    segment = by_key(explained, "segment")["buyers"]
    assert segment.tree.held is True
    assert [leaf.held for leaf in segment.tree.children] == [False, True]


def test_the_holding_and_a_condition_that_lags_it(rules):
    tag, _ = rules
    person = PersonFactory(phone="+8613800138000")
    explained = by_key(explain_person(person), "tag")[tag.key]
    # Created without a refresh: the condition holds but the tag is not held yet.
    assert (explained.tree.held, explained.holds, explained.differs) == (True, False, True)

    refresh_rule_tags(actor=Actor.system("test"), keys=[tag.key])
    explained = by_key(explain_person(person), "tag")[tag.key]
    assert (explained.holds, explained.differs) == (True, False)
    assert explained.last_refreshed_at is not None


def test_three_queries_whatever_the_number_of_conditions(rules, django_assert_num_queries):
    person = PersonFactory()
    with django_assert_num_queries(3):
        few = explain_person(person)
    for number in range(20):
        Tag.objects.create(
            key=f"rule-{number}",
            name=f"Rule {number}",
            kind=TagKind.RULE,
            condition={"event": "pay", "within_days": number + 1, "min_count": 1},
        )
        Segment.objects.create(
            key=f"segment-{number}", name="s", condition={"tag": f"rule-{number}"}
        )
    with django_assert_num_queries(3):
        many = explain_person(person)
    assert len(many) == len(few) + 40


def test_a_condition_stored_before_todays_bounds_reads_as_unknown(rules):
    Tag.objects.filter(key="phone-not-vip").update(
        condition={"all": [{"has_phone": True}, {"field": "no_such_field", "op": "=", "value": 1}]}
    )
    person = PersonFactory(phone="+8613800138000")
    tag = by_key(explain_person(person), "tag")["phone-not-vip"]
    assert [leaf.held for leaf in tag.tree.children] == [True, None]
    assert tag.tree.held is None
    assert not tag.differs


def test_the_person_page_shows_the_section(rules, admin_client):
    _tag, _ = rules
    person = PersonFactory(phone="+8613800138000")
    TagAssignment.objects.create(person=person, tag=Tag.objects.get(key="vip"), source="admin")

    page = admin_client.get(reverse("admin:identity_person_change", args=[person.pk]))

    html = page.content.decode()
    block = re.search(
        r'<div class="why-rule"[^>]*data-why-key="phone-not-vip".*?</ul>\s*</div>', html, re.S
    )
    assert block is not None
    assert 'data-why-result="not-held"' in block.group(0)
    assert 'data-why-holds="no"' in block.group(0)
    assert 'data-why-node="leaf" data-why-held="true"' in block.group(0)  # has a phone
    assert 'data-why-node="not" data-why-held="false"' in block.group(0)  # but holds vip
    assert 'data-why-kind="segment" data-why-key="buyers"' in html


# --- the same answer as the refresh --------------------------------------------------------

AGREEMENT_CASES = [(name, condition) for name, condition, _ in LEAF_CASES + COMBINATOR_CASES]


def test_each_result_is_the_refreshs_membership(population):  # noqa: F811
    # Given every leaf kind and combinator of the condition tests as segments
    for number, (_name, condition) in enumerate(AGREEMENT_CASES):
        Segment.objects.create(key=f"case-{number}", name=f"Case {number}", condition=condition)

    for person in vars(population).values():
        # When the person's page explains them
        explained = by_key(explain_person(person), "segment")
        # Then each segment reads held exactly when the refresh's filter matches the person
        for number, (name, condition) in enumerate(AGREEMENT_CASES):
            member = matching_persons(condition).filter(pk=person.pk).exists()
            assert explained[f"case-{number}"].tree.held is member, (name, person.pk)


def test_an_event_leaf_reads_only_the_persons_events(population):  # noqa: F811
    # Given an event leaf, both bounded ("at least once") and negated ("at most once")
    Segment.objects.create(
        key="paid", name="Paid", condition={"event": "pay", "within_days": 90, "min_count": 1}
    )
    Segment.objects.create(
        key="rarely", name="Rarely", condition={"event": "pay", "within_days": 90, "max_count": 1}
    )
    with CaptureQueriesContext(connection) as captured:
        explain_person(population.alice)
    (statement,) = [q["sql"] for q in captured.captured_queries if "leaf_0" in q["sql"]]

    # When PostgreSQL plans the statement the page runs
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}")
        plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)

    # Then every scan of the events is bounded by the person (an index probe or a filter),
    # never a count over everyone's events of that type
    scans = [node for node in plan_nodes(plan[0]["Plan"]) if is_event_scan(node)]
    assert scans
    for scan in scans:
        bounds = " ".join(scan.get(key, "") for key in ("Index Cond", "Filter", "Recheck Cond"))
        assert re.search(r"\bperson_id = ", bounds), scan


def plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def is_event_scan(node: dict) -> bool:
    return str(node.get("Relation Name", "")).startswith(Event._meta.db_table)


# --- what the section shows, and to whom ---------------------------------------------------


def test_an_unsound_tree_reads_unknown_at_its_root_though_its_leaves_hold(rules):
    # Given trees that the compiler refuses as a whole, every leaf of which holds
    too_many = {"any": [{"has_phone": True}] * (MAX_NODES + 1)}
    extra_key = {"all": [{"has_phone": True}], "note": "kept from an old editor"}
    Segment.objects.create(key="too-many", name="Too many", condition=too_many)
    Segment.objects.create(key="extra-key", name="Extra key", condition=extra_key)
    person = PersonFactory(phone="+8613800138000")

    explained = by_key(explain_person(person), "segment")

    for key in ("too-many", "extra-key"):
        tree = explained[key].tree
        assert tree.held is None
        assert {child.held for child in tree.children} == {True}


def test_nothing_is_explained_for_a_merged_or_erased_person(
    rules, actor, django_assert_num_queries
):
    survivor, merged, erased = PersonFactory(), PersonFactory(), PersonFactory()
    merge_persons(first=survivor, second=merged, reason="manual", actor=actor)
    erase_person(person=erased, actor=actor)

    for tombstone in (merged, erased):
        tombstone.refresh_from_db()
        with django_assert_num_queries(0):
            assert explain_person(tombstone) == []
    assert explain_person(survivor)


def test_the_page_says_a_tombstone_has_no_rule_tags(rules, admin_client, actor):
    survivor, merged = PersonFactory(), PersonFactory()
    merge_persons(first=survivor, second=merged, reason="manual", actor=actor)

    html = admin_client.get(change_url(merged)).content.decode()

    assert "data-why-tombstone" in html
    assert "data-why-kind=" not in html


@pytest.mark.parametrize(
    ("codenames", "shown"),
    [
        ((), set()),
        (("view_tag",), {"tag"}),
        (("change_tag",), {"tag"}),
        (("view_segment",), {"segment"}),
        (("change_segment",), {"segment"}),
        (("view_tag", "view_segment"), {"tag", "segment"}),
    ],
)
def test_staff_see_only_the_rule_tags_and_segments_they_may_view(rules, codenames, shown):
    # Given staff who may view persons, and some of tags and segments
    staff = User.objects.create_user("viewer", password="x", is_staff=True)
    for codename in ("view_person", *codenames):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(staff)
    person = PersonFactory(phone="+8613800138000")

    # When they open the person
    html = client.get(change_url(person)).content.decode()

    # Then the section lists only those
    assert set(re.findall(r'data-why-kind="(\w+)"', html)) == shown
    assert ('data-why-key="phone-not-vip"' in html) == ("tag" in shown)
    assert ('data-why-key="buyers"' in html) == ("segment" in shown)
    assert ("data-why-hidden" in html) == (not shown)


def test_a_section_without_a_viewer_shows_nothing(rules):
    """The display outside a page's request (no viewer remembered) guesses no permissions."""
    person = PersonFactory()
    assert why(Person.objects.get(pk=person.pk)) is None


@pytest.mark.pg_timers  # statement_timeout: PostgreSQL timers stop under libfaketime
def test_a_reading_stopped_by_the_timeout_says_so_and_the_page_goes_on(rules, admin_user, settings):
    # Given the stats table locked by another session and a short statement timeout
    settings.CONDITION_STATEMENT_TIMEOUT_MS = 200
    person = PersonFactory()
    request = RequestFactory().get("/")
    request.user = admin_user
    with locked(PersonStats._meta.db_table):
        # When the section is read
        html = why_section(request, person)

    # Then it says it could not be evaluated in time, and the connection is usable
    assert "data-why-timed-out" in html
    assert "could not be evaluated in time" in html
    assert Segment.objects.filter(key="buyers").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone()[0] != "200ms"


@contextmanager
def locked(table: str):
    """Hold an exclusive lock on a table from a second connection to the test database."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=False) as other:
        other.execute("SET lock_timeout = '5s'")
        other.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        try:
            yield
        finally:
            other.rollback()


def change_url(person) -> str:
    return reverse("admin:identity_person_change", args=[person.pk])
