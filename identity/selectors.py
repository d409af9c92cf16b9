"""Reads of the identity graph, each with a fixed number of queries."""

import time
from collections.abc import Iterable

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q, QuerySet
from django.db.models.functions import JSONObject

from identity.exceptions import PersonNotFound, UnknownApp
from identity.models import App, Identity, Person, Platform, UnionId
from identity.person_sections import sections
from identity.phones import phone_index


def person_queryset() -> QuerySet[Person]:
    """Live persons with everything their representation needs, in the same single query.

    Identities, unionids and the sections other apps add (stats, tags) come as JSON arrays
    built by PostgreSQL (`identity_rows`, `unionid_rows`, ...), so reading one person or a
    thousand is one round trip.
    """
    identities = (
        Identity.objects.filter(person=OuterRef("pk"))
        .order_by("app__appid")
        .values(
            json=JSONObject(
                app_id="app_id",
                appid="app__appid",
                app_kind="app__kind",
                openid="openid",
                followed="followed",
                followed_at="followed_at",
            )
        )
    )
    unionids = (
        UnionId.objects.filter(person=OuterRef("pk"))
        .order_by("platform")
        .values(json=JSONObject(platform="platform", unionid="unionid"))
    )
    queryset = Person.objects.live().annotate(
        identity_rows=ArraySubquery(identities), unionid_rows=ArraySubquery(unionids)
    )
    for section in sections():
        queryset = section.prepare(queryset)
    return queryset


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


def get_person(public_id: str) -> Person:
    """Return the live person for a public id; a merged-away id gives its survivor."""
    person = (
        person_queryset().filter(Q(public_id=public_id) | Q(absorbed__public_id=public_id)).first()
    )
    if person is None:
        raise PersonNotFound()
    return person


def find_by_openid(app: App, openid: str) -> Person | None:
    return person_queryset().filter(identities__app=app, identities__openid=openid).first()


def find_by_unionid(unionid: str, platform: str = Platform.WECHAT) -> Person | None:
    return person_queryset().filter(unionids__platform=platform, unionids__unionid=unionid).first()


def find_by_phone(e164: str) -> Person | None:
    return person_queryset().filter(phone_index=phone_index(e164)).first()


def _persons_by_key(pairs: Iterable[tuple[str, int]]) -> dict[str, Person]:
    pairs = list(pairs)
    persons = person_queryset().in_bulk({person_pk for _, person_pk in pairs})
    return {key: persons[pk] for key, pk in pairs if pk in persons}


def find_many_by_openids(app: App, openids: list[str]) -> dict[str, Person]:
    """Map each known openid of the app to its person in three queries, whatever the count."""
    rows = Identity.objects.filter(app=app, openid__in=openids).values_list("openid", "person_id")
    return _persons_by_key(rows)


def find_many_by_unionids(
    unionids: list[str], platform: str = Platform.WECHAT
) -> dict[str, Person]:
    rows = UnionId.objects.filter(platform=platform, unionid__in=unionids).values_list(
        "unionid", "person_id"
    )
    return _persons_by_key(rows)


def find_many_by_phones(e164s: list[str]) -> dict[str, Person]:
    """Map normalised numbers to persons through the blind index."""
    by_index = {phone_index(e164): e164 for e164 in e164s}
    rows = Person.objects.live().filter(phone_index__in=by_index).values_list("phone_index", "pk")
    return _persons_by_key((by_index[index], pk) for index, pk in rows)
