"""Row locks on persons, always taken in primary-key order so that concurrent merges, erasures
and event batches cannot deadlock, each checking that what it locked is still live."""

from collections.abc import Collection

from django.db import connection

from identity.exceptions import PersonNotFound
from identity.models import Person
from identity.services.retry import StaleRead


def lock_persons(*pks: int) -> dict[int, Person]:
    """Lock persons in primary-key order, so that concurrent merges cannot deadlock."""
    locked = Person.objects.select_for_update().filter(pk__in=set(pks)).order_by("pk")
    persons = {person.pk: person for person in locked}
    if len(persons) != len(set(pks)):
        raise PersonNotFound()
    return persons


def lock_live_persons(*pks: int) -> dict[int, Person]:
    """Lock persons and insist they are still live; a tombstone means the caller read too early."""
    persons = lock_persons(*pks)
    if any(person.merged_into_id for person in persons.values()):
        raise StaleRead("a person was merged away while the change was being prepared")
    return persons


def share_lock_live_persons(pks: Collection[int]) -> None:
    """Lock persons FOR SHARE in primary-key order and insist they are live (nor erased).

    Writers that only add to persons (event batches) share the lock and run side by side; a
    merge or erasure (FOR UPDATE) waits for them to commit. Raises StaleRead (the caller's
    transaction retries) when a person was merged away or erased after it was read.
    """
    pks = set(pks)
    if not pks:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, merged_into_id IS NULL AND erased_at IS NULL FROM identity_person "
            "WHERE id = ANY(%s) ORDER BY id FOR SHARE",
            [sorted(pks)],
        )
        rows = cursor.fetchall()
    if len(rows) != len(pks) or not all(live for _, live in rows):
        raise StaleRead("a person was merged or erased before it could be locked")


def key_share_lock_persons(pks: Collection[int]) -> None:
    """Lock persons FOR KEY SHARE in primary-key order, before writing rows that refer to them.

    The foreign-key check at COMMIT takes this lock anyway, row by row and only at the end: by
    then a writer that raced a merge (FOR UPDATE on the person, then deleting the person's rows)
    may hold rows the merge waits for while it waits for the merge, a deadlock. Taken first and
    in order, the lock makes the writer wait for the merge before it writes anything.
    """
    if not pks:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM identity_person WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
            [sorted(set(pks))],
        )
