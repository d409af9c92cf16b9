"""Read persons with everything their representation shows, in one prepared SQL statement.

The API's hot paths (lookups, a person, segment members) read persons here rather than through
the ORM: identities, unionids and every section (stats, tags) come back as JSON built by
PostgreSQL in the same statement, and the statement text is fixed, so psycopg prepares it once
per connection. Compiling the equivalent ORM query cost more than running it.

For a key restricted to apps the statement is a second fixed text, with the key's apps as its
first parameter, so that sections such as stats count only those apps. The statement binds the
names a section's SQL may use (`identity.person_sections`): `PERSON_ID` through the person row
`p`, `ALLOWED_APP_IDS` through the `allowed` join of a restricted read.

Routers do not see raw SQL: the statement runs on the alias `config.db_routing` chooses (the
replica inside a lookup view's `replica_reads`, else the primary).
"""

import json
from functools import cache

from django.db import connections

from config.db_routing import read_alias
from identity.models import Person
from identity.person_sections import sections

_SELECT = """
SELECT p.id, p.public_id, p.phone_encrypted, p.created_at, p.updated_at,
  COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'app_id', i.app_id, 'appid', a.appid, 'app_kind', a.kind, 'openid', i.openid,
        'followed', i.followed, 'followed_at', i.followed_at) ORDER BY a.appid)
     FROM identity_identity i JOIN identity_app a ON a.id = i.app_id
     WHERE i.person_id = p.id), '[]'::jsonb) AS identity_rows,
  COALESCE((SELECT jsonb_agg(jsonb_build_object('platform', u.platform, 'unionid', u.unionid)
                             ORDER BY u.platform)
     FROM identity_unionid u WHERE u.person_id = p.id), '[]'::jsonb) AS unionid_rows
  {sections}
FROM identity_person p{allowed}
WHERE p.merged_into_id IS NULL AND p.erased_at IS NULL AND {where}
"""

WHERE = {
    "pks": "p.id = ANY(%s)",
    "public_id": (
        "p.id = (SELECT COALESCE(merged_into_id, id) FROM identity_person WHERE public_id = %s)"
    ),
    "openid": (
        "p.id = (SELECT person_id FROM identity_identity WHERE app_id = %s AND openid = %s)"
    ),
    "openids": (
        "p.id IN (SELECT person_id FROM identity_identity WHERE app_id = %s AND openid = ANY(%s))"
    ),
    "unionid": (
        "p.id = (SELECT person_id FROM identity_unionid WHERE platform = %s AND unionid = %s)"
    ),
    "phone_index": "p.phone_index = %s",
}


_ALLOWED = " CROSS JOIN (SELECT %s::bigint[] AS app_ids) AS allowed"  # ALLOWED_APP_IDS


@cache
def _statement(
    kind: str, section_names: tuple[str, ...], restricted: bool = False, app_parts: bool = False
) -> str:
    extra = "".join(
        f",\n  {section.sql_for(restricted=restricted)} AS section_{section.name}"
        for section in sections()
        if section.name in section_names
    )
    if app_parts:
        extra += "".join(
            f",\n  {section.app_parts_sql} AS parts_{section.name}" for section in _parted()
        )
    return _SELECT.format(sections=extra, allowed=_ALLOWED if restricted else "", where=WHERE[kind])


def _parted():
    return [section for section in sections() if section.app_parts_sql]


def read_persons(
    kind: str, params: list, *, allowed_app_ids: set[int] | None = None, app_parts: bool = False
) -> list[Person]:
    """Live persons matching one of the WHERE shapes above, each with `identity_rows`,
    `unionid_rows` and `section_<name>` attributes for the representation.

    Sections are computed for a caller restricted to `allowed_app_ids` (None: unrestricted);
    `sections_for` records which, so that a representation for another caller refuses them.
    `app_parts` (unrestricted reads only) adds `app_parts`: the per-app parts of the sections
    that have them, from which the person cache derives a restricted caller's sections.
    """
    names = tuple(section.name for section in sections())
    restricted = allowed_app_ids is not None
    if restricted:
        params = [sorted(allowed_app_ids), *params]
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(_statement(kind, names, restricted, app_parts and not restricted), params)
        rows = cursor.fetchall()
    parted = [section.name for section in _parted()] if app_parts and not restricted else []
    persons = []
    for pk, public_id, phone, created, updated, identities, unionids, *extra in rows:
        person = Person(
            id=pk,
            public_id=public_id,
            phone_encrypted=phone,
            created_at=created,
            updated_at=updated,
        )
        person._state.adding = False
        person.sections_for = None if allowed_app_ids is None else frozenset(allowed_app_ids)
        person.identity_rows, person.unionid_rows = _json(identities), _json(unionids)
        for name, value in zip(names, extra, strict=False):
            setattr(person, f"section_{name}", _json(value))
        parts = extra[len(names) :]
        person.app_parts = {name: _json(value) for name, value in zip(parted, parts, strict=True)}
        persons.append(person)
    return persons


def _json(value):
    # Django's PostgreSQL backend hands jsonb over as text (its JSONField decodes it).
    return json.loads(value) if isinstance(value, str | bytes) else value


def read_person(
    kind: str, params: list, *, allowed_app_ids: set[int] | None = None, app_parts: bool = False
) -> Person | None:
    found = read_persons(kind, params, allowed_app_ids=allowed_app_ids, app_parts=app_parts)
    return found[0] if found else None
