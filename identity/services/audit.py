"""The audit trail: one entry per change, written in the change's own transaction, naming
persons by id and phones only masked."""

from typing import Any

from identity import person_cache
from identity.models import Actor, AuditEntry, Person


def record_audit(
    *,
    actor: Actor,
    action: str,
    person: Person | None = None,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry; call it inside the transaction of the change it describes.

    The entry's person changed: its cached answers are outdated once the change commits.
    """
    if person is not None:
        person_cache.changed([person.pk])
    return AuditEntry.objects.create(
        actor_type=actor.type,
        actor=actor.label,
        action=action,
        person=person,
        target=target or (person.public_id if person else ""),
        before=before,
        after=after,
    )


def person_snapshot(person: Person) -> dict[str, Any]:
    """Describe a person for an audit entry without any personal value in clear."""
    return {
        "id": person.public_id,
        "phone": person.phone_masked,
        "identities": sorted(person.identities.values_list("pk", flat=True)),
        "unionids": sorted(person.unionids.values_list("pk", flat=True)),
        "merged_into": person.merged_into.public_id if person.merged_into_id else None,
    }
