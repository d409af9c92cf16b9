"""identity.seen: resolves tell the registered recorders whom they saw, inside their transaction."""

import pytest
from django.db import connection, transaction

from identity import seen
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded(monkeypatch):
    calls = []

    def recorder(person_ids, at):
        calls.append((list(person_ids), at, connection.in_atomic_block))

    monkeypatch.setattr(seen, "_recorders", {"test": recorder})
    return calls


def test_a_resolve_calls_the_recorders_in_its_transaction(miniprogram, actor, recorded):
    person = resolve_identity(app=miniprogram, openid="oSeen1", actor=actor).person
    [(ids, at, in_transaction)] = recorded
    assert ids == [person.pk]
    assert in_transaction
    assert at is not None


def test_a_resolve_asked_not_to_mark_calls_nobody(miniprogram, actor, recorded):
    resolve_identity(app=miniprogram, openid="oSeen1", actor=actor, seen=False)
    assert recorded == []


def test_no_persons_calls_nobody(recorded):
    seen.record_seen(person_ids=[], at=None)
    assert recorded == []


def test_a_recorder_that_fails_fails_the_resolve(miniprogram, actor, monkeypatch):
    def broken(person_ids, at):
        raise RuntimeError("recorder down")

    monkeypatch.setattr(seen, "_recorders", {"broken": broken})
    with pytest.raises(RuntimeError), transaction.atomic():
        resolve_identity(app=miniprogram, openid="oSeen1", actor=actor)
    from identity.models import Identity

    assert not Identity.objects.filter(openid="oSeen1").exists()
