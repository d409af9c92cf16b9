"""Undoing a merge from its record: the loser gets back what it brought, if the graph allows."""

from django.utils import timezone

from identity import person_cache
from identity.exceptions import UndoConflict
from identity.models import Actor, Identity, MergeRecord, Person, UnionId
from identity.services.audit import person_snapshot, record_audit
from identity.services.locking import lock_persons
from identity.services.merge import PHONE_FINGERPRINT_CHARS
from identity.services.person_data import movers
from identity.services.retry import run_atomic_with_retries


def undo_merge(*, record: MergeRecord, actor: Actor) -> MergeRecord:
    """Give the loser of a merge back everything that came from it and make it live again.

    Refuses (UndoConflict, nothing changed) when the graph moved on in a way the record cannot
    reverse: the survivor was merged again (undo that first), erased, or lost moved identifiers.
    """
    return run_atomic_with_retries(lambda: _undo(record_pk=record.pk, actor=actor))


def _undo(*, record_pk: int, actor: Actor) -> MergeRecord:
    record = MergeRecord.objects.select_for_update().get(pk=record_pk)
    if record.undone_at:
        raise UndoConflict("This merge was already undone.", details={"merge": record.pk})
    persons = lock_persons(record.survivor_id, record.loser_id)
    survivor, loser = persons[record.survivor_id], persons[record.loser_id]
    _check_undoable(record, survivor, loser)

    before = {"survivor": person_snapshot(survivor), "loser": person_snapshot(loser)}
    moved = record.moved
    now = timezone.now()
    # The loser comes back first so that identifiers can be handed to a live person.
    loser.merged_into = None
    loser.merged_at = None
    if moved.get("phone"):
        phone = (survivor.phone_encrypted, survivor.phone_index)
        survivor.phone_encrypted = survivor.phone_index = None
        survivor.save(update_fields=["phone_encrypted", "phone_index", "updated_at"])
        loser.phone_encrypted, loser.phone_index = phone
    loser.save()

    Identity.objects.filter(pk__in=moved.get("identities", [])).update(person=loser, updated_at=now)
    UnionId.objects.filter(pk__in=moved.get("unionids", [])).update(person=loser)
    Person.objects.filter(pk__in=moved.get("tombstones", []), merged_into=survivor).update(
        merged_into=loser
    )
    for mover in movers():
        if mover.name in moved:
            mover.undo(survivor, loser, moved)

    record.undone_at = now
    record.undone_by = str(actor)
    record.save(update_fields=["undone_at", "undone_by"])
    person_cache.changed([survivor.pk])  # it loses what goes back to the loser
    record_audit(
        actor=actor,
        action="merge.undo",
        person=loser,
        before=before,
        after={
            "survivor": person_snapshot(survivor),
            "loser": person_snapshot(loser),
            "merge_record": record.pk,
        },
    )
    return record


def _check_undoable(record: MergeRecord, survivor: Person, loser: Person) -> None:
    details = {"merge": record.pk}
    if survivor.merged_into_id:
        later = MergeRecord.objects.filter(loser=survivor, undone_at__isnull=True).first()
        raise UndoConflict(
            "The survivor was merged into another person since; undo that merge first.",
            details={**details, "undo_first": later.pk if later else None},
        )
    if survivor.erased_at or loser.erased_at:
        raise UndoConflict("A person of this merge was erased.", details=details)
    if loser.merged_into_id != survivor.pk:
        raise UndoConflict("The loser no longer points at the survivor.", details=details)
    moved = record.moved
    identity_ids = moved.get("identities", [])
    if Identity.objects.filter(pk__in=identity_ids, person=survivor).count() != len(identity_ids):
        raise UndoConflict("Identities of the loser changed since the merge.", details=details)
    unionid_ids = moved.get("unionids", [])
    if UnionId.objects.filter(pk__in=unionid_ids, person=survivor).count() != len(unionid_ids):
        raise UndoConflict("Unionids of the loser changed since the merge.", details=details)
    fingerprint = moved.get("phone")
    if fingerprint and (survivor.phone_index or "")[:PHONE_FINGERPRINT_CHARS] != fingerprint:
        raise UndoConflict("The merged phone number changed since the merge.", details=details)
