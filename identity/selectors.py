"""Reads of the identity graph, each with a fixed number of queries.

Person reads take the caller's `allowed_app_ids` (None: unrestricted) so that the sections of
the representation (stats) are computed from the apps that caller may see.
"""

import time
from collections.abc import Collection, Iterable
from functools import reduce
from operator import or_

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Q

from identity import person_cache
from identity.exceptions import PersonNotFound, UnknownApp
from identity.models import (
    ApiKey,
    App,
    AuditEntry,
    Identity,
    Person,
    Platform,
    UnionId,
)
from identity.person_reads import read_persons
from identity.phones import phone_index

_apps: dict[str, tuple[float, App]] = {}


def get_app(appid: str, *, field: str = "appid") -> App:
    """Return a registered app; unknown appids are a client error, never created on the fly.

    Apps change rarely and every request names one, so each process keeps them for
    APP_CACHE_SECONDS. Nothing secret is read from a cached app: the WeChat client reads the
    secret afresh for each call.
    """
    if not isinstance(appid, str):
        raise UnknownApp(str(appid), field=field)
    ttl = settings.APP_CACHE_SECONDS
    cached = _apps.get(appid)
    if ttl and cached and cached[0] > time.monotonic():
        return cached[1]
    app = App.objects.filter(appid=appid).first()
    if app is None:
        raise UnknownApp(appid, field=field)
    if ttl:
        _apps[appid] = (time.monotonic() + ttl, app)
    return app


def _read_person(kind: str, params: list, allowed_app_ids: set[int] | None) -> Person | None:
    """One person by one key, through the person cache."""
    return person_cache.read_through(kind, params, allowed_app_ids=allowed_app_ids)


def get_person(public_id: str, *, allowed_app_ids: set[int] | None = None) -> Person:
    """Return the live person for a public id; a merged-away id gives its survivor."""
    if not isinstance(public_id, str):
        raise PersonNotFound()
    person = _read_person("public_id", [public_id], allowed_app_ids)
    if person is None:
        raise PersonNotFound()
    return person


def find_by_openid(
    app: App, openid: str, *, allowed_app_ids: set[int] | None = None
) -> Person | None:
    return _read_person("openid", [app.pk, openid], allowed_app_ids)


def find_by_unionid(
    unionid: str, platform: str = Platform.WECHAT, *, allowed_app_ids: set[int] | None = None
) -> Person | None:
    return _read_person("unionid", [platform, unionid], allowed_app_ids)


def find_by_phone(e164: str, *, allowed_app_ids: set[int] | None = None) -> Person | None:
    return _read_person("phone_index", [phone_index(e164)], allowed_app_ids)


def _persons_by_key(
    pairs: Iterable[tuple[str, int]], allowed_app_ids: set[int] | None
) -> dict[str, Person]:
    pairs = list(pairs)
    pks = sorted({pk for _, pk in pairs})
    persons = {p.pk: p for p in read_persons("pks", [pks], allowed_app_ids=allowed_app_ids)}
    return {key: persons[pk] for key, pk in pairs if pk in persons}


def find_many_by_openids(
    app: App, openids: list[str], *, allowed_app_ids: set[int] | None = None
) -> dict[str, Person]:
    """Map each known openid of the app to its person in one query, whatever the count."""
    found = {}
    for person in read_persons("openids", [app.pk, openids], allowed_app_ids=allowed_app_ids):
        for row in person.identity_rows:
            if row["app_id"] == app.pk:
                found[row["openid"]] = person
    return found


def find_resolved(
    app: App, openid: str, unionid: str | None, *, allowed_app_ids: set[int] | None = None
) -> Person | None:
    """The person of an openid that resolving again would not change (the common case of a
    returning user), or None when the resolve has work to do."""
    person = find_by_openid(app, openid, allowed_app_ids=allowed_app_ids)
    if person is None or unionid is None:
        return person
    known = {row["platform"]: row["unionid"] for row in person.unionid_rows}
    return person if known.get(app.platform) == unionid else None


def find_many_by_unionids(
    unionids: list[str],
    platform: str = Platform.WECHAT,
    *,
    allowed_app_ids: set[int] | None = None,
) -> dict[str, Person]:
    rows = UnionId.objects.filter(platform=platform, unionid__in=unionids).values_list(
        "unionid", "person_id"
    )
    return _persons_by_key(rows, allowed_app_ids)


def find_many_by_phones(
    e164s: list[str], *, allowed_app_ids: set[int] | None = None
) -> dict[str, Person]:
    """Map normalised numbers to persons through the blind index."""
    by_index = {phone_index(e164): e164 for e164 in e164s}
    rows = Person.objects.live().filter(phone_index__in=by_index).values_list("phone_index", "pk")
    return _persons_by_key(((by_index[index], pk) for index, pk in rows), allowed_app_ids)


def erased_through_apps(person: Person, app_ids: Iterable[int]) -> bool:
    """Whether a key restricted to `app_ids` already erased this person's part in its apps.

    The person is then invisible to that key, yet a repeated DELETE (a retry after a lost
    answer) must answer 204 like the first; the erasure's audit entry names the apps erased.
    """
    appids = list(App.objects.filter(pk__in=app_ids).values_list("appid", flat=True))
    if not appids:
        return False
    pks = [pk for pk in (person.pk, person.merged_into_id) if pk is not None]
    named = reduce(or_, (Q(after__apps__contains=[appid]) for appid in appids))
    return AuditEntry.objects.filter(
        named, person_id__in=pks, action__in=("person.erase", "person.erase_apps")
    ).exists()


def live_pks(*pks: int) -> list[int]:
    """Map each person to its survivor (tombstones point straight at a live person)."""
    rows = dict(Person.objects.filter(pk__in=pks).values_list("pk", "merged_into_id"))
    return [rows.get(pk) or pk for pk in pks]


def visible_in(person_pk: int, app_ids: Collection[int] | None) -> bool:
    """Whether a caller confined to `app_ids` (None: not confined) can see the person."""
    if app_ids is None:
        return True
    return Identity.objects.filter(person_id=person_pk, app_id__in=app_ids).exists()


_keys: dict[str, tuple[float, ApiKey]] = {}


def live_api_key(key_hash: str) -> ApiKey | None:
    """A live key with its app restriction (`allowed_app_ids`, None for every app), loaded in
    the same query so that authorisation needs no further one.

    Each process keeps it for API_KEY_CACHE_SECONDS, so that the hot path skips the query;
    `forget_cached_keys` drops them when a key is revoked.
    """
    ttl = settings.API_KEY_CACHE_SECONDS
    cached = _keys.get(key_hash)
    if ttl and cached and cached[0] > time.monotonic():
        return cached[1]
    key = (
        ApiKey.objects.filter(key_hash=key_hash, revoked_at__isnull=True)
        .annotate(app_ids=ArrayAgg("apps__id", filter=Q(apps__isnull=False), default=[]))
        .first()
    )
    if key is not None:
        key.allowed_app_ids = set(key.app_ids) if key.app_ids else None
        if ttl:
            _keys[key_hash] = (time.monotonic() + ttl, key)
    return key


def forget_cached_keys() -> None:
    """Drop this process's cached keys (a revocation takes effect here at once)."""
    _keys.clear()


def find_stored_person(public_id: str) -> Person | None:
    """Return the person row of a public id as stored, erased or merged away alike, or None.

    Unlike `get_person`, an erased person is found and no merge is followed: a repeated erasure
    (a retry after a lost answer) must still answer 204, where a read of that id gives 404.
    """
    return Person.objects.filter(public_id=public_id).first()
