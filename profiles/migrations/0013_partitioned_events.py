"""The event table becomes partitioned by month of occurrence; idempotency keys move to a ledger.

PostgreSQL cannot turn a table into a partitioned one in place: the old table is renamed, a
partitioned table with the same columns, defaults, checks and foreign keys takes its name, gets
a partition for every month its rows need plus this month and the next three, and the rows are
copied over before the old table is dropped. The primary key becomes (id, occurred_at), as a
unique key of a partitioned table must hold the partition key; `id` keeps coming from one
sequence (identity columns are not supported on partitioned tables before PostgreSQL 17), so
Django's state keeps `id` as the primary key. `(app, event_id)` cannot be unique across
partitions: the keys of the existing events fill the new EventKey ledger. Two indexes that no
read needs any more are not recreated (see the Event model for which read uses each index).

The whole conversion takes ACCESS EXCLUSIVE on the events for as long as the copy lasts: run it
with ingest stopped (a maintenance window) on a big database.

The reverse is best effort: it rebuilds the plain table with its old unique constraint and
indexes from the partitioned one (the ledger is dropped), and refuses nothing.
"""

from django.db import migrations, models

OLD = "profiles_event_old"
# Kept indexes, as the Event model declares them.
INDEXES = (
    "CREATE INDEX event_person_timeline ON profiles_event (person_id, occurred_at DESC, id DESC)",
    "CREATE INDEX event_type_time ON profiles_event (type, occurred_at, person_id)",
    "CREATE INDEX event_identity ON profiles_event (identity_id) WHERE identity_id IS NOT NULL",
)
# The indexes of before, for the reverse.
OLD_INDEXES = (
    *INDEXES,
    "CREATE INDEX event_app_time ON profiles_event (app_id, occurred_at)",
    "CREATE INDEX event_occurred ON profiles_event (occurred_at, id)",
)


def _one(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchone()[0]


def _set_aside(cursor, aside: str) -> list[tuple[str, str]]:
    """Rename the event table and its sequence out of the way; return its foreign keys.

    Index names are unique per schema, so the old table's indexes are dropped (the copy reads
    it whole anyway) and its primary key renamed; its foreign keys are dropped after their
    definitions are read, to be added to the new table under the same names.
    """
    cursor.execute(f"ALTER TABLE profiles_event RENAME TO {aside}")
    sequence = _one(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [aside])
    cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {aside}_id_seq")
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('f', 'p', 'u')",
        [aside],
    )
    foreign_keys = []
    for name, kind, definition in cursor.fetchall():
        if kind == "p":
            cursor.execute(f"ALTER TABLE {aside} RENAME CONSTRAINT {name} TO {aside}_pkey")
        else:
            cursor.execute(f"ALTER TABLE {aside} DROP CONSTRAINT {name}")
            if kind == "f":
                foreign_keys.append((name, definition))
    cursor.execute(
        "SELECT i.indexrelid::regclass::text FROM pg_index i "
        "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND c.oid IS NULL",
        [aside],
    )
    for (index,) in cursor.fetchall():
        cursor.execute(f"DROP INDEX {index}")
    return foreign_keys


def _finish(cursor, aside: str, foreign_keys, indexes) -> None:
    for sql in indexes:
        cursor.execute(sql)
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE profiles_event ADD CONSTRAINT {name} {definition}")
    cursor.execute(f"DROP TABLE {aside}")


def partition_events(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("LOCK TABLE profiles_event IN ACCESS EXCLUSIVE MODE")
        foreign_keys = _set_aside(cursor, OLD)
        cursor.execute(
            f"CREATE TABLE profiles_event (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (occurred_at)"
        )
        cursor.execute("CREATE SEQUENCE profiles_event_id_seq AS bigint OWNED BY profiles_event.id")
        cursor.execute(
            "SELECT setval('profiles_event_id_seq', last_value, is_called) "  # noqa: S608
            f"FROM {OLD}_id_seq"
        )
        cursor.execute(
            "ALTER TABLE profiles_event "
            "ALTER COLUMN id SET DEFAULT nextval('profiles_event_id_seq')"
        )
        cursor.execute(
            "SELECT to_char(m, 'YYYYMM'), m, m + interval '1 month' FROM ("  # noqa: S608
            f"  SELECT DISTINCT date_trunc('month', occurred_at, 'UTC') AS m FROM {OLD}"
            "  UNION SELECT date_trunc('month', now(), 'UTC') + make_interval(months => g)"
            "  FROM generate_series(0, 3) AS g) AS months ORDER BY m"
        )
        for month, start, end in cursor.fetchall():
            cursor.execute(
                f"CREATE TABLE profiles_event_p{month} PARTITION OF profiles_event "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        cursor.execute(f"INSERT INTO profiles_event SELECT * FROM {OLD}")  # noqa: S608
        cursor.execute(
            "INSERT INTO profiles_eventkey (id, app_id, event_id) "  # noqa: S608
            f"SELECT id, app_id, event_id FROM {OLD}"
        )
        cursor.execute(
            "ALTER TABLE profiles_event ADD CONSTRAINT profiles_event_pkey "
            "PRIMARY KEY (id, occurred_at)"
        )
        _finish(cursor, OLD, foreign_keys, INDEXES)


def unpartition_events(apps, schema_editor):
    aside = "profiles_event_partitioned"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("LOCK TABLE profiles_event IN ACCESS EXCLUSIVE MODE")
        foreign_keys = _set_aside(cursor, aside)
        cursor.execute(
            f"CREATE TABLE profiles_event (LIKE {aside} INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE INCLUDING COMMENTS)"
        )
        cursor.execute(
            "ALTER TABLE profiles_event ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('profiles_event', 'id'), "  # noqa: S608
            f"last_value, is_called) FROM {aside}_id_seq"
        )
        cursor.execute(f"INSERT INTO profiles_event SELECT * FROM {aside}")  # noqa: S608
        cursor.execute("ALTER TABLE profiles_event ADD PRIMARY KEY (id)")
        cursor.execute(
            "ALTER TABLE profiles_event ADD CONSTRAINT event_app_event_id "
            "UNIQUE NULLS NOT DISTINCT (app_id, event_id)"
        )
        _finish(cursor, aside, foreign_keys, OLD_INDEXES)


class Migration(migrations.Migration):
    dependencies = [("profiles", "0012_pending_events")]

    operations = [
        migrations.CreateModel(
            name="EventKey",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("event_id", models.CharField(max_length=64, verbose_name="event id")),
                (
                    "app",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="identity.app",
                    ),
                ),
            ],
            options={
                "verbose_name": "event key",
                "verbose_name_plural": "event keys",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("app", "event_id"), name="event_key_unique", nulls_distinct=False
                    )
                ],
            },
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(partition_events, unpartition_events, elidable=False),
            ],
            state_operations=[
                migrations.RemoveConstraint(model_name="event", name="event_app_event_id"),
                migrations.RemoveIndex(model_name="event", name="event_app_time"),
                migrations.RemoveIndex(model_name="event", name="event_occurred"),
            ],
        ),
    ]
