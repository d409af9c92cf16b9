"""Follower import and bulk resolution against the fake WeChat server."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from identity.models import Identity, MergeRecord, Person, UnionId
from identity.services.bulk_resolve import bulk_resolve
from identity.services.resolve import resolve_identity
from platforms.wechat.models import FollowerImport
from platforms.wechat.services.follower_import import import_followers
from tests.platforms.wechat.conftest import SERVICE

pytestmark = pytest.mark.django_db


def add_followers(state, count, *, with_unionid=True, prefix="oF"):
    for number in range(count):
        state.add_follower(
            SERVICE,
            f"{prefix}{number:05d}",
            unionid=f"oU{prefix}{number:05d}" if with_unionid else None,
            scene="ADD_SCENE_QR_CODE",
            at=1700000000 + number,
        )


def test_import_resolves_everyone_and_marks_them_following(fake_wechat, wechat_apps, actor):
    fake_wechat.page_size = 120
    add_followers(fake_wechat, 250)
    run = import_followers(app=wechat_apps["service_account"], actor=actor)
    assert (run.followers_seen, run.persons_created, run.errors, run.pages_done) == (250, 250, 0, 3)
    assert (
        Identity.objects.filter(followed=True, subscribe_scene="ADD_SCENE_QR_CODE").count() == 250
    )
    assert UnionId.objects.count() == 250
    # pages of 120, 120 and 10; user/info/batchget takes at most 100 openids a call
    assert fake_wechat.calls.count("/cgi-bin/user/info/batchget") == 2 + 2 + 1


def test_import_links_followers_to_existing_persons_by_unionid(
    fake_wechat, wechat_apps, miniprogram, actor
):
    add_followers(fake_wechat, 5)
    known = resolve_identity(
        app=miniprogram, openid="oMini", unionid="oUoF00003", actor=actor
    ).person
    import_followers(app=wechat_apps["service_account"], actor=actor)
    assert Identity.objects.get(openid="oF00003").person_id == known.pk
    assert Person.objects.live().count() == 5


def test_an_interrupted_import_resumes_without_duplicates(fake_wechat, wechat_apps, actor):
    fake_wechat.page_size = 150
    add_followers(fake_wechat, 400)
    fake_wechat.fail_next("/cgi-bin/user/info/batchget", 45011, after=3)
    with pytest.raises(Exception, match="45011"):
        import_followers(app=wechat_apps["service_account"], actor=actor)
    stopped = FollowerImport.objects.get()
    assert stopped.finished_at is None
    assert stopped.followers_seen == 250  # page 1 (150) + first chunk of page 2 (100)

    out = StringIO()
    call_command("wechat_import_followers", appid=SERVICE, stdout=out)

    run = FollowerImport.objects.get()
    assert run.finished_at is not None
    assert run.followers_seen == 400
    assert Identity.objects.count() == Person.objects.count() == UnionId.objects.count() == 400
    assert "Imported 400 followers" in out.getvalue()
    assert "/400 followers" in out.getvalue()


def test_import_is_idempotent(fake_wechat, wechat_apps, actor):
    add_followers(fake_wechat, 30)
    import_followers(app=wechat_apps["service_account"], actor=actor)
    again = import_followers(app=wechat_apps["service_account"], actor=actor)
    assert again.persons_created == 0
    assert Person.objects.count() == 30


def test_import_refuses_other_app_kinds(wechat_apps):
    with pytest.raises(CommandError):
        call_command("wechat_import_followers", appid="wx1111111111111111", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("wechat_import_followers", appid="wxnope", stdout=StringIO())


def test_bulk_resolve_handles_every_case(miniprogram, service_account, actor):
    # known openid with its unionid; known openid gaining a unionid; new openid of a known
    # unionid; new openid with a new unionid; new openid without unionid; a unionid proving
    # two persons are one (merge, slow path); a conflicting unionid (error).
    a = resolve_identity(app=service_account, openid="oA", unionid="oUA", actor=actor).person
    b = resolve_identity(app=service_account, openid="oB", actor=actor).person
    c = resolve_identity(app=miniprogram, openid="oCm", unionid="oUC", actor=actor).person
    d = resolve_identity(app=service_account, openid="oD", actor=actor).person
    m = resolve_identity(app=miniprogram, openid="oMm", unionid="oUM", actor=actor).person
    resolve_identity(app=service_account, openid="oX", unionid="oUX", actor=actor)
    entries = {
        "oA": "oUA",
        "oB": "oUB",
        "oC": "oUC",
        "oE": "oUE",
        "oF": None,
        "oD": "oUM",
        "oX": "oUY",
    }

    result = bulk_resolve(app=service_account, entries=entries, actor=actor)

    persons = {openid: subject[0] for openid, subject in result.subjects.items()}
    assert persons["oA"] == a.pk
    assert persons["oB"] == b.pk
    assert UnionId.objects.get(unionid="oUB").person_id == b.pk
    assert persons["oC"] == c.pk
    assert d.created_at < m.created_at
    assert persons["oD"] == d.pk  # oUM proved d and m one human: the older survives
    assert MergeRecord.objects.count() == 1
    assert result.errors == {"oX": "unionid_conflict"}
    assert result.created == 2  # oE and oF
    assert Identity.objects.get(openid="oE").person.unionids.get().unionid == "oUE"
