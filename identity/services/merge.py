"""Merging two persons into the older one, with the record that lets an admin undo it."""

from collections.abc import Collection

from django.utils import timezone

from identity.exceptions import MergeConflict, PersonErased
from identity.merge_conflicts import merge_conflicts
from identity.models import Actor, Identity, MergeReason, MergeRecord, Person, UnionId
from identity.selectors import live_pks
from identity.services.audit import person_snapshot, record_audit
from identity.services.locking import lock_live_persons
from identity.services.person_data import movers
from identity.services.retry import run_atomic_with_retries

PHONE_FINGERPRINT_CHARS = 16


def merge_persons(*, first: Person, second: Person, reason: str, actor: Actor) -> MergeRecord:
    """Merge two persons into the older one, recording everything that moved.

    The younger person becomes a tombstone pointing at the survivor, so its public id keeps
    working; tombstones that pointed at it are repointed (one hop always reaches a live person).
    Raises MergeConflict, changing nothing, when the result would hold two openids of one app,
    two unionids of one platform or two phone numbers.
    """
    if reason not in MergeReason.values:
        raise ValueError(f"unknown merge reason {reason!r}")
    return run_atomic_with_retries(
        lambda: _merge(first_pk=first.pk, second_pk=second.pk, reason=reason, actor=actor)
    )


def _merge(
    *,
    first_pk: int,
    second_pk: int,
    reason: str,
    actor: Actor,
    note: dict | None = None,
    visible_app_ids: Collection[int] | None = None,
) -> MergeRecord:
    """Merge inside the caller's transaction; `note` adds context to the single audit entry.

    `visible_app_ids` limits what a conflict answer names to the caller's apps.
    """
    first_pk, second_pk = live_pks(first_pk, second_pk)
    if first_pk == second_pk:
        raise MergeConflict("The two persons are already one.", details={"already_merged": True})
    persons = lock_live_persons(first_pk, second_pk)
    if any(person.erased_at for person in persons.values()):
        raise PersonErased()
    survivor, loser = sorted(persons.values(), key=lambda p: (p.created_at, p.pk))
    conflicts = merge_conflicts(survivor, loser, visible_app_ids=visible_app_ids)
    if conflicts:
        raise MergeConflict(details=conflicts)

    before = {"survivor": person_snapshot(survivor), "loser": person_snapshot(loser)}
    moved: dict[str, object] = {
        "identities": sorted(loser.identities.values_list("pk", flat=True)),
        "unionids": sorted(loser.unionids.values_list("pk", flat=True)),
        "tombstones": sorted(loser.absorbed.values_list("pk", flat=True)),
        "phone": None,
    }
    # Other apps' data moves first, while the loser still owns what `moved` lists.
    for mover in movers():
        moved[mover.name] = mover.move(loser, survivor, moved)
    Identity.objects.filter(person=loser).update(person=survivor, updated_at=timezone.now())
    UnionId.objects.filter(person=loser).update(person=survivor)
    Person.objects.filter(merged_into=loser).update(merged_into=survivor)

    if loser.phone_index:
        moved["phone"] = loser.phone_index[:PHONE_FINGERPRINT_CHARS]
        phone = (loser.phone_encrypted, loser.phone_index)
        loser.phone_encrypted = loser.phone_index = None
        loser.save(update_fields=["phone_encrypted", "phone_index", "updated_at"])
        survivor.phone_encrypted, survivor.phone_index = phone
        survivor.save(update_fields=["phone_encrypted", "phone_index", "updated_at"])

    loser.merged_into = survivor
    loser.merged_at = timezone.now()
    loser.save(update_fields=["merged_into", "merged_at", "updated_at"])
    Person.objects.filter(pk=survivor.pk).update(updated_at=timezone.now())

    record = MergeRecord.objects.create(
        survivor=survivor, loser=loser, reason=reason, moved=moved, actor=str(actor)
    )
    record_audit(
        actor=actor,
        action="person.merge",
        person=survivor,
        before=before,
        after={"survivor": person_snapshot(survivor), "merge_record": record.pk, **(note or {})},
    )
    return record
