"""Append events to the event table: one statement per batch, idempotent per (app, event id).

The key ledger (EventKey) and the events are written by one statement: the keys go in first,
ON CONFLICT DO NOTHING, and only the events whose key went in are inserted. A key already
stored, by a committed or a concurrent transaction (which the insert waits for), makes its event
a duplicate, whatever month it occurred in. Ids come from the event sequence before the keys are
written, so that each key records its event's id; a duplicate leaves a gap in the ids.
"""

import json

from django.db import IntegrityError, connection

from profiles.services.event_parsing import ParsedEvent
from profiles.services.partitions import ensure_months, forget_months
from profiles.services.stats_updates import StoredEvent

CHECK_VIOLATION = "23514"
INSERT = """
WITH batch AS MATERIALIZED (
    SELECT nextval('profiles_event_id_seq') AS id, e.*
    FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[],
                %s::timestamptz[], %s::numeric[], %s::text[], %s::jsonb[])
         AS e(event_id, person_id, identity_id, app_id, type, occurred_at, amount, channel,
              properties)
),
fresh AS (
    INSERT INTO profiles_eventkey (id, app_id, event_id)
    SELECT id, app_id, event_id FROM batch
    ON CONFLICT (app_id, event_id) DO NOTHING
    RETURNING id
)
INSERT INTO profiles_event (id, event_id, person_id, origin_person_id, identity_id, app_id, type,
    occurred_at, received_at, amount, channel, properties)
SELECT b.id, b.event_id, b.person_id, b.person_id, b.identity_id, b.app_id, b.type,
       b.occurred_at, now(), b.amount, b.channel, b.properties
FROM batch b JOIN fresh USING (id)
RETURNING id, person_id, type, occurred_at, amount, channel, event_id, app_id, origin_person_id,
          identity_id
"""


def insert_events(events: list[ParsedEvent], subjects) -> list[StoredEvent]:
    """Insert the events not stored yet; return the stored ones (a replay returns nothing).

    `subjects` maps each event's index to (person pk, identity pk or None). The months of the
    events get their partitions first (services/partitions.py): a late history import may reach
    a month nobody created yet.
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
    ensure_months(columns["occurred_at"])
    try:
        with connection.cursor() as cursor:
            cursor.execute(INSERT, list(columns.values()))
            rows = cursor.fetchall()
    except IntegrityError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == CHECK_VIOLATION:
            # Most likely "no partition found for row": a prune elsewhere dropped a month this
            # process remembered. Forget them all; the retried transaction creates it again.
            forget_months()
        raise
    return [StoredEvent(*row) for row in rows]
