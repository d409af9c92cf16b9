"""Factories (factory_boy) for the rows most tests stand on: apps, persons, keys, tags, segments.

Each builds one valid row through its model, with nothing but what the test names: a person in
the mini-program is `PersonFactory(openids={miniprogram: "oMini1"})`. They write no audit entries
and refresh no stats or rule tags, so that a test which is about a service (its audit entry, the
stats it leaves) calls that service itself. Where only a service makes a row whole, the factory
asks it: an API key whose plaintext a test sends is `ApiKeyFactory.with_plaintext(...)`.
"""

from collections.abc import Iterable, Mapping

import factory
from factory.django import DjangoModelFactory

from config.api.scopes import ALL_SCOPES
from identity import crypto
from identity.models import Actor, ApiKey, App, AppKind, Identity, Person, Platform, UnionId
from identity.models.api_keys import generate_key, hash_key
from identity.phones import normalize_phone
from identity.services.api_keys import create_api_key
from profiles.models import EventType, Segment, Tag, TagGroup, TagKind

# The actor of everything the suite sets up through services.
SYSTEM = Actor.system("tests")


class AppFactory(DjangoModelFactory):
    """A WeChat app; an appid already stored is returned as it is (set-up may name it twice)."""

    class Meta:
        model = App
        django_get_or_create = ("appid",)

    appid = factory.Sequence(lambda n: f"wxf{n:015d}")
    name = factory.Faker("company")
    platform = Platform.WECHAT
    kind = AppKind.MINIPROGRAM


class MiniProgramFactory(AppFactory):
    kind = AppKind.MINIPROGRAM


class ServiceAccountFactory(AppFactory):
    kind = AppKind.SERVICE_ACCOUNT


class H5Factory(AppFactory):
    kind = AppKind.H5


class PersonFactory(DjangoModelFactory):
    """A live person; `openids` maps apps to its openids, `unionid` and `phone` are optional.

    The phone is stored as binding it would store it: normalised, encrypted, blind-indexed.
    """

    class Meta:
        model = Person
        skip_postgeneration_save = True

    class Params:
        phone = None

    phone_encrypted = factory.LazyAttribute(
        lambda o: crypto.encrypt(normalize_phone(o.phone).e164) if o.phone else None
    )
    phone_index = factory.LazyAttribute(
        lambda o: normalize_phone(o.phone).index if o.phone else None
    )

    @factory.post_generation
    def unionid(person, create, extracted: str | None, **kwargs):
        if create and extracted:
            UnionIdFactory(person=person, unionid=extracted)

    @factory.post_generation
    def openids(person, create, extracted: Mapping[App, str] | None, **kwargs):
        for app, openid in (extracted or {}).items() if create else ():
            IdentityFactory(person=person, app=app, openid=openid)


class IdentityFactory(DjangoModelFactory):
    """An openid in an app, of a new person unless `person` is given."""

    class Meta:
        model = Identity

    app = factory.SubFactory(MiniProgramFactory)
    openid = factory.Sequence(lambda n: f"oFactory{n}")
    person = factory.SubFactory(PersonFactory)


class UnionIdFactory(DjangoModelFactory):
    class Meta:
        model = UnionId

    person = factory.SubFactory(PersonFactory)
    platform = Platform.WECHAT
    unionid = factory.Sequence(lambda n: f"uFactory{n}")


class ApiKeyFactory(DjangoModelFactory):
    """A live key with every scope and every app unless told; its plaintext is not kept."""

    class Meta:
        model = ApiKey
        skip_postgeneration_save = True

    class Params:
        generated = factory.LazyFunction(generate_key)

    name = factory.Sequence(lambda n: f"factory key {n}")
    prefix = factory.LazyAttribute(lambda o: o.generated[0])
    key_hash = factory.LazyAttribute(lambda o: hash_key(o.generated[1]))
    scopes = factory.LazyFunction(lambda: list(ALL_SCOPES))

    @factory.post_generation
    def apps(key, create, extracted: Iterable[App] | None, **kwargs):
        if create and extracted:
            key.apps.set(extracted)

    @classmethod
    def with_plaintext(
        cls, *, scopes: Iterable[str] = ALL_SCOPES, apps: Iterable[str] = (), name: str = "test key"
    ) -> tuple[ApiKey, str]:
        """A key made as an operator makes one, with the plaintext shown once: what a client
        sends. `apps` are appids."""
        return create_api_key(name=name, scopes=scopes, appids=apps, actor=SYSTEM)


class TagGroupFactory(DjangoModelFactory):
    class Meta:
        model = TagGroup

    key = factory.Sequence(lambda n: f"group-{n}")
    name = factory.LazyAttribute(lambda o: o.key.replace("-", " ").title())
    exclusive = False


class TagFactory(DjangoModelFactory):
    """A manual tag; `TagFactory(rule=True)` a rule tag (condition: has a phone, unless given)."""

    class Meta:
        model = Tag

    class Params:
        rule = factory.Trait(
            kind=TagKind.RULE, condition=factory.LazyFunction(lambda: {"has_phone": True})
        )

    key = factory.Sequence(lambda n: f"tag-{n}")
    name = factory.LazyAttribute(lambda o: o.key.replace("-", " ").title())
    kind = TagKind.MANUAL
    condition = None


class SegmentFactory(DjangoModelFactory):
    class Meta:
        model = Segment

    key = factory.Sequence(lambda n: f"segment-{n}")
    name = factory.LazyAttribute(lambda o: o.key.replace("-", " ").title())
    condition = factory.LazyFunction(lambda: {"tag": "vip"})  # the preset VIP tag


class EventTypeFactory(DjangoModelFactory):
    """An event type registered by an admin (the built-in funnel comes with the migrations)."""

    class Meta:
        model = EventType
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"type_{n}")
    name = factory.LazyAttribute(lambda o: o.key.replace("_", " ").capitalize())
