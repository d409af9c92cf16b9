"""The plan of a bulk resolve: which entries the fast path writes, and how, decided in memory
against what the database already holds (three queries, whatever the count).

Entries the plan cannot settle without knowing every rule (a unionid that proves a merge, a
unionid the person already has another of, two entries bringing one new unionid) go to the slow
path, `resolve_identity`, one at a time.
"""

from dataclasses import dataclass, field

from django.db import connection

from identity.models import App
from identity.services.bulk_rows import json_list


@dataclass
class Known:
    """What the database holds already: the plan is decided against it, in memory."""

    identities: dict[str, tuple[int, int]]  # openid -> (person, identity)
    unionid_of: dict[int, str]  # person of a known openid -> its unionid on the platform
    person_of: dict[str, int]  # unionid of an entry -> its person


@dataclass
class Plan:
    """What the fast path writes, and what it leaves to resolve_identity (`slow`)."""

    subjects: dict[str, tuple[int, int]] = field(default_factory=dict)  # known: no write
    new_persons: list[tuple[str, str | None]] = field(default_factory=list)  # (openid, unionid)
    new_links: list[tuple[str, int]] = field(default_factory=list)  # (openid, unionid's person)
    new_unions: list[tuple[int, str]] = field(default_factory=list)  # (person, first unionid)
    slow: list[str] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)  # unionids this batch gives someone


def read_known(app: App, entries: dict[str, str | None]) -> Known:
    """Read the entries' identities and unionids in three queries, whatever the count (each
    takes its values as one JSON list: see bulk_rows)."""
    identities = {
        openid: (person, pk)
        for openid, person, pk in _rows(
            "SELECT openid, person_id, id FROM identity_identity "
            "WHERE app_id = %s AND openid = ANY(ARRAY(SELECT json_array_elements_text(%s::json)))",
            app.pk,
            list(entries),
        )
    }
    unionid_of = _rows(
        "SELECT person_id, unionid FROM identity_unionid WHERE platform = %s "
        "AND person_id = ANY(ARRAY(SELECT json_array_elements_text(%s::json)::bigint))",
        app.platform,
        list({person for person, _ in identities.values()}),
    )
    person_of = _rows(
        "SELECT unionid, person_id FROM identity_unionid "
        "WHERE platform = %s AND unionid = ANY(ARRAY(SELECT json_array_elements_text(%s::json)))",
        app.platform,
        list({unionid for unionid in entries.values() if unionid}),
    )
    return Known(identities, dict(unionid_of), dict(person_of))


def plan_entries(entries: dict[str, str | None], known: Known) -> Plan:
    """Sort each entry into the fast path's cases, or the slow path."""
    plan = Plan()
    for openid, unionid in entries.items():
        if openid in known.identities:
            _known_openid(plan, known, openid, unionid)
        else:
            _new_openid(plan, known, openid, unionid)
    return plan


def _known_openid(plan: Plan, known: Known, openid: str, unionid: str | None) -> None:
    """Nothing to write, or the person's first unionid; a unionid that differs from the
    person's, or belongs to another person (a merge), is for resolve_identity."""
    subject = known.identities[openid]
    person = subject[0]
    if unionid is None or known.unionid_of.get(person) == unionid:
        plan.subjects[openid] = subject
    elif (
        person not in known.unionid_of
        and unionid not in known.person_of
        and unionid not in plan.claimed
    ):
        plan.new_unions.append((person, unionid))
        plan.claimed.add(unionid)
        plan.subjects[openid] = subject
    else:
        plan.slow.append(openid)


def _new_openid(plan: Plan, known: Known, openid: str, unionid: str | None) -> None:
    """A new person, or a link to the person of a known unionid; a unionid that another entry
    of the batch already brings is for resolve_identity (it will link the two)."""
    if unionid is None:
        plan.new_persons.append((openid, None))
    elif unionid in known.person_of:
        plan.new_links.append((openid, known.person_of[unionid]))
    elif unionid in plan.claimed:
        plan.slow.append(openid)
    else:
        plan.claimed.add(unionid)
        plan.new_persons.append((openid, unionid))


def _rows(sql: str, key, values: list) -> list[tuple]:
    """Run a read of rows matching `values`; for none, nothing is sent (it would find none)."""
    if not values:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, json_list(values)])
        return cursor.fetchall()
