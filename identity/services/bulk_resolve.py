"""Resolve many openids of one app at once (follower import, event ingest).

The common cases, all in a fixed number of statements: known openids, new openids with or
without a unionid, new openids whose unionid is known, and unionids newly seen for a known
openid. Anything else (a unionid that proves a merge, a conflict, a lost race) falls back to
`resolve_identity`, one at a time, which knows every rule.
"""

from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from identity.exceptions import DomainError
from identity.models import Actor, App, AuditEntry, Identity, Person, UnionId
from identity.services.resolve import resolve_identity


@dataclass
class BulkResolution:
    subjects: dict[str, tuple[int, int]] = field(
        default_factory=dict
    )  # openid -> (person, identity)
    created: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # openid -> error code


def bulk_resolve(*, app: App, entries: dict[str, str | None], actor: Actor) -> BulkResolution:
    """Resolve cleaned `openid -> unionid or None` pairs; run inside a transaction."""
    result = BulkResolution()
    if not entries:
        return result
    found = _identities(app, list(entries))
    person_unionid = dict(
        UnionId.objects.filter(
            person_id__in={person for person, _ in found.values()}, platform=app.platform
        ).values_list("person_id", "unionid")
    )
    wanted = {unionid for unionid in entries.values() if unionid}
    known_unions = dict(
        UnionId.objects.filter(platform=app.platform, unionid__in=wanted).values_list(
            "unionid", "person_id"
        )
    )
    new_persons: list[tuple[str, str | None]] = []
    new_links: list[tuple[str, int]] = []
    new_unions: list[tuple[int, str]] = []
    slow: list[str] = []
    claimed: set[str] = set()
    for openid, unionid in entries.items():
        if openid in found:
            person = found[openid][0]
            if unionid is None or person_unionid.get(person) == unionid:
                result.subjects[openid] = found[openid]
            elif (
                person not in person_unionid
                and unionid not in known_unions
                and unionid not in claimed
            ):
                new_unions.append((person, unionid))
                claimed.add(unionid)
                result.subjects[openid] = found[openid]
            else:
                slow.append(openid)
        elif unionid is None:
            new_persons.append((openid, None))
        elif unionid in known_unions:
            new_links.append((openid, known_unions[unionid]))
        elif unionid in claimed:
            slow.append(openid)
        else:
            claimed.add(unionid)
            new_persons.append((openid, unionid))

    persons = Person.objects.bulk_create([Person() for _ in new_persons])
    fresh = {openid: person.pk for (openid, _), person in zip(new_persons, persons, strict=True)}
    inserted = _insert_identities(app, [*fresh.items(), *new_links])
    lost = [pk for openid, pk in fresh.items() if openid not in inserted]
    if lost:
        _delete_persons(lost)
    slow += [openid for openid, _ in [*fresh.items(), *new_links] if openid not in inserted]
    result.subjects.update(inserted)
    result.created = sum(1 for openid in fresh if openid in inserted)

    unions = [(fresh[o], u) for o, u in new_persons if u and o in inserted] + new_unions
    stored = _insert_unionids(app, unions)
    for person, unionid in unions:
        if unionid not in stored:  # taken meanwhile: resolve_identity will merge or refuse
            slow += [o for o, (p, _) in result.subjects.items() if p == person]
    _audit(
        actor,
        app,
        created=[(pk, inserted[o][1]) for o, pk in fresh.items() if o in inserted],
        linked=[inserted[o] for o, _ in new_links if o in inserted],
        unions={person: stored[unionid] for person, unionid in unions if unionid in stored},
        identities=dict(result.subjects.values()),
    )

    for openid in dict.fromkeys(slow):
        try:
            person = resolve_identity(
                app=app, openid=openid, unionid=entries[openid], actor=actor
            ).person
        except DomainError as exc:
            result.subjects.pop(openid, None)
            result.errors[openid] = exc.code
            continue
        identity = Identity.objects.get(app=app, openid=openid)
        result.subjects[openid] = (person.pk, identity.pk)
    return result


def _identities(app: App, openids: list[str]) -> dict[str, tuple[int, int]]:
    rows = Identity.objects.filter(app=app, openid__in=openids).values_list(
        "openid", "person_id", "pk"
    )
    return {openid: (person, pk) for openid, person, pk in rows}


def _insert_identities(app: App, rows: list[tuple[str, int]]) -> dict[str, tuple[int, int]]:
    if not rows:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO identity_identity "
            "(app_id, openid, person_id, subscribe_scene, created_at, updated_at) "
            "SELECT %s, openid, person_id, '', now(), now() "
            "FROM unnest(%s::text[], %s::bigint[]) AS k(openid, person_id) "
            "ON CONFLICT DO NOTHING RETURNING openid, person_id, id",
            [app.pk, [openid for openid, _ in rows], [person for _, person in rows]],
        )
        return {openid: (person, pk) for openid, person, pk in cursor.fetchall()}


def _insert_unionids(app: App, rows: list[tuple[int, str]]) -> dict[str, int]:
    if not rows:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO identity_unionid (person_id, platform, unionid, created_at) "
            "SELECT person_id, %s, unionid, now() "
            "FROM unnest(%s::bigint[], %s::text[]) AS k(person_id, unionid) "
            "ON CONFLICT DO NOTHING RETURNING unionid, id",
            [app.platform, [person for person, _ in rows], [unionid for _, unionid in rows]],
        )
        return dict(cursor.fetchall())


def _delete_persons(pks: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM identity_person WHERE id = ANY(%s)", [pks])


def _audit(
    actor: Actor,
    app: App,
    *,
    created: list[tuple[int, int]],
    linked: list[tuple[int, int]],
    unions: dict[int, int],
    identities: dict[int, int],
) -> None:
    """Write the entries resolve_identity would: a person created (with its unionid), an openid
    linked to the person of a known unionid, a unionid added to a known openid's person."""
    changes = []
    for person_pk, identity_pk in created:
        after = {"identity": identity_pk, "app": app.appid, "via": "bulk"}
        if person_pk in unions:
            after["unionid"] = unions[person_pk]
        changes.append((person_pk, "identity.create", after))
    fresh = {person_pk for person_pk, _ in created}
    changes += [
        (person_pk, "identity.link", {"identity": identity_pk, "app": app.appid, "via": "unionid"})
        for person_pk, identity_pk in linked
    ]
    changes += [
        (
            person_pk,
            "unionid.link",
            {"unionid": union_pk, "platform": app.platform, "via_identity": identities[person_pk]},
        )
        for person_pk, union_pk in unions.items()
        if person_pk not in fresh
    ]
    if not changes:
        return
    public_ids = dict(
        Person.objects.filter(pk__in={change[0] for change in changes}).values_list(
            "pk", "public_id"
        )
    )
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            created_at=now,
            actor_type=actor.type,
            actor=actor.label,
            action=action,
            person_id=person_pk,
            target=public_ids[person_pk],
            after=after,
        )
        for person_pk, action, after in changes
    )
