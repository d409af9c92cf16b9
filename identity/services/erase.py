"""Erasure of a person's personal data, whole or (for a key restricted to apps) its apps' part."""

from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from identity import person_cache
from identity.models import Actor, Identity, Person, UnionId
from identity.services.audit import record_audit
from identity.services.erase_traces import erase_traces
from identity.services.locking import lock_live_persons, lock_persons
from identity.services.person_data import movers
from identity.services.retry import run_atomic_with_retries


def erase_person(*, person: Person, actor: Actor) -> Person:
    """Remove a person's personal data and keep the anonymous row for aggregates.

    Deletes openids and unionids (so those identifiers can later resolve to a new person) and
    the phone; other apps erase what they hang on the person through their registered movers
    (tags, event channels and properties); the person's audit entries and merge records lose the
    personal values they quote. Erasing an erased person changes nothing (idempotent). A
    merged-away id erases its survivor.
    """
    return run_atomic_with_retries(lambda: _erase(person_pk=person.pk, actor=actor))


def erase_person_apps(*, person: Person, app_ids: Iterable[int], actor: Actor) -> Person:
    """Erase a person as a key restricted to `app_ids` may: only those apps' part of it.

    Such a key never erases what other apps hold (DESIGN.md, REST API): the openids of its apps
    go, with the events that came through them, and stats are rebuilt from what remains; the
    shared data (unionid, phone, tags) stays while another app holds the person. When no other
    app does, the whole person is erased as by `erase_person`. Repeating changes nothing.
    """
    app_ids = sorted(set(app_ids))
    return run_atomic_with_retries(
        lambda: _erase_apps(person_pk=person.pk, app_ids=app_ids, actor=actor)
    )


def _lock_survivor(person_pk: int) -> Person:
    person = lock_persons(person_pk)[person_pk]
    # Erasure takes keys away (phone, identities): those answering the person now are outdated.
    person_cache.changed([person.pk, person.merged_into_id], removes_keys=True)
    if person.merged_into_id:
        person = lock_live_persons(person.merged_into_id)[person.merged_into_id]
    return person


def _erase(*, person_pk: int, actor: Actor) -> Person:
    person = _lock_survivor(person_pk)
    if person.erased_at:
        return person
    return _erase_locked(person, actor)


def _erase_locked(person: Person, actor: Actor, *, appids: list[str] | None = None) -> Person:
    identities = Identity.objects.filter(person=person)
    unionids = UnionId.objects.filter(person=person)
    # The identifiers as they were, so that the history can be scrubbed of them wherever quoted.
    values = {*identities.values_list("openid", flat=True)}
    values |= {*unionids.values_list("unionid", flat=True)}
    if person.phone_encrypted:
        values |= {person.phone_e164, person.phone_masked}
    removed = {
        "identities": _delete(identities),
        "unionids": _delete(unionids),
        "phone": person.phone_index is not None,
    }
    erased: dict[str, object] = {}
    for mover in movers():
        if mover.erase is not None:
            note = mover.erase(person)
            if note is not None:
                erased[mover.name] = note
    erased.update(erase_traces(person, values))
    if appids is not None:
        erased["apps"] = appids
    person.phone_encrypted = person.phone_index = None
    person.erased_at = timezone.now()
    person.save(update_fields=["phone_encrypted", "phone_index", "erased_at", "updated_at"])
    record_audit(actor=actor, action="person.erase", person=person, before=removed, after=erased)
    return person


def _erase_apps(*, person_pk: int, app_ids: list[int], actor: Actor) -> Person:
    person = _lock_survivor(person_pk)
    if person.erased_at:
        return person
    identities = Identity.objects.filter(person=person)
    doomed = identities.filter(app_id__in=app_ids)
    appids = sorted(doomed.values_list("app__appid", flat=True))
    if not appids:
        return person  # nothing of these apps (left): a repeat changes nothing
    if not identities.exclude(app_id__in=app_ids).exists():
        return _erase_locked(person, actor, appids=appids)
    removed: dict[str, object] = {}
    for mover in movers():
        if mover.erase_apps is not None:
            note = mover.erase_apps(person, app_ids)
            if note is not None:
                removed[mover.name] = note
    removed["identities"] = _delete(doomed)
    person.save(update_fields=["updated_at"])
    record_audit(
        actor=actor,
        action="person.erase_apps",
        person=person,
        before=removed,
        after={"apps": appids},
    )
    return person


def _delete(rows: QuerySet) -> int:
    """Delete and count the rows themselves (not what cascades from them)."""
    return rows.delete()[1].get(rows.model._meta.label, 0)
