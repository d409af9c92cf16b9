"""Which stored events are still waiting for the pipeline (rebuilds must leave those out).

Stats and activity rollups count the events the pipeline has applied. A rebuild that counted a
pending event as well would count it twice once the worker applies it, so every rebuild reads
events through `APPLIED`. An anti-join (NOT EXISTS), not `NOT IN (SELECT unnest(...))`: with
a long backlog (the worker down for hours) the ids outgrow work_mem, where NOT IN's hashed
subplan falls back to comparing every event with every pending id, while the planner can hash
the anti-join and spill it to disk.
"""

APPLIED = (
    "NOT EXISTS (SELECT 1 FROM profiles_pendingevents p, unnest(p.event_ids) AS u(id) "
    "WHERE u.id = e.id)"
)
"""SQL condition on an event aliased `e`: the pipeline has applied it."""

APPLIER_LOCK = "profiles.apply_pending_events"
"""Advisory lock of the chunk applier (services/pipeline.py); a full rebuild takes it too."""


def lock_out_applier(cursor) -> None:
    """Wait for the chunk in flight and keep the next one out until this transaction ends.

    A full rebuild or check compares or rewrites every person's rows: a chunk committing in the
    middle would show as drift (or collide with the rebuild's inserts).
    """
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [APPLIER_LOCK])
