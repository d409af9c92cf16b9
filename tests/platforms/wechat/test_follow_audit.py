"""The two feeds of follow state each audit their change in one entry: a follower import (a
snapshot) and a subscribe push (an event), through identity's follow service."""

import pytest

from identity.models import Identity
from platforms.wechat.pushes import handle_push, parse_push
from platforms.wechat.services.follower_import import import_followers
from tests.platforms.wechat.conftest import SERVICE
from tests.test_audit import Watch

pytestmark = pytest.mark.django_db


def follow_entries(watch: Watch):
    return [entry for entry in watch.entries() if entry.action == "identity.follow"]


def test_a_follower_import_leaves_one_follow_entry(fake_wechat, wechat_apps, actor):
    # given a service account with 40 followers
    for number in range(40):
        fake_wechat.add_follower(SERVICE, f"oF{number:03d}", scene="ADD_SCENE_QR_CODE")
    watch = Watch()

    # when they are imported
    import_followers(app=wechat_apps["service_account"], actor=actor)

    # then one entry counts them, naming the app and the import, and no openid
    [entry] = follow_entries(watch)
    assert (entry.target, entry.person) == (SERVICE, None)
    assert entry.after == {
        "source": "follower_import",
        "apps": [SERVICE],
        "followed": 40,
        "unfollowed": 0,
        "changed": 40,
    }
    assert "oF0" not in str(entry.after)
    assert Identity.objects.filter(followed=True).count() == 40

    # and importing them again changes nothing, so writes no follow entry
    again = Watch()
    import_followers(app=wechat_apps["service_account"], actor=actor)
    assert follow_entries(again) == []


def test_a_subscribe_push_leaves_one_follow_entry(fake_wechat, wechat_apps):
    # given a follower WeChat knows
    fake_wechat.add_follower(SERVICE, "oFollower1")
    push = parse_push(
        "<xml><FromUserName>oFollower1</FromUserName><CreateTime>1714036504</CreateTime>"
        "<MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_spring</EventKey></xml>"
    )
    watch = Watch()

    # when WeChat's push of its subscribe is handled
    assert handle_push(wechat_apps["service_account"], push) == "stored"

    # then one entry records the follow, by the callback, from the push, without the openid
    [entry] = follow_entries(watch)
    assert (entry.actor, entry.target) == ("wechat_callback", SERVICE)
    assert (entry.after["source"], entry.after["followed"]) == ("wechat_push", 1)
    assert "oFollower1" not in str(entry.after)
