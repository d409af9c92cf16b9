import pytest

from identity.exceptions import InvalidInput, OpenidConflict, UnionidConflict
from identity.models import AuditEntry, Identity, MergeRecord, Person, UnionId
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db

UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"


def test_three_apps_sharing_a_unionid_resolve_to_one_person(
    miniprogram, service_account, h5, actor
):
    first = resolve_identity(app=miniprogram, openid="oMini1", unionid=UNIONID, actor=actor)
    second = resolve_identity(app=service_account, openid="oService1", unionid=UNIONID, actor=actor)
    third = resolve_identity(app=h5, openid="oH51", unionid=UNIONID, actor=actor)

    assert first.created is True
    assert (second.created, third.created) == (False, False)
    assert first.person.pk == second.person.pk == third.person.pk
    assert Person.objects.count() == 1
    assert set(Identity.objects.values_list("openid", flat=True)) == {"oMini1", "oService1", "oH51"}


def test_resolving_again_returns_the_same_person(miniprogram, actor):
    first = resolve_identity(app=miniprogram, openid="oMini1", actor=actor)
    again = resolve_identity(app=miniprogram, openid="oMini1", actor=actor)
    assert again.person.pk == first.person.pk
    assert again.created is False


def test_unionid_seen_later_links_to_the_existing_person(miniprogram, service_account, actor):
    person = resolve_identity(app=miniprogram, openid="oMini1", actor=actor).person
    resolve_identity(app=miniprogram, openid="oMini1", unionid=UNIONID, actor=actor)
    linked = resolve_identity(app=service_account, openid="oService1", unionid=UNIONID, actor=actor)
    assert linked.person.pk == person.pk
    assert UnionId.objects.get().person_id == person.pk


def test_a_unionid_merges_two_persons_into_the_older(miniprogram, service_account, actor):
    older = resolve_identity(app=miniprogram, openid="oMini1", actor=actor).person
    younger = resolve_identity(
        app=service_account, openid="oService1", unionid=UNIONID, actor=actor
    )
    merged = resolve_identity(app=miniprogram, openid="oMini1", unionid=UNIONID, actor=actor)

    assert merged.person.pk == older.pk
    record = MergeRecord.objects.get()
    assert (record.survivor_id, record.loser_id, record.reason) == (
        older.pk,
        younger.person.pk,
        "unionid",
    )
    assert Person.objects.get(pk=younger.person.pk).merged_into_id == older.pk
    assert Identity.objects.filter(person=older).count() == 2


def test_an_openid_cannot_change_its_unionid(miniprogram, actor):
    resolve_identity(app=miniprogram, openid="oMini1", unionid=UNIONID, actor=actor)
    with pytest.raises(UnionidConflict):
        resolve_identity(app=miniprogram, openid="oMini1", unionid="oOtherUnion", actor=actor)


def test_a_unionid_person_cannot_take_a_second_openid_in_one_app(miniprogram, actor):
    resolve_identity(app=miniprogram, openid="oMini1", unionid=UNIONID, actor=actor)
    audit_before = AuditEntry.objects.count()
    with pytest.raises(OpenidConflict):
        resolve_identity(app=miniprogram, openid="oMini2", unionid=UNIONID, actor=actor)
    assert Identity.objects.count() == 1
    assert AuditEntry.objects.count() == audit_before


@pytest.mark.parametrize(
    "value",
    [
        "",
        "  ",
        "null",
        "NULL",
        "undefined",
        "None",
        "nan",
        "0",
        "anonymous",
        "[object Object]",
        '"null"',
        "'undefined'",
        "a" * 65,
        "has space",
        "o#1",
        "中文",
    ],
)
def test_blocked_openids_are_rejected(miniprogram, actor, value):
    with pytest.raises(InvalidInput) as error:
        resolve_identity(app=miniprogram, openid=value, actor=actor)
    assert "openid" in error.value.details
    assert Person.objects.count() == 0


@pytest.mark.parametrize("value", ["", "null", "undefined", "0", "[object Object]"])
def test_blocked_unionids_are_rejected(miniprogram, actor, value):
    with pytest.raises(InvalidInput) as error:
        resolve_identity(app=miniprogram, openid="oMini1", unionid=value, actor=actor)
    assert "unionid" in error.value.details
    assert Person.objects.count() == 0


def test_identifiers_are_stripped(miniprogram, actor):
    """WeChat's own user/info sample carries a unionid with a leading space."""
    person = resolve_identity(app=miniprogram, openid=" oMini1", unionid=" " + UNIONID, actor=actor)
    assert UnionId.objects.get(person=person.person).unionid == UNIONID


def test_each_resolve_that_changes_the_graph_writes_one_audit_entry(
    miniprogram, service_account, actor
):
    resolve_identity(app=miniprogram, openid="oMini1", unionid=UNIONID, actor=actor)
    resolve_identity(app=service_account, openid="oService1", unionid=UNIONID, actor=actor)
    resolve_identity(app=service_account, openid="oService1", unionid=UNIONID, actor=actor)
    actions = list(
        AuditEntry.objects.filter(person__isnull=False)
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["identity.create", "identity.link"]
