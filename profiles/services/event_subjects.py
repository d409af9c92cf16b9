"""Attribute a batch of events to live persons in a constant number of queries.

Events name their person by (app, openid), creating person and identity on first sight, or by
public person id (a merged-away id gives the survivor). The persons are then locked FOR SHARE in
id order: a merge or erasure of one of them (FOR UPDATE) waits for the batch to commit, so no
event lands on a person that stopped being live.
"""

from django.db import connection

from identity.models import Actor, App, Identity, Person
from identity.services.bulk_resolve import bulk_resolve
from identity.services.retry import StaleRead
from profiles.services.event_parsing import ItemError, ParsedEvent

PersonKey = tuple[int, str]  # (app pk, openid)


def attribute(
    events: list[ParsedEvent], *, allowed_app_ids: set[int] | None, actor: Actor
) -> tuple[dict[int, tuple[int, int | None]], list[dict]]:
    """Map event index -> (person pk, identity pk or None); unknown persons are item errors."""
    by_openid, failed = _identities_for(events, actor)
    by_public_id = _persons_for({e.person_public_id for e in events if e.person_public_id})
    errors, subjects = [], {}
    for event in events:
        if event.openid:
            key = (event.app.pk, event.openid)
            if key in by_openid:
                subjects[event.index] = by_openid[key]
            else:
                errors.append(
                    ItemError(
                        failed[key], "The openid could not be resolved.", {"openid": [failed[key]]}
                    ).as_dict(event.index)
                )
            continue
        person_pk = by_public_id.get(event.person_public_id)
        if person_pk is None:
            errors.append(
                ItemError(
                    "person_not_found", "No such person.", {"person_id": ["Unknown person."]}
                ).as_dict(event.index)
            )
            continue
        subjects[event.index] = (person_pk, None)
    invisible = _lock_live(
        {pk for pk, _ in subjects.values()},
        identities=by_openid,
        allowed_app_ids=allowed_app_ids,
    )
    for event in events:
        subject = subjects.get(event.index)
        if subject and subject[1] is None and subject[0] in invisible:
            del subjects[event.index]
            errors.append(
                ItemError(
                    "person_not_found", "No such person.", {"person_id": ["Unknown person."]}
                ).as_dict(event.index)
            )
    return subjects, errors


def _identities_for(
    events: list[ParsedEvent], actor: Actor
) -> tuple[dict[PersonKey, tuple[int, int]], dict[PersonKey, str]]:
    """Return (person pk, identity pk) per (app, openid), creating the unseen ones."""
    by_app: dict[int, tuple[App, set[str]]] = {}
    for event in events:
        if event.openid:
            by_app.setdefault(event.app.pk, (event.app, set()))[1].add(event.openid)
    found, failed = {}, {}
    for app, openids in by_app.values():
        resolution = bulk_resolve(app=app, entries=dict.fromkeys(sorted(openids)), actor=actor)
        found.update({(app.pk, openid): s for openid, s in resolution.subjects.items()})
        failed.update({(app.pk, openid): code for openid, code in resolution.errors.items()})
    return found, failed


def _select_identities(keys: set[PersonKey]) -> dict[PersonKey, tuple[int, int]]:
    app_pks, openids = zip(*keys, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.app_id, i.openid, i.person_id, i.id FROM identity_identity i "
            "JOIN unnest(%s::bigint[], %s::text[]) AS k(app_id, openid) "
            "ON i.app_id = k.app_id AND i.openid = k.openid",
            [list(app_pks), list(openids)],
        )
        return {(app_pk, openid): (person, pk) for app_pk, openid, person, pk in cursor.fetchall()}


def _persons_for(public_ids: set[str]) -> dict[str, int]:
    """Map public ids (merged-away ones included) to live person pks."""
    if not public_ids:
        return {}
    rows = Person.objects.filter(public_id__in=public_ids, erased_at__isnull=True).values_list(
        "public_id", "pk", "merged_into_id"
    )
    return {public_id: survivor or pk for public_id, pk, survivor in rows}


def _lock_live(
    person_pks: set[int], *, identities: dict, allowed_app_ids: set[int] | None
) -> set[int]:
    """Lock the persons FOR SHARE; return those a restricted key may not see.

    Raises StaleRead (the batch retries) when a person was merged away or erased, or an
    identity moved, between reading and locking.
    """
    if not person_pks:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, merged_into_id IS NULL AND erased_at IS NULL FROM identity_person "
            "WHERE id = ANY(%s) ORDER BY id FOR SHARE",
            [sorted(person_pks)],
        )
        rows = cursor.fetchall()
    if len(rows) != len(person_pks) or not all(live for _, live in rows):
        raise StaleRead("a person of the batch was merged or erased while ingesting")
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
