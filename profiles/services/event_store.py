"""Append events to the event table: one statement per batch, idempotent per (app, event id)."""

import json

from django.db import connection

from profiles.services.event_parsing import ParsedEvent
from profiles.services.stats_updates import StoredEvent


def insert_events(events: list[ParsedEvent], subjects) -> list[StoredEvent]:
    """Insert the events not stored yet; return the stored ones (a replay returns nothing).

    `subjects` maps each event's index to (person pk, identity pk or None).
    """
    if not events:
        return []
    columns = {
        "event_id": [],
        "person_id": [],
        "identity_id": [],
        "app_id": [],
        "type": [],
        "occurred_at": [],
        "amount": [],
        "channel": [],
        "properties": [],
    }
    for event in events:
        person_pk, identity_pk = subjects[event.index]
        columns["event_id"].append(event.event_id)
        columns["person_id"].append(person_pk)
        columns["identity_id"].append(identity_pk)
        columns["app_id"].append(event.app.pk if event.app else None)
        columns["type"].append(event.type)
        columns["occurred_at"].append(event.occurred_at)
        columns["amount"].append(event.amount)
        columns["channel"].append(event.channel)
        columns["properties"].append(json.dumps(event.properties, ensure_ascii=False))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_event (event_id, person_id, origin_person_id, identity_id, app_id,
                type, occurred_at, received_at, amount, channel, properties)
            SELECT event_id, person_id, person_id, identity_id, app_id, type, occurred_at, now(),
                   amount, channel, properties
            FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[],
                        %s::timestamptz[], %s::numeric[], %s::text[], %s::jsonb[])
                 AS e(event_id, person_id, identity_id, app_id, type, occurred_at, amount,
                      channel, properties)
            ON CONFLICT (app_id, event_id) DO NOTHING
            RETURNING id, person_id, type, occurred_at, amount, channel, event_id, app_id,
                      origin_person_id, identity_id
            """,
            list(columns.values()),
        )
        rows = cursor.fetchall()
    return [StoredEvent(*row) for row in rows]
