"""A read-through cache of persons (Redis, through Django's cache) by every key they are read by.

A lookup is one `get_many` round trip: the entry of the key (`appid + openid`, `platform +
unionid`, phone index, public id), the key's generation and the cache's epoch. The entry holds
the generation and epoch it was filled under, and is a hit only while both are unchanged.

Every change of a person calls `changed(person_ids)` inside its transaction. After the commit,
the keys of those persons (read afresh on the primary, plus those read before the change when
the change removes keys) get a new random generation. A reader that read the old generation
before the commit and fills the entry after it leaves an entry that no longer matches: it can
never serve what the commit replaced. Once the changing call returned, every lookup answers
the committed data. Changes that reach every person (a tag renamed, an app's kind, personal
data keys rotated) call `forget_all`, which replaces the epoch.

The entry holds the unrestricted read (`identity.person_reads`) and, once a key restricted to
apps asked for the person, the per-app parts of the sections whose content depends on the apps
(stats count a restricted key's apps only): that key's answer is derived from the same entry,
never cached per key. Reads inside a transaction read the database: the transaction may have
changed the person. Misses read the primary, never a replica (see `read_through`).

When Redis does not answer, lookups read the database. An invalidation that could not be
written leaves the epoch to replace: the process retries that every second and meanwhile reads
the database, so that entries the failed invalidation should have replaced are never served.
"""

import hashlib
import logging
import secrets
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction

from config.db_routing import primary_reads
from config.metrics import PERSON_CACHE_REQUESTS
from identity.models import Person
from identity.person_reads import read_person
from identity.person_sections import sections

logger = logging.getLogger(__name__)

ENTRY, GENERATION, EPOCH = "person:", "person-gen:", "person-epoch"
# How much longer a generation lives than the entries filled under it: an entry filled by a
# request that read before a change must expire before the generation that outdates it does.
GENERATION_MARGIN_SECONDS = 3600
# A change of more persons than this (a rule's first refresh) replaces the epoch instead: cheaper
# than reading and outdating every key, at the price of a cold cache.
BULK_PERSONS = 10_000
KINDS = {"openid": "o", "unionid": "u", "phone_index": "p", "public_id": "i"}

_owed = threading.Event()  # an invalidation failed: the epoch must be replaced
_debt = [0]  # failed invalidations so far: a replaced epoch settles those it saw
_debt_lock = threading.Lock()


def enabled() -> bool:
    return settings.PERSON_CACHE_SECONDS > 0 and not _owed.is_set()


def cache_key(kind: str, params: Iterable) -> str:
    """The key's suffix: hashed, so that no openid or phone index is written into Redis keys."""
    raw = "\x1f".join(str(value) for value in params).encode()
    return f"{KINDS[kind]}:{hashlib.blake2b(raw, digest_size=16).hexdigest()}"


def read_through(
    kind: str, params: list, *, allowed_app_ids: set[int] | None = None
) -> Person | None:
    """The live person of a key, as a caller restricted to `allowed_app_ids` (None: every app)
    sees it: from the cache, else from the database, which then fills the entry."""
    if not enabled() or connections["default"].in_atomic_block:
        PERSON_CACHE_REQUESTS.labels(result="bypass").inc()
        return read_person(kind, params, allowed_app_ids=allowed_app_ids)
    restricted = None if allowed_app_ids is None else frozenset(allowed_app_ids)
    suffix = cache_key(kind, params)
    try:
        found = cache.get_many([ENTRY + suffix, GENERATION + suffix, EPOCH])
    except Exception as exc:  # Redis unreachable or failing: the database answers
        PERSON_CACHE_REQUESTS.labels(result="error").inc()
        logger.warning("person cache unavailable: %s", type(exc).__name__)
        return read_person(kind, params, allowed_app_ids=allowed_app_ids)
    generation, epoch = found.get(GENERATION + suffix), found.get(EPOCH)
    entry = found.get(ENTRY + suffix)
    valid = entry is not None and entry[0] == generation and entry[1] == epoch
    if valid and (restricted is None or entry[2][-1] is not None):
        PERSON_CACHE_REQUESTS.labels(result="hit").inc()
        return _unpack(entry[2], restricted)
    PERSON_CACHE_REQUESTS.labels(result="miss").inc()
    try:
        generation, epoch = _established(suffix, generation, epoch)
    except Exception as exc:
        logger.warning("person cache unavailable: %s", type(exc).__name__)
        generation = epoch = None
    # From the primary: a replica may not have replayed a change whose invalidation already
    # happened, and the entry would then keep what that change replaced.
    with primary_reads():
        person = read_person(kind, params, app_parts=restricted is not None)
    if person is None:
        return None
    seconds = _seconds(person)
    if generation is not None and epoch is not None and seconds > 0:
        try:
            cache.set(ENTRY + suffix, (generation, epoch, _pack(person)), seconds)
        except Exception as exc:
            logger.warning("person cache fill failed: %s", type(exc).__name__)
    return _unpack(_pack(person), restricted)


def _established(suffix: str, generation, epoch) -> tuple:
    """The generation and epoch a fill may be made under: created now when absent, so that an
    entry never holds "none" (a generation that Redis evicted would make it valid again). None
    when another process created it meanwhile: this read then fills nothing."""
    if epoch is None:
        token = secrets.token_hex(8)
        epoch = token if cache.add(EPOCH, token, timeout=None) else None
    if generation is None:
        token = secrets.token_hex(8)
        timeout = settings.PERSON_CACHE_SECONDS + GENERATION_MARGIN_SECONDS
        generation = token if cache.add(GENERATION + suffix, token, timeout=timeout) else None
    return generation, epoch


