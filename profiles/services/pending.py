"""Which stored events are still waiting for the pipeline (rebuilds must leave those out).

Stats and activity rollups count the events the pipeline has applied. A rebuild that counted a
pending event as well would count it twice once the worker applies it, so every rebuild reads
events through `APPLIED` (a hashed anti-join on the small pending table).
"""

APPLIED = "e.id NOT IN (SELECT unnest(p.event_ids) FROM profiles_pendingevents p)"
"""SQL condition on an event aliased `e`: the pipeline has applied it."""
