"""The rule refresh after a merge waits for a concurrent merge of the same person before it writes
anything. Written first and checked at COMMIT (the deferred foreign-key check), its assignments
would be what the other merge's DELETE waits for while the refresh waits for that merge: a
deadlock that PostgreSQL breaks only after deadlock_timeout, failing one side."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from identity.models import Person
from profiles.models import TagAssignment
from profiles.services.person_tags import refresh_rules_of
from tests.factories import PersonFactory, TagFactory

# serialized_rollback: the flush after a transactional test must not drop migration data
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _lock_waits(exclude_pid: int) -> list[str]:
    """The statements of other backends of this database that wait for a lock."""
    with connections["default"].cursor() as cursor:
        # Inside a transaction the activity view is a snapshot taken at its first read.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> %s AND wait_event_type = 'Lock'",
            [exclude_pid],
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_refresh_after_a_merge_waits_for_a_concurrent_merge_before_writing():
    # Given a person who matches a rule tag, and a merge of that person under way (FOR UPDATE)
    rule = TagFactory(key="has-phone", rule=True)  # matches persons with a phone
    person = PersonFactory(phone="+8613800138000")
    done = threading.Event()

    def refresh():
        try:
            refresh_rules_of([person.pk])
        finally:
            done.set()
            connections.close_all()

    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        merge_pid = connection.connection.info.backend_pid

        # When the refresh starts meanwhile
        worker = threading.Thread(target=refresh)
        worker.start()
        deadline = time.monotonic() + 30
        while not (waits := _lock_waits(merge_pid)) and not done.is_set():
            assert time.monotonic() < deadline, "the refresh neither waited nor finished"
            time.sleep(0.01)

        # Then it waits on the person's lock, before writing, not at COMMIT after writing
        assert not done.is_set()
        assert len(waits) == 1
        assert "FOR KEY SHARE" in waits[0]
        assert not TagAssignment.objects.filter(tag=rule).exists()

    # And once the merge commits, the refresh completes
    worker.join(timeout=30)
    assert done.is_set()
    assert TagAssignment.objects.filter(tag=rule, person=person).exists()
