"""Registry of data that other apps attach to a person.

Merges, undos and erasure must carry along everything that hangs on a person (events, stats,
tags in `profiles`). Rather than the identity app knowing those models, each owning app registers
a mover in its AppConfig.ready(); the merge service calls every mover inside its transaction and
stores what each returns in the merge record, which is what the undo hands back. Erasure calls
the movers' erase hooks in its own transaction and notes what they return in its audit entry.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from identity.models import Person


@dataclass(frozen=True)
class PersonDataMover:
    name: str
    # (loser, survivor, moved) -> JSON-serialisable note kept in the merge record under `name`.
    # `moved` lists the loser's identity and tombstone pks; the loser still owns them when
    # the mover runs.
    move: Callable[[Person, Person, dict], Any]
    # (survivor, loser, moved) -> None: give back what `move` moved; `moved[name]` is its note.
    undo: Callable[[Person, Person, dict], None]
    # (person) -> counts or None: remove personal data on erasure (the counts go in the audit).
    erase: Callable[[Person], dict | None] | None = None
    # (person, app pks) -> counts or None: remove what came through those apps only, when a key
    # restricted to them erases a person other apps still hold.
    erase_apps: Callable[[Person, list[int]], dict | None] | None = None
    # (note) -> note: the merge record's note without personal values, once a person of the
    # merge is erased (such a merge can no longer be undone).
    forget: Callable[[Any], Any] | None = None


_movers: dict[str, PersonDataMover] = {}


def register_mover(mover: PersonDataMover) -> None:
    """Register (or replace, on reload) the mover of one kind of person-owned data."""
    _movers[mover.name] = mover


def movers() -> list[PersonDataMover]:
    return list(_movers.values())
