"""Carry events, rollups, daily activity and stats through merges, undos and erasure.

Daily activity rows carry their events' origin person and openid, so they follow the events by
the same rules; a row that lands on a key the target already holds is added to it.
"""

from django.db import connection

from identity.models import Person
from identity.services.person_data import PersonDataMover
from profiles.services.activity_sql import ADD, KEY
from profiles.services.seen import carry_seen
from profiles.services.stats_rebuild import rebuild_stats

_MOVED_KEY = "day, type, app_id, origin_person_id, identity_id"


def _move_activity(where: str, params: dict, *, to_person: int, identity: str = "identity_id"):
    """Move the daily activity rows matching `where` to `to_person` (with `identity` as their
    openid: NULL folds an erased one), adding them to rows of the same key there.

    The rows deleted are never those landed on (they leave another person, or an openid for
    none), so one statement does it; they are written in key order, as by every writer.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH moved AS (
                DELETE FROM profiles_dailyactivity a WHERE {where}
                RETURNING day, type, app_id, origin_person_id, {identity} AS identity_id, count,
                          amount_total
            )
            INSERT INTO profiles_dailyactivity AS a ({KEY}, count, amount_total)
            SELECT %(to_person)s, {_MOVED_KEY}, sum(count), sum(amount_total)
            FROM moved GROUP BY {_MOVED_KEY} ORDER BY {_MOVED_KEY}
            ON CONFLICT ({KEY}) DO UPDATE SET {ADD}
            """,  # noqa: S608 - the interpolated text is constant, values are parameters
            {**params, "to_person": to_person},
        )


def move_events(loser: Person, survivor: Person, moved: dict) -> dict:
    """Give the survivor the loser's events, rollups and daily activity, then recompute the
    survivor's stats.

    The note names the origin persons (the loser and the tombstones it absorbed) and the loser's
    identities: undo returns the events attributed to them, including ones that arrived through
    those openids after the merge.
    """
    origins = [loser.pk, *moved["tombstones"]]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE profiles_event SET person_id = %s WHERE person_id = %s", [survivor.pk, loser.pk]
        )
        cursor.execute(
            "UPDATE profiles_eventrollup SET person_id = %s WHERE person_id = %s",
            [survivor.pk, loser.pk],
        )
    _move_activity("a.person_id = %(loser)s", {"loser": loser.pk}, to_person=survivor.pk)
    carry_seen(survivor_id=survivor.pk, loser_id=loser.pk)  # seen by resolves: no events
    rebuild_stats([survivor.pk, loser.pk])
    return {"origins": origins, "identities": moved["identities"]}


def undo_move_events(survivor: Person, loser: Person, moved: dict) -> None:
    """Give the loser back the events, rollups and daily activity of the note's origins, and
    those that came through its openids since; recompute both persons' stats."""
    note = moved["events"]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE profiles_event SET person_id = %s WHERE person_id = %s "
            "AND (origin_person_id = ANY(%s) OR identity_id = ANY(%s))",
            [loser.pk, survivor.pk, note["origins"], note["identities"]],
        )
        cursor.execute(
            "UPDATE profiles_eventrollup SET person_id = %s WHERE person_id = %s "
            "AND origin_person_id = ANY(%s)",
            [loser.pk, survivor.pk, note["origins"]],
        )
    _move_activity(
        "a.person_id = %(survivor)s "
        "AND (a.origin_person_id = ANY(%(origins)s) OR a.identity_id = ANY(%(identities)s))",
        {"survivor": survivor.pk, "origins": note["origins"], "identities": note["identities"]},
        to_person=loser.pk,
    )
    rebuild_stats([survivor.pk, loser.pk])


def erase_events(person: Person) -> dict:
    """Erasure keeps events as anonymous aggregates but drops their free-form properties and
    channels (a channel is free text a backend may have filled with anything); rollups lose
    their first channel and the stats, rebuilt, with it. Daily activity stays, its openids
    folded to none as the events' are when the person's openids are deleted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE profiles_event SET properties = '{}'::jsonb, channel = '' "
            "WHERE person_id = %s AND (properties <> '{}'::jsonb OR channel <> '')",
            [person.pk],
        )
        events = cursor.rowcount
        cursor.execute(
            "UPDATE profiles_eventrollup SET first_channel = '', first_channel_at = NULL, "
            "first_channel_event_id = NULL WHERE person_id = %s AND first_channel <> ''",
            [person.pk],
        )
        rollups = cursor.rowcount
    _fold_erased_openids(person, "i.person_id = %(person)s")
    rebuild_stats([person.pk])
    return {"events_cleared": events, "rollups_cleared": rollups}


def erase_app_events(person: Person, app_ids: list[int]) -> dict:
    """Delete what came through the given apps (events and their rollups) and rebuild the stats
    from what the other apps reported, for an erasure by a key restricted to those apps."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM profiles_event WHERE person_id = %s AND app_id = ANY(%s)",
            [person.pk, app_ids],
        )
        events = cursor.rowcount
        cursor.execute(
            "DELETE FROM profiles_eventrollup WHERE person_id = %s AND app_id = ANY(%s)",
            [person.pk, app_ids],
        )
        rollups = cursor.rowcount
        cursor.execute(
            "DELETE FROM profiles_dailyactivity WHERE person_id = %s AND app_id = ANY(%s)",
            [person.pk, app_ids],
        )
    # The openids of those apps go next (identity's erasure): other apps' events lose them.
    _fold_erased_openids(
        person, "i.person_id = %(person)s AND i.app_id = ANY(%(apps)s)", apps=app_ids
    )
    rebuild_stats([person.pk])
    return {"events_deleted": events, "rollups_deleted": rollups}


def _fold_erased_openids(person: Person, erased: str, **params) -> None:
    """Fold the person's daily activity through openids that are gone or matched by `erased`
    (on identities `i`: being deleted) into rows without an openid, as the events' foreign
    key sets theirs to NULL."""
    where = (
        "a.person_id = %(person)s AND a.identity_id IS NOT NULL AND NOT EXISTS ("  # noqa: S608
        f"SELECT 1 FROM identity_identity i WHERE i.id = a.identity_id AND NOT ({erased}))"
    )
    _move_activity(
        where,
        {**params, "person": person.pk},
        to_person=person.pk,
        identity="NULL::bigint",
    )


EVENTS_MOVER = PersonDataMover(
    name="events",
    move=move_events,
    undo=undo_move_events,
    erase=erase_events,
    erase_apps=erase_app_events,
)
