"""Who records that a person was seen by a resolve or a login (profiles: first/last seen).

A person is seen by every event, login and resolve (DESIGN.md, "Tags"). Events carry their own
times and the profiles pipeline folds them into the stats; a resolve has no event, so identity
tells whoever registered here, inside the resolve's transaction, that these persons were seen at
that moment. Identity never imports the apps that keep the "seen" times: they register a
recorder in their AppConfig.ready (profiles does, see profiles/services/seen.py).

A recorder takes (person ids, at, durable=True), writes set-wise in the caller's transaction
and must be cheap: resolve is the hot lookup path.
"""

from collections.abc import Callable, Collection
from datetime import datetime

# (person ids, at, durable=True); durable=False: a statement of its own that may be lost.
SeenRecorder = Callable[..., None]

_recorders: dict[str, SeenRecorder] = {}


def register_seen_recorder(name: str, recorder: SeenRecorder) -> None:
    """Register (or replace, on reload) one app's recorder of seen persons."""
    _recorders[name] = recorder


def record_seen(*, person_ids: Collection[int], at: datetime) -> None:
    """Tell every registered recorder that these (live) persons were seen at `at`."""
    if not person_ids:
        return
    for recorder in _recorders.values():
        recorder(person_ids, at)


def record_sighting(*, person_ids: Collection[int], at: datetime) -> None:
    """Record a sighting that changes nothing else (a returning user's resolve), outside any
    transaction, committed without waiting for the WAL flush.

    The fast path of a resolve writes nothing but this; waiting for the flush would cost it more
    than the rest of the request. A crash may lose the last moments' sightings, which only
    leaves a last seen behind by those moments (the next sighting moves it again).
    """
    if not person_ids:
        return
    for recorder in _recorders.values():
        recorder(person_ids, at, durable=False)
