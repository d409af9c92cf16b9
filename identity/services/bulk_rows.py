"""The statements of a bulk resolve: one per table, whatever the count of rows.

Rows go to PostgreSQL as JSON lists (`json_list`), unpacked side by side with `ROWS FROM
(json_array_elements_text(...), ...)`: Django's psycopg cursor writes parameters into the
statement as literals, and an array literal costs a few microseconds per element to quote (far
more for JSON texts, each escaped), which at follower-import sizes (thousands of rows a
statement) is more than the statement takes to run. One JSON string is quoted at once and
parsed by PostgreSQL in C. Values must be JSON types: str, int, bool or None.
"""

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db import DatabaseError, connection
from django.utils import timezone

from identity import person_cache
from identity.models import Actor, App
from identity.models.persons import new_public_id


def json_list(values: Iterable) -> str:
    """One SQL parameter for a list of values, to unpack with json_array_elements_text."""
    return json.dumps(list(values), separators=(",", ":"))


def insert_persons(count: int) -> list[int]:
    """Create `count` persons and return their pks, in order.

    Writes what `Person.objects.bulk_create` would (a new public id, created now) without a
    model instance each; the pks are matched by public id, not by the order of RETURNING.
    """
    if not count:
        return []
    public_ids = [new_public_id() for _ in range(count)]
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO identity_person (public_id, created_at, updated_at) "
            "SELECT public_id, %s, %s FROM json_array_elements_text(%s::json) AS k(public_id) "
            "RETURNING public_id, id",
            [now, now, json_list(public_ids)],
        )
        pks = dict(cursor.fetchall())
    return [pks[public_id] for public_id in public_ids]


def insert_identities(
    app: App,
    rows: list[tuple[str, int]],
    following: Mapping[str, tuple[bool, datetime, str]] | None = None,
) -> dict[str, tuple[int, int]]:
    """Store (openid, person) identities of the app, those in `following` with that follow state
    (follow.snapshot_state); return openid -> (person, identity) of those stored (an openid
    stored meanwhile by someone else is left out)."""
    if not rows:
        return {}
    state = [(following or {}).get(openid) or (None, None, "") for openid, _ in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO identity_identity (app_id, openid, person_id, followed, followed_at, "
            "subscribe_scene, created_at, updated_at) "
            "SELECT %s, k.openid, k.person_id::bigint, k.followed::boolean, "
            "       k.followed_at::timestamptz, k.scene, now(), now() "
            "FROM ROWS FROM (json_array_elements_text(%s::json), "
            "                json_array_elements_text(%s::json), "
            "                json_array_elements_text(%s::json), "
            "                json_array_elements_text(%s::json), "
            "                json_array_elements_text(%s::json)) "
            "     AS k(openid, person_id, followed, followed_at, scene) "
            "ON CONFLICT DO NOTHING RETURNING openid, person_id, id",
            [
                app.pk,
                json_list(openid for openid, _ in rows),
                json_list(person for _, person in rows),
                json_list(followed for followed, _, _ in state),
                json_list(at and at.isoformat() for _, at, _ in state),
                json_list(scene for _, _, scene in state),
            ],
        )
        return {openid: (person, pk) for openid, person, pk in cursor.fetchall()}


def insert_unionids(app: App, rows: list[tuple[int, str]]) -> dict[str, int]:
    """Store (person, unionid) pairs on the app's platform; return unionid -> pk of those
    stored (a unionid taken meanwhile is left out)."""
    if not rows:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO identity_unionid (person_id, platform, unionid, created_at) "
            "SELECT k.person_id::bigint, %s, k.unionid, now() "
            "FROM ROWS FROM (json_array_elements_text(%s::json), "
            "                json_array_elements_text(%s::json)) AS k(person_id, unionid) "
            "ON CONFLICT DO NOTHING RETURNING unionid, id",
            [app.platform, json_list(p for p, _ in rows), json_list(u for _, u in rows)],
        )
        return dict(cursor.fetchall())


def delete_persons(pks: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM identity_person WHERE id = ANY(%s)", [pks])


def insert_audit_entries(actor: Actor, changes: list[tuple[int, str, dict]]) -> None:
    """Write one audit entry per (person, action, after), in order, naming the person by its
    public id: the rows AuditEntry.objects.bulk_create would write, in one statement."""
    if not changes:
        return
    person_cache.changed(person for person, _, _ in changes)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO identity_auditentry "
            "(created_at, actor_type, actor, action, person_id, target, after) "
            "SELECT %s, %s, %s, k.action, p.id, p.public_id, k.after::jsonb "
            "FROM ROWS FROM (json_array_elements_text(%s::json), "
            "                json_array_elements_text(%s::json), "
            "                json_array_elements(%s::json)) "
            "     WITH ORDINALITY AS k(person_id, action, after, n) "
            "JOIN identity_person AS p ON p.id = k.person_id::bigint ORDER BY k.n",
            [
                timezone.now(),
                actor.type,
                actor.label,
                json_list(person for person, _, _ in changes),
                json_list(action for _, action, _ in changes),
                json_list(after for _, _, after in changes),
            ],
        )
        if cursor.rowcount != len(changes):  # every person named is in this transaction
            raise DatabaseError("bulk resolve: an audited person is missing")
