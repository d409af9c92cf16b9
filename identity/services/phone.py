"""Phone binding under the phone policy of DESIGN.md: bind, merge, move or refuse."""

from collections.abc import Collection
from typing import Literal

from identity import crypto, person_cache
from identity.exceptions import PersonErased, PhoneConflict
from identity.merge_conflicts import merge_conflicts
from identity.models import Actor, MergeReason, Person
from identity.phones import mask_phone, normalize_phone
from identity.selectors import visible_in
from identity.services.audit import record_audit
from identity.services.locking import lock_live_persons
from identity.services.merge import _merge
from identity.services.retry import run_atomic_with_retries

OnConflict = Literal["merge", "move", "fail"]
ON_CONFLICT_CHOICES = ("merge", "move", "fail")


def bind_phone(
    *,
    person: Person,
    phone: str,
    on_conflict: OnConflict = "merge",
    actor: Actor,
    confined_to: Collection[int] | None = None,
) -> Person:
    """Bind a phone number to a live person, following the phone policy of DESIGN.md.

    - number free: bind it (replacing the person's previous number, if any);
    - held by another person that can be merged: merge (`on_conflict="merge"`, the default);
    - held by a person with another unionid or openid in the same app: 409 phone_conflict;
      `on_conflict="move"` moves the number instead (recycled numbers), `"fail"` never merges.
    Returns the live person that holds the number afterwards.

    `confined_to` is the caller's apps when it may act on those only (a restricted API key with
    a number it was merely told): a number held by a person outside them is then neither merged
    in nor moved away (409 phone_conflict, naming no app). A number from WeChat's phone code
    exchange passes None: the platform vouches that it is this user's now.
    """
    if on_conflict not in ON_CONFLICT_CHOICES:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT_CHOICES}")
    normalized = normalize_phone(phone)
    return run_atomic_with_retries(
        lambda: _bind(
            person_pk=person.pk,
            e164=normalized.e164,
            index=normalized.index,
            on_conflict=on_conflict,
            actor=actor,
            confined_to=confined_to,
        )
    )


def _bind(
    *, person_pk: int, e164: str, index: str, on_conflict: str, actor: Actor, confined_to
) -> Person:
    holder_pk = Person.objects.filter(phone_index=index).values_list("pk", flat=True).first()
    pks = [person_pk] if holder_pk in (None, person_pk) else [person_pk, holder_pk]
    persons = lock_live_persons(*pks)
    # A number changed or moved leaves its former key to no one (or to another person).
    person_cache.changed(pks, removes_keys=True)
    person = persons[person_pk]
    if person.erased_at:
        raise PersonErased()
    if holder_pk == person_pk and person.phone_index == index:
        return person
    holder = persons.get(holder_pk) if holder_pk != person_pk else None
    if holder is None:
        return _set_phone(person, e164, index, actor, action="phone.bind")
    if holder.phone_index != index:
        # The holder changed number between the read and the lock: bind as if free.
        return _set_phone(person, e164, index, actor, action="phone.bind")
    if not visible_in(holder.pk, confined_to):
        raise PhoneConflict(
            details={"phone": ["The number belongs to a person outside this API key's apps."]}
        )
    if on_conflict == "move":
        _clear_phone(holder)
        return _set_phone(
            person, e164, index, actor, action="phone.move", note={"moved_from": holder.public_id}
        )
    if on_conflict == "fail":
        raise PhoneConflict(details={"phone": ["The number belongs to another person."]})
    conflicts = merge_conflicts(person, holder, visible_app_ids=confined_to)
    conflicts.pop("phone", None)  # the person's own old number gives way to the new one
    if conflicts:
        raise PhoneConflict(
            details={"phone": ["The number belongs to another person."], **conflicts}
        )
    note = {"phone_bound_by": person.public_id}
    if person.phone_index:
        note["phone_replaced"] = person.phone_masked
        _clear_phone(person)
    record = _merge(
        first_pk=person.pk,
        second_pk=holder.pk,
        reason=MergeReason.PHONE,
        actor=actor,
        note=note,
        visible_app_ids=confined_to,
    )
    return Person.objects.get(pk=record.survivor_id)


def _clear_phone(person: Person) -> None:
    person.phone_encrypted = person.phone_index = None
    person.save(update_fields=["phone_encrypted", "phone_index", "updated_at"])


def _set_phone(
    person: Person, e164: str, index: str, actor: Actor, *, action: str, note: dict | None = None
) -> Person:
    before = {"phone": person.phone_masked}
    person.phone_encrypted = crypto.encrypt(e164)
    person.phone_index = index
    person.save(update_fields=["phone_encrypted", "phone_index", "updated_at"])
    after = {"phone": mask_phone(e164), **(note or {})}
    record_audit(actor=actor, action=action, person=person, before=before, after=after)
    return person
