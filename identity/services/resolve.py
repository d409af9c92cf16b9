"""Resolving an openid (and its unionid) to one live person: create, link or merge."""

from collections.abc import Collection
from dataclasses import dataclass

from django.utils import timezone

from identity.exceptions import OpenidConflict, UnionidConflict, UnverifiedLink
from identity.models import Actor, App, Identity, MergeReason, Person, UnionId
from identity.seen import record_seen
from identity.selectors import visible_in
from identity.services.audit import record_audit
from identity.services.locking import lock_live_persons
from identity.services.merge import _merge
from identity.services.retry import StaleRead, run_atomic_with_retries
from identity.validators import clean_identifier


@dataclass(frozen=True)
class ResolveResult:
    person: Person
    created: bool


def resolve_identity(
    *,
    app: App,
    openid: str,
    unionid: str | None = None,
    actor: Actor,
    confined_to: Collection[int] | None = None,
    seen: bool = True,
) -> ResolveResult:
    """Turn "this openid in this app" (and its unionid, if known) into one live person.

    Creates the person on first sight, links an openid to the person of its unionid, and merges
    two persons when a unionid proves they are one human (the unionid is authoritative). Safe
    under concurrency: a lost race on a unique constraint retries and finds the winner's rows,
    and a request that finds the very link it came to make (another request for the same human
    was faster) answers with that person.

    `confined_to` is the caller's apps when it may act on those only (a restricted API key
    sending a unionid it obtained itself): the unionid then never joins a person the caller
    cannot see (UnverifiedLink). Logins that exchange a code through this service pass None: the
    platform vouches for the unionid.

    The person is marked seen now, in the same transaction (identity.seen: first/last seen for
    the lifecycle tags); `seen=False` is for callers whose rows carry their own times (an event
    ingest resolving the events' openids: the events say when the person was seen).
    """
    openid = clean_identifier(openid, field="openid")
    if unionid is not None:
        unionid = clean_identifier(unionid, field="unionid")

    def resolve_and_mark() -> ResolveResult:
        result = _resolve(
            app=app, openid=openid, unionid=unionid, actor=actor, confined_to=confined_to
        )
        if seen:
            record_seen(person_ids=[result.person.pk], at=timezone.now())
        return result

    return run_atomic_with_retries(resolve_and_mark)


def _resolve(
    *, app: App, openid: str, unionid: str | None, actor: Actor, confined_to
) -> ResolveResult:
    identity = Identity.objects.filter(app=app, openid=openid).select_related("person").first()
    union = None
    if unionid is not None:
        union = UnionId.objects.filter(platform=app.platform, unionid=unionid).first()

    if identity is None and union is None:
        return ResolveResult(_create_person(app, openid, unionid, actor), created=True)
    if identity is None:
        if not visible_in(union.person_id, confined_to):
            raise UnverifiedLink(details={"unionid": [UnverifiedLink.default_message]})
        return ResolveResult(_link_openid(app, openid, union, actor), created=False)
    if unionid is None or (union is not None and union.person_id == identity.person_id):
        return ResolveResult(identity.person, created=False)
    if union is None:
        return ResolveResult(_link_unionid(app, identity, unionid, actor), created=False)
    if not visible_in(union.person_id, confined_to):
        raise UnverifiedLink(details={"unionid": [UnverifiedLink.default_message]})
    record = _merge(
        first_pk=identity.person_id,
        second_pk=union.person_id,
        reason=MergeReason.UNIONID,
        actor=actor,
        visible_app_ids=confined_to,
    )
    return ResolveResult(Person.objects.get(pk=record.survivor_id), created=False)


def _create_person(app: App, openid: str, unionid: str | None, actor: Actor) -> Person:
    person = Person.objects.create()
    identity = Identity.objects.create(app=app, openid=openid, person=person)
    after = {"identity": identity.pk, "app": app.appid}
    if unionid is not None:
        after["unionid"] = UnionId.objects.create(
            person=person, platform=app.platform, unionid=unionid
        ).pk
    record_audit(actor=actor, action="identity.create", person=person, after=after)
    return person


def _link_openid(app: App, openid: str, union: UnionId, actor: Actor) -> Person:
    person = lock_live_persons(union.person_id)[union.person_id]
    if not UnionId.objects.filter(pk=union.pk, person=person).exists():
        raise StaleRead("the unionid moved while linking")
    held = Identity.objects.filter(person=person, app=app).first()
    if held is not None and held.openid == openid:
        return person  # a concurrent request for the same human linked it first
    if held is not None:
        raise OpenidConflict(
            details={"openid": ["The person of this unionid has another openid in this app."]}
        )
    identity = Identity.objects.create(app=app, openid=openid, person=person)
    record_audit(
        actor=actor,
        action="identity.link",
        person=person,
        after={"identity": identity.pk, "app": app.appid, "via": "unionid"},
    )
    return person


def _link_unionid(app: App, identity: Identity, unionid: str, actor: Actor) -> Person:
    person = lock_live_persons(identity.person_id)[identity.person_id]
    if not Identity.objects.filter(pk=identity.pk, person=person).exists():
        raise StaleRead("the identity moved while linking")
    held = UnionId.objects.filter(person=person, platform=app.platform).first()
    if held is not None and held.unionid == unionid:
        return person  # a concurrent request for the same human linked it first
    if held is not None:
        raise UnionidConflict(details={"unionid": [UnionidConflict.default_message]})
    union = UnionId.objects.create(person=person, platform=app.platform, unionid=unionid)
    record_audit(
        actor=actor,
        action="unionid.link",
        person=person,
        after={"unionid": union.pk, "platform": app.platform, "via_identity": identity.pk},
    )
    return person
