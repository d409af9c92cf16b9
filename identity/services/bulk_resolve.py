"""Resolve many openids of one app at once (follower import, event ingest).

The common cases, all in a fixed number of statements: known openids, new openids with or
without a unionid, new openids whose unionid is known, and unionids newly seen for a known
openid. Anything else (a unionid that proves a merge, a conflict, a lost race) falls back to
`resolve_identity`, one at a time, which knows every rule.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from identity.exceptions import DomainError
from identity.models import Actor, App, Identity
from identity.seen import record_seen
from identity.services.bulk_plan import Plan, plan_entries, read_known
from identity.services.bulk_rows import (
    delete_persons,
    insert_audit_entries,
    insert_identities,
    insert_persons,
    insert_unionids,
)
from identity.services.follow import snapshot_state
from identity.services.resolve import resolve_identity


@dataclass
class BulkResolution:
    subjects: dict[str, tuple[int, int]] = field(
        default_factory=dict
    )  # openid -> (person, identity)
    created: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # openid -> error code
    created_following: set[int] = field(default_factory=set)  # identities made from `following`


def bulk_resolve(
    *,
    app: App,
    entries: dict[str, str | None],
    actor: Actor,
    following: Mapping[str, tuple[datetime, str]] | None = None,
    seen_at: datetime | None = None,
) -> BulkResolution:
    """Resolve cleaned `openid -> unionid or None` pairs; run inside a transaction.

    `following` (openid -> subscribe time and scene) comes from a follower list: the identities
    created for those openids start following (follow.snapshot_state), and are listed in
    `created_following` for record_follow_changes, which then need not update them.

    With `seen_at` (a follower import) the persons created here are marked seen then
    (identity.seen), in the caller's transaction. Known persons are not: reading a follower list
    again is no sign of them, and would keep every follower "active". Without it (an event
    ingest) nobody is: the events say when their persons were seen.
    """
    result = BulkResolution()
    if not entries:
        return result
    plan = plan_entries(entries, read_known(app, entries))
    result.subjects.update(plan.subjects)
    state = {o: snapshot_state(at=at, scene=scene) for o, (at, scene) in (following or {}).items()}
    fresh, inserted = _insert_new(app, plan, state)
    result.subjects.update(inserted)
    result.created = sum(1 for openid in fresh if openid in inserted)
    result.created_following = {inserted[o][1] for o in state if o in inserted}
    unions = _unionids_to_store(plan, fresh, inserted)
    stored = insert_unionids(app, unions)
    plan.slow += _lost_unionids(unions, stored, result.subjects)
    _audit(
        actor,
        app,
        created=[(pk, inserted[o][1]) for o, pk in fresh.items() if o in inserted],
        linked=[inserted[o] for o, _ in plan.new_links if o in inserted],
        unions={person: stored[unionid] for person, unionid in unions if unionid in stored},
        identities=dict(result.subjects.values()),
    )
    created = [pk for openid, pk in fresh.items() if openid in inserted]
    created += _resolve_one_by_one(app, entries, plan.slow, actor, result)
    if seen_at is not None:
        record_seen(person_ids=created, at=seen_at)
    return result


def _insert_new(
    app: App, plan: Plan, following: Mapping[str, tuple[bool, datetime, str]]
) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Create the new persons and identities; return (openid -> new person, openid -> subject
    of each identity stored). An openid stored meanwhile by a concurrent resolve loses its
    new person and goes to the slow path, which finds the winner's."""
    persons = insert_persons(len(plan.new_persons))
    fresh = {o: pk for (o, _), pk in zip(plan.new_persons, persons, strict=True)}
    inserted = insert_identities(app, [*fresh.items(), *plan.new_links], following)
    lost = [pk for openid, pk in fresh.items() if openid not in inserted]
    if lost:
        delete_persons(lost)
    plan.slow += [o for o, _ in [*fresh.items(), *plan.new_links] if o not in inserted]
    return fresh, inserted


def _unionids_to_store(
    plan: Plan, fresh: dict[str, int], inserted: dict[str, tuple[int, int]]
) -> list[tuple[int, str]]:
    """(person, unionid) pairs to store: the new persons' whose identity was stored (a lost one
    goes to the slow path with its unionid), then the known persons' first unionids."""
    created = [(fresh[o], u) for o, u in plan.new_persons if u and o in inserted]
    return created + plan.new_unions


def _lost_unionids(
    unions: list[tuple[int, str]], stored: dict[str, int], subjects: dict[str, tuple[int, int]]
) -> list[str]:
    """The openids of persons whose unionid was taken meanwhile: resolve_identity will merge
    or refuse."""
    return [
        openid
        for person, unionid in unions
        if unionid not in stored
        for openid, (owner, _) in subjects.items()
        if owner == person
    ]


def _resolve_one_by_one(
    app: App, entries: dict[str, str | None], slow: list[str], actor: Actor, result: BulkResolution
) -> list[int]:
    """Resolve what the fast path left, one at a time: resolve_identity knows every rule.
    Return the persons it created (bulk_resolve marks them seen, or not)."""
    created = []
    for openid in dict.fromkeys(slow):
        try:
            resolved = resolve_identity(
                app=app, openid=openid, unionid=entries[openid], actor=actor, seen=False
            )
        except DomainError as exc:
            result.subjects.pop(openid, None)
            result.errors[openid] = exc.code
            continue
        if resolved.created:
            created.append(resolved.person.pk)
        identity = Identity.objects.get(app=app, openid=openid)
        result.subjects[openid] = (resolved.person.pk, identity.pk)
    return created


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
    insert_audit_entries(actor, changes)
