"""Reads of the identity graph, each with a fixed number of queries."""

from collections.abc import Iterable

from django.db.models import Prefetch, Q, QuerySet

from identity.exceptions import PersonNotFound, UnknownApp
from identity.models import App, Identity, Person, Platform, UnionId
from identity.person_sections import sections
from identity.phones import phone_index


def person_queryset() -> QuerySet[Person]:
    """Live persons with what their representation needs (a fixed number of extra queries)."""
    identities = Identity.objects.select_related("app").order_by("app__appid")
    queryset = Person.objects.live().prefetch_related(
        Prefetch("identities", queryset=identities),
        Prefetch("unionids", queryset=UnionId.objects.order_by("platform")),
    )
    for section in sections():
        queryset = section.prepare(queryset)
    return queryset


def get_app(appid: str, *, field: str = "appid") -> App:
    """Return a registered app; unknown appids are a client error, never created on the fly."""
    app = App.objects.filter(appid=appid).first() if isinstance(appid, str) else None
    if app is None:
        raise UnknownApp(str(appid), field=field)
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