def changed(person_ids: Iterable[int], *, removes_keys: bool = False) -> None:
    """Outdate the cached entries of these persons once the current transaction commits.

    Call it inside the transaction that changes them. A change that takes keys away from a
    person (a phone number changed or moved, identities erased, an openid migrated) passes
    `removes_keys`: their keys are then also read now, before the change, since after it no
    person holds them.
    """
    if settings.PERSON_CACHE_SECONDS <= 0:
        return
    ids = sorted({pk for pk in person_ids if pk is not None})
    if not ids:
        return
    if len(ids) > BULK_PERSONS:
        transaction.on_commit(forget_all)
        return
    before = _keys_of(ids) if removes_keys else set()
    transaction.on_commit(lambda: _outdate(ids, before))


def forget_all() -> None:
    """Outdate every entry at once (a change that shows in every person's answer)."""
    if settings.PERSON_CACHE_SECONDS <= 0:
        return
    with _debt_lock:
        owed_before = _debt[0]
    try:
        cache.set(EPOCH, secrets.token_hex(8), timeout=None)
    except Exception as exc:
        logger.warning("person cache epoch not replaced: %s", type(exc).__name__)
        _owe_epoch()
        return
    with _debt_lock:
        # An invalidation that failed while the epoch was being written is owed still.
        if _debt[0] == owed_before:
            _owed.clear()


def forget_all_on_commit() -> None:
    transaction.on_commit(forget_all)


def _outdate(ids: list[int], before: set[str]) -> None:
    keys = before | _keys_of(ids)
    if not keys:
        return
    generation = secrets.token_hex(8)
    timeout = settings.PERSON_CACHE_SECONDS + GENERATION_MARGIN_SECONDS
    try:
        cache.set_many({GENERATION + key: generation for key in keys}, timeout=timeout)
    except Exception as exc:
        logger.warning("person cache invalidation failed: %s", type(exc).__name__)
        _owe_epoch()


_KEYS_SQL = """
SELECT 'openid', i.app_id::text, i.openid FROM identity_identity i WHERE i.person_id = ANY(%s)
UNION ALL
SELECT 'unionid', u.platform, u.unionid FROM identity_unionid u WHERE u.person_id = ANY(%s)
UNION ALL
SELECT 'phone_index', p.phone_index, NULL FROM identity_person p
 WHERE p.id = ANY(%s) AND p.phone_index IS NOT NULL
UNION ALL
SELECT 'public_id', p.public_id, NULL FROM identity_person p
 WHERE p.id = ANY(%s) OR p.merged_into_id = ANY(%s)
"""


def _keys_of(ids: list[int]) -> set[str]:
    """Every key the persons are read by, tombstones merged into them included (their public
    ids read as the survivor)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(_KEYS_SQL, [ids] * 5)
        rows = cursor.fetchall()
    return {cache_key(kind, [a] if b is None else [a, b]) for kind, a, b in rows}


def _owe_epoch() -> None:
    """Read the database until the epoch is replaced; retry that every second meanwhile."""
    with _debt_lock:
        _debt[0] += 1
        if _owed.is_set():
            return
        _owed.set()

    def retry():
        forget_all()
        if _owed.is_set():
            _start(retry)

    _start(retry)


def _start(work) -> None:
    timer = threading.Timer(1.0, work)
    timer.daemon = True
    timer.start()


def _pack(person: Person) -> tuple:
    """The entry: the unrestricted read, and the per-app parts once a restricted caller needed
    them (None until then)."""
    names = [section.name for section in sections()]
    parts = getattr(person, "app_parts", None)
    return (
        person.pk,
        person.public_id,
        person.phone_encrypted,
        person.created_at,
        person.updated_at,
        person.identity_rows,
        person.unionid_rows,
        {name: getattr(person, f"section_{name}") for name in names},
        parts or None,
    )


def _unpack(packed: tuple, restricted: frozenset[int] | None) -> Person:
    """The person as a caller restricted to `restricted` (None: unrestricted) is shown it; a
    restricted caller's sections are derived from the entry's per-app parts."""
    pk, public_id, phone, created, updated, identities, unionids, values, parts = packed
    person = Person(
        id=pk, public_id=public_id, phone_encrypted=phone, created_at=created, updated_at=updated
    )
    person._state.adding = False
    person.sections_for = restricted
    person.identity_rows, person.unionid_rows = identities, unionids
    for section in sections():
        value = values[section.name]
        if restricted is not None and section.restrict is not None:
            value = section.restrict(parts[section.name], restricted)
        setattr(person, f"section_{section.name}", value)
    return person


def _seconds(person: Person) -> int:
    """The entry's lifetime, cut short by the first moment a section's answer changes by
    itself (a tag that expires); 0: do not fill."""
    seconds = settings.PERSON_CACHE_SECONDS
    now = datetime.now(UTC)
    for section in sections():
        until = section.valid_until(getattr(person, f"section_{section.name}"))
        if until is not None:
            # Whole seconds (Redis' unit), rounded down; under one second: no entry at all.
            seconds = min(seconds, max(0, int((until - now).total_seconds())))
    return seconds
