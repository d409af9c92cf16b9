"""Re-encrypt personal data and secrets under the current personal-data key.

Rotation: put the new key first in PERSONAL_DATA_KEYS and keep the old one after it (both
decrypt), run `rotate_personal_data_key`, check that nothing is left under the old key, then
drop the old key. The command works in batches; each row is rewritten only if it still holds
the value that was read, so a concurrent change is never overwritten, and an interrupted run
simply continues (rows already under the current key are skipped).
"""

from collections.abc import Callable

from django.db import connection, transaction

from identity import crypto, person_cache
from identity.models import Actor, App, Person
from identity.services.audit import record_audit

ENCRYPTED_COLUMNS = [
    (Person, "phone_encrypted"),
    (App, "secret_encrypted"),
    (App, "callback_token_encrypted"),
    (App, "aes_key_encrypted"),
]


def register_encrypted_column(model, column: str) -> None:
    """Let an app that builds on identity (a platform's session keys) have its encrypted
    column rotated with identity's, so that one command leaves nothing under the old key."""
    if (model, column) not in ENCRYPTED_COLUMNS:
        ENCRYPTED_COLUMNS.append((model, column))


def _rows(model, column: str, after, batch_size: int):
    return list(
        model.objects.filter(pk__gt=after)
        .exclude(**{f"{column}__isnull": True})
        .exclude(**{column: ""})
        .order_by("pk")
        .values_list("pk", column)[:batch_size]
    )


def stale_counts(batch_size: int = 5000) -> dict[str, int]:
    """Count the values not yet under the current key, per table and column."""
    counts = {}
    for model, column in ENCRYPTED_COLUMNS:
        stale, after = 0, 0
        while rows := _rows(model, column, after, batch_size):
            stale += sum(not crypto.encrypted_with_current_key(token) for _, token in rows)
            after = rows[-1][0]
        counts[f"{model._meta.db_table}.{column}"] = stale
    return counts


def rotate_personal_data_key(
    *, actor: Actor, batch_size: int = 1000, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Re-encrypt every stale value; returns how many were rewritten per column."""
    rewritten = {}
    for model, column in ENCRYPTED_COLUMNS:
        name = f"{model._meta.db_table}.{column}"
        done, after = 0, 0
        while rows := _rows(model, column, after, batch_size):
            after = rows[-1][0]
            stale = [
                (pk, token) for pk, token in rows if not crypto.encrypted_with_current_key(token)
            ]
            if stale:
                done += _rewrite(model, column, stale)
                if progress:
                    progress(name, done)
        rewritten[name] = done
    with transaction.atomic():
        record_audit(actor=actor, action="keys.rotate", target="personal data", after=rewritten)
        person_cache.forget_all_on_commit()  # entries hold phones encrypted under older keys
    return rewritten


def _rewrite(model, column: str, stale: list[tuple]) -> int:
    table = model._meta.db_table
    pk_column = model._meta.pk.column
    pks = [pk for pk, _ in stale]
    olds = [token for _, token in stale]
    news = [crypto.reencrypt(token) for token in olds]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET {column} = v.new "  # noqa: S608 - names from the models
            f"FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(pk, old, new) "
            f"WHERE t.{pk_column} = v.pk AND t.{column} = v.old",
            [pks, olds, news],
        )
        return cursor.rowcount
