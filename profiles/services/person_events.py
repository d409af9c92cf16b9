"""Carry events, rollups and stats through merges, undos and erasure of persons."""

from django.db import connection

from identity.models import Person
from identity.services.person_data import PersonDataMover
from profiles.services.stats_rebuild import rebuild_stats


def move_events(loser: Person, survivor: Person, moved: dict) -> dict:
    """Give the survivor the loser's events and rollups, then recompute the survivor's stats.

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
    rebuild_stats([survivor.pk, loser.pk])
    return {"origins": origins, "identities": moved["identities"]}


def undo_move_events(survivor: Person, loser: Person, moved: dict) -> None:
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
    rebuild_stats([survivor.pk, loser.pk])


def erase_events(person: Person) -> dict:
    """Erasure keeps events as anonymous aggregates but drops their free-form properties and
    channels (a channel is free text a backend may have filled with anything); rollups lose
    their first channel and the stats, rebuilt, with it."""
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
    rebuild_stats([person.pk])
    return {"events_deleted": events, "rollups_deleted": rollups}


EVENTS_MOVER = PersonDataMover(
    name="events",
    move=move_events,
    undo=undo_move_events,
    erase=erase_events,
    erase_apps=erase_app_events,
)
