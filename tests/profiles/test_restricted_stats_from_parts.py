"""The person cache derives a restricted key's stats from the per-app parts of its one entry
(`restrict_stats`): the result must equal what the restricted statement computes, for every
set of apps, from raw events and from rollups alike."""

import pytest
from django.utils import timezone

from identity import person_cache
from identity.person_reads import read_person
from profiles.services.prune import prune_events
from tests.profiles.test_restricted_stats import shared, times  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def derived(person_pk: int, app_ids: frozenset[int]) -> dict:
    full = read_person("pks", [[person_pk]], app_parts=True)
    return person_cache._unpack(person_cache._pack(full), app_ids).section_stats


def computed(person_pk: int, app_ids: frozenset[int]) -> dict:
    return read_person("pks", [[person_pk]], allowed_app_ids=set(app_ids)).section_stats


def app_sets(miniprogram, h5, service_account) -> list[frozenset[int]]:
    return [
        frozenset({miniprogram.pk}),
        frozenset({h5.pk}),
        frozenset({miniprogram.pk, h5.pk}),
        frozenset({service_account.pk}),  # no events there: empty stats
    ]


def test_derived_stats_equal_the_restricted_statement(shared, miniprogram, h5, service_account):  # noqa: F811
    for app_ids in app_sets(miniprogram, h5, service_account):
        assert derived(shared.pk, app_ids) == computed(shared.pk, app_ids), app_ids


def test_derived_stats_equal_it_after_events_are_folded_into_rollups(
    shared,  # noqa: F811
    miniprogram,
    h5,
    service_account,
):
    assert prune_events(cutoff=timezone.now()).events_deleted == 4

    for app_ids in app_sets(miniprogram, h5, service_account):
        assert derived(shared.pk, app_ids) == computed(shared.pk, app_ids), app_ids
    assert derived(shared.pk, frozenset({miniprogram.pk}))["stats"]["pay_total"] == "10.00"
