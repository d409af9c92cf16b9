"""Fill the columns of 0019 from the stored seen times, in batches, then index the first event.

Until 0019 first_seen_at was the first event; 0017 gave persons without events their creation
as seen. A row with events keeps that first event as `first_event_at`; a row without holds
resolve times only. Not atomic: each batch of persons commits on its own, so the stats (which
every login and ingest writes) are never locked for long, and the index is built concurrently.
A row a resolve of the new code already touched (`first_resolved_at` set) is left to it; if
events were ingested while this ran, `manage.py rebuild_stats --check` tells and a rebuild
repairs (it derives every column from events and the resolve times).
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

BATCH = 20_000

BACKFILL = """
UPDATE profiles_personstats SET
    first_event_at = CASE WHEN event_count > 0
                          THEN LEAST(first_event_at, first_seen_at) END,
    first_resolved_at = CASE WHEN event_count = 0 THEN first_seen_at END,
    last_resolved_at = CASE WHEN event_count = 0 THEN last_seen_at END
WHERE person_id >= %s AND person_id < %s
  AND first_resolved_at IS NULL AND last_resolved_at IS NULL
  AND (first_seen_at IS NOT NULL OR last_seen_at IS NOT NULL)
"""


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT min(person_id), max(person_id) FROM profiles_personstats")
        low, high = cursor.fetchone()
        if low is None:
            return
        for start in range(low, high + 1, BATCH):
            cursor.execute(BACKFILL, [start, start + BATCH])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("profiles", "0019_seen_sources"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        AddIndexConcurrently(
            model_name="personstats",
            index=models.Index(fields=["first_event_at"], name="personstats_first_event"),
        ),
    ]
