from django.utils import timezone

from identity.models import Actor, Identity, Person, UnionId
from identity.services.audit import record_audit
from identity.services.locking import lock_persons
from identity.services.person_data import movers
from identity.services.retry import run_atomic_with_retries


def erase_person(*, person: Person, actor: Actor) -> Person:
    """Remove a person's personal data and keep the anonymous row for aggregates.

    Deletes openids and unionids (so those identifiers can later resolve to a new person) and
    the phone; other apps erase what they hang on the person through their registered movers.
    Erasing an erased person changes nothing (idempotent). A merged-away id erases its survivor.
    """
    return run_atomic_with_retries(lambda: _erase(person_pk=person.pk, actor=actor))


def _erase(*, person_pk: int, actor: Actor) -> Person:
    person = lock_persons(person_pk)[person_pk]
    if person.merged_into_id:
        person = lock_persons(person.merged_into_id)[person.merged_into_id]
    if person.erased_at:
        return person
    removed = {
        "identities": Identity.objects.filter(person=person).delete()[0],
        "unionids": UnionId.objects.filter(person=person).delete()[0],
        "phone": person.phone_index is not None,
    }
    for mover in movers():
        if mover.erase is not None:
            mover.erase(person)
    person.phone_encrypted = person.phone_index = None
    person.erased_at = timezone.now()
    person.save(update_fields=["phone_encrypted", "phone_index", "erased_at", "updated_at"])
    record_audit(actor=actor, action="person.erase", person=person, before=removed, after=None)
    return person
