"""The person list's search: openid and unionid prefixes in any case, on their indexes."""

import pytest
from django.db import connection
from django.urls import reverse

from identity.admin.person_search import search_persons
from identity.models import Identity, Person, UnionId
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:identity_person_changelist")


def search(admin_client, term: str, **headers) -> set[str]:
    response = admin_client.get(CHANGELIST, {"q": term}, **headers)
    assert response.status_code == 200
    return {person.public_id for person in response.context["cl"].result_list}


@pytest.fixture
def two(miniprogram, service_account):
    """Two persons whose openids and unionids share their beginnings but not their case."""
    first = PersonFactory(
        openids={miniprogram: "oAbCdef111", service_account: "oSvcQQ1"}, unionid="uNionXY_1"
    )
    second = PersonFactory(openids={miniprogram: "oabxyz222"}, unionid="uNionZZ-2")
    return first, second


@pytest.mark.parametrize("term", ["oAbC", "OABC", "oabc", "oabcDEF111"])
def test_an_openid_prefix_finds_its_person_in_any_case(admin_client, two, term):
    first, _second = two

    assert search(admin_client, term) == {first.public_id}


def test_a_shared_prefix_finds_both_persons(admin_client, two):
    first, second = two

    assert search(admin_client, "OAB") == {first.public_id, second.public_id}
    assert search(admin_client, "unionz") == {second.public_id}
    assert search(admin_client, "UNION") == {first.public_id, second.public_id}


def test_a_unionid_prefix_finds_its_person_in_any_case(admin_client, two):
    first, _second = two

    assert search(admin_client, "unionxy_") == {first.public_id}


def test_the_middle_of_an_openid_is_not_a_prefix(admin_client, two):
    assert search(admin_client, "Cdef111") == set()
    assert search(admin_client, "ion") == set()


def test_like_wildcards_in_the_term_are_literal(admin_client, two):
    # "_" and "%" are LIKE wildcards; in a term they stand for themselves.
    assert search(admin_client, "uNionXY%") == set()
    assert search(admin_client, "oab_yz") == set()


def test_short_terms_match_exactly(admin_client, miniprogram):
    short = PersonFactory(openids={miniprogram: "oA"})
    PersonFactory(openids={miniprogram: "oAlonger"})

    assert search(admin_client, "oA") == {short.public_id}
    assert search(admin_client, "oa") == set()


def test_the_public_id_still_matches_exactly_in_any_case(admin_client, two):
    first, _second = two

    assert search(admin_client, first.public_id) == {first.public_id}
    assert search(admin_client, first.public_id.upper()) == {first.public_id}
    assert search(admin_client, first.public_id[:-1]) == set()


def test_a_merged_away_openid_finds_the_survivor_by_prefix(admin_client, two):
    first, _second = two
    tombstone = PersonFactory()
    Person.objects.filter(pk=tombstone.pk).update(merged_into=first)

    assert search(admin_client, "oSvcq") == {first.public_id}


def test_the_help_text_says_what_the_search_matches(admin_client):
    html = admin_client.get(CHANGELIST).content.decode()

    assert "the start of an openid or unionid" in html
    assert "any case" in html


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_prefix_search_reads_the_expression_indexes(two):
    # Given the SQL that Django emits for the search (UPPER(openid::text) LIKE UPPER('oab%'))
    queryset = search_persons(Person.objects.all(), "oab")

    # Then, with sequential scans ruled out, PostgreSQL reads the prefix indexes of the
    # migration rather than scanning every identity and unionid
    plan = _plan(queryset)
    assert "identity_openid_upper_prefix" in plan
    assert "unionid_upper_prefix" in plan


@pytest.mark.parametrize(
    ("model", "field", "index"),
    [
        (Identity, "openid", "identity_openid_upper_prefix"),
        (UnionId, "unionid", "unionid_upper_prefix"),
    ],
)
def test_each_istartswith_lookup_uses_its_index(two, model, field, index):
    plan = _plan(model.objects.filter(**{f"{field}__istartswith": "OAB"}).values("person_id"))

    assert index in plan
