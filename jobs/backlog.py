"""Work that waits for the worker outside procrastinate's queue, as the apps that own it declare.

A coalesced job stands for many rows of its app's own table (one pipeline job for every
PendingEvents row): the queue's depth says one job waits, the table says how much work. An app
registers such a table here (profiles registers its pending events in ProfilesConfig.ready),
and `/healthz` and the admin read it without importing the app: the dependency points from
the domain app to this plumbing, never back, and the app that owns the table names its columns.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model


@dataclass(frozen=True)
class Backlog:
    """A table of waiting work: `count_field` sums the units, `since_field` dates the oldest.

    `catch_up` enqueues the job that works it off; a starting worker calls it, so that rows
    whose job died with a killed worker do not wait for that job's stalled-job retry.
    """

    key: str
    age_key: str
    model: type[Model]
    count_field: str
    since_field: str
    catch_up: Callable[[], object] | None = None

    def sql(self) -> tuple[str, str]:
        """The two scalar subqueries (units waiting, oldest time) for one statement."""
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        count = quote(self.model._meta.get_field(self.count_field).column)
        since = quote(self.model._meta.get_field(self.since_field).column)
        return (
            f"(SELECT COALESCE(sum({count}), 0) FROM {table})",  # noqa: S608 - identifiers
            f"(SELECT min({since}) FROM {table})",  # noqa: S608 - from model metadata
        )


_BACKLOGS: dict[str, Backlog] = {}


def register(
    key: str,
    *,
    age_key: str,
    model: type[Model],
    count_field: str,
    since_field: str,
    catch_up: Callable[[], object] | None = None,
) -> None:
    """Declare a table of waiting work; `key` and `age_key` name it in `/healthz`'s "queue"."""
    _BACKLOGS[key] = Backlog(
        key=key,
        age_key=age_key,
        model=model,
        count_field=count_field,
        since_field=since_field,
        catch_up=catch_up,
    )


def catch_up_all() -> None:
    """Enqueue the job of every registered backlog that has rows (a worker's start)."""
    for backlog in _BACKLOGS.values():
        if backlog.catch_up is not None:
            backlog.catch_up()


def registered() -> list[Backlog]:
    return list(_BACKLOGS.values())
