"""The persons a batch of events is about, resolved and locked in a constant number of queries.

Events name their person by (app, openid), creating person and identity on first sight, or by
public person id (a merged-away id gives the survivor). The persons are then locked FOR SHARE in
id order: a merge or erasure of one of them (FOR UPDATE) waits for the batch to commit, so no
event lands on a person that stopped being live.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from django.db import connection

from identity.models import Actor, App, Identity, Person
from identity.services.bulk_resolve import bulk_resolve
from identity.services.locking import share_lock_live_persons
from identity.services.retry import StaleRead

OpenidKey = tuple[int, str]  # (app pk, openid)


@dataclass
class EventSubjects:
    """Locked, live subjects: the caller's transaction keeps them so until it ends."""

    by_openid: dict[OpenidKey, tuple[int, int]] = field(default_factory=dict)  # (person, identity)
    failed: dict[OpenidKey, str] = field(default_factory=dict)  # error code of the openid
    by_public_id: dict[str, int] = field(default_factory=dict)  # person the caller may see


def lock_event_subjects(
    *,
    by_openid: Mapping[App, Collection[str]],
    by_public_id: Collection[str],
    allowed_app_ids: set[int] | None,
    actor: Actor,
) -> EventSubjects:
    """Resolve the openids (creating the unseen) and public ids, then lock their persons.

    A public id that names no live person, or one a caller confined to `allowed_app_ids` may
    not see, is left out. Raises StaleRead (the caller's transaction retries) when a person was
    merged away or erased, or an identity moved, between reading and locking. Run inside a
    transaction: the locks last until it ends.
    """
    subjects = EventSubjects()
    for app, openids in by_openid.items():
        resolution = bulk_resolve(app=app, entries=dict.fromkeys(sorted(openids)), actor=actor)
        subjects.by_openid.update({(app.pk, o): s for o, s in resolution.subjects.items()})
        subjects.failed.update({(app.pk, o): code for o, code in resolution.errors.items()})
    persons = _persons_for(set(by_public_id))
    person_pks = {pk for pk, _ in subjects.by_openid.values()} | set(persons.values())
    invisible = _lock_live(
        person_pks, identities=subjects.by_openid, allowed_app_ids=allowed_app_ids
    )
    subjects.by_public_id = {key: pk for key, pk in persons.items() if pk not in invisible}
    return subjects


def _persons_for(public_ids: set[str]) -> dict[str, int]:
    """Map public ids (merged-away ones included) to live person pks."""
    if not public_ids:
        return {}
    rows = Person.objects.filter(public_id__in=public_ids, erased_at__isnull=True).values_list(
        "public_id", "pk", "merged_into_id"
    )
    return {public_id: survivor or pk for public_id, pk, survivor in rows}


def _lock_live(
    person_pks: set[int],
    *,
    identities: dict[OpenidKey, tuple[int, int]],
    allowed_app_ids: set[int] | None,
) -> set[int]:
    """Lock the persons FOR SHARE, check the identities did not move; return the persons a
    restricted caller may not see."""
    if not person_pks:
        return set()
    share_lock_live_persons(person_pks)
    if identities and _select_identities(set(identities)) != identities:
        raise StaleRead("an identity of the batch moved while ingesting")
    if allowed_app_ids is None:
        return set()
    visible = set(
        Identity.objects.filter(person_id__in=person_pks, app_id__in=allowed_app_ids)
        .values_list("person_id", flat=True)
        .distinct()
    )
    return person_pks - visible


def _select_identities(keys: set[OpenidKey]) -> dict[OpenidKey, tuple[int, int]]:
    """Read the identities again under the locks: a merge committed between the resolve and
    the lock may have moved one to another person."""
    app_pks, openids = zip(*keys, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.app_id, i.openid, i.person_id, i.id FROM identity_identity i "
            "JOIN unnest(%s::bigint[], %s::text[]) AS k(app_id, openid) "
            "ON i.app_id = k.app_id AND i.openid = k.openid",
            [list(app_pks), list(openids)],
        )
        return {(app_pk, openid): (person, pk) for app_pk, openid, person, pk in cursor.fetchall()}
