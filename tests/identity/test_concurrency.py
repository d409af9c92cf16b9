"""Races on a real PostgreSQL: many threads, each with its own connection and transaction."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from identity.exceptions import MergeConflict
from identity.models import Identity, MergeRecord, Person, UnionId
from identity.services.merge import merge_persons
from identity.services.resolve import resolve_identity

# serialized_rollback: the flush after a transactional test must not drop migration data
# (the built-in event types) that later tests rely on.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THREADS = 50


def run_in_threads(count, work):
    """Start `count` threads at one barrier and return their results (re-raising errors)."""
    barrier = threading.Barrier(count)

    def runner(index):
        try:
            barrier.wait(timeout=30)
            return work(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(runner, range(count)))


def test_fifty_threads_resolving_one_new_openid_make_one_person(miniprogram, actor):
    results = run_in_threads(
        THREADS, lambda _: resolve_identity(app=miniprogram, openid="oRace", actor=actor)
    )
    assert len({result.person.pk for result in results}) == 1
    assert sum(result.created for result in results) == 1
    assert Person.objects.count() == 1
    assert Identity.objects.count() == 1


def test_fifty_threads_with_one_new_unionid_make_one_person(make_app, actor):
    apps = [make_app(f"wx{index:016x}") for index in range(THREADS)]
    results = run_in_threads(
        THREADS,
        lambda index: resolve_identity(
            app=apps[index], openid=f"oRace{index}", unionid="oSharedUnion", actor=actor
        ),
    )
    assert len({result.person.pk for result in results}) == 1
    assert Person.objects.live().count() == 1
    assert Identity.objects.count() == THREADS
    assert UnionId.objects.count() == 1


def test_concurrent_merges_neither_deadlock_nor_lose_identities(make_app, actor):
    apps = [make_app(f"wx{index:016x}") for index in range(12)]
    persons = [
        resolve_identity(app=app, openid=f"oPerson{index}", actor=actor).person
        for index, app in enumerate(apps)
    ]
    rng = random.Random(42)
    pairs = [tuple(rng.sample(persons, 2)) for _ in range(40)]

    def merge(index):
        first, second = pairs[index]
        try:
            merge_persons(first=first, second=second, reason="manual", actor=actor)
        except MergeConflict:
            return "conflict"
        except Exception as exc:
            return repr(exc)
        return "merged"

    outcomes = run_in_threads(len(pairs), merge)

    assert set(outcomes) <= {"merged", "conflict"}, outcomes  # no deadlock or error escaped
    assert Identity.objects.count() == len(apps)  # nothing lost
    live = Person.objects.live()
    assert all(Identity.objects.filter(person__merged_into__isnull=False).count() == 0 for _ in [0])
    assert Identity.objects.filter(person__in=live).count() == len(apps)
    tombstones = Person.objects.filter(merged_into__isnull=False)
    assert not tombstones.filter(merged_into__merged_into__isnull=False).exists()  # one hop
    assert MergeRecord.objects.count() == tombstones.count()
