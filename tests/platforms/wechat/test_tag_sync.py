"""Segment -> service-account tag sync against the fake WeChat server."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from identity.models import Identity
from platforms.wechat.models import WeChatTagMember, WeChatTagSync
from platforms.wechat.services.follower_import import import_followers
from platforms.wechat.tag_sync import sync_segment_tag
from profiles.services.tags import assign_tags, remove_tag
from tests.platforms.wechat.conftest import SERVICE
from tests.platforms.wechat.test_followers import add_followers

pytestmark = pytest.mark.django_db


@pytest.fixture
def followers(fake_wechat, wechat_apps, actor):
    add_followers(fake_wechat, 120)
    import_followers(app=wechat_apps["service_account"], actor=actor)
    return {i.openid: i for i in Identity.objects.select_related("person")}


def tag_members(state, tag_id):
    app = state.apps[SERVICE]
    return {openid for openid, user in app.users.items() if tag_id in user.tags}


def test_sync_creates_the_tag_tags_joiners_and_untags_leavers(
    fake_wechat, wechat_apps, followers, vip_segment, actor
):
    chosen = sorted(followers)[:75]
    for openid in chosen:
        assign_tags(person=followers[openid].person, keys=["vip"], actor=actor)

    sync = sync_segment_tag(segment=vip_segment, app=wechat_apps["service_account"], actor=actor)

    assert (sync.last_added, sync.last_removed, sync.last_failed, sync.last_error) == (75, 0, 0, "")
    assert fake_wechat.apps[SERVICE].tags[sync.wechat_tag_id] == "VIP members"
    assert tag_members(fake_wechat, sync.wechat_tag_id) == set(chosen)
    assert fake_wechat.calls.count("/cgi-bin/tags/members/batchtagging") == 2  # 50 + 25

    for openid in chosen[:10]:
        remove_tag(person=followers[openid].person, key="vip", actor=actor)
    extra = sorted(followers)[100]
    assign_tags(person=followers[extra].person, keys=["vip"], actor=actor)

    again = sync_segment_tag(segment=vip_segment, app=wechat_apps["service_account"], actor=actor)

    assert (again.last_added, again.last_removed) == (1, 10)
    assert tag_members(fake_wechat, again.wechat_tag_id) == set(chosen[10:]) | {extra}
    assert WeChatTagMember.objects.count() == 66
    assert len(fake_wechat.apps[SERVICE].tags) == 1  # the tag was reused, not created again


def test_an_existing_tag_of_the_same_name_is_reused(
    fake_wechat, wechat_apps, followers, vip_segment, actor
):
    fake_wechat.apps[SERVICE].tags[7] = "VIP members"
    sync = sync_segment_tag(segment=vip_segment, app=wechat_apps["service_account"], actor=actor)
    assert sync.wechat_tag_id == 7


def test_the_100_tag_limit_is_reported(fake_wechat, wechat_apps, followers, vip_segment, actor):
    for number in range(100):
        fake_wechat.apps[SERVICE].tags[1000 + number] = f"t{number}"
    sync = sync_segment_tag(segment=vip_segment, app=wechat_apps["service_account"], actor=actor)
    assert sync.wechat_tag_id is None
    assert sync.last_error == "WeChat errcode 45056"
    with pytest.raises(CommandError, match="45056"):
        call_command("wechat_sync_segment", segment="vips", appid=SERVICE, stdout=StringIO())


def test_followers_at_the_20_tag_limit_fail_alone(
    fake_wechat, wechat_apps, followers, vip_segment, actor
):
    chosen = sorted(followers)[:5]
    for openid in chosen:
        assign_tags(person=followers[openid].person, keys=["vip"], actor=actor)
    full = fake_wechat.apps[SERVICE].users[chosen[0]]
    full.tags.update(range(2000, 2020))
    sync = sync_segment_tag(segment=vip_segment, app=wechat_apps["service_account"], actor=actor)
    assert (sync.last_added, sync.last_failed) == (4, 1)


def test_a_follower_gone_before_the_push_came_fails_alone(
    fake_wechat, wechat_apps, followers, vip_segment, actor
):
    # Given five segment members, one of whom unfollowed without our knowing yet
    chosen = sorted(followers)[:5]
    for openid in chosen:
        assign_tags(person=followers[openid].person, keys=["vip"], actor=actor)
    fake_wechat.apps[SERVICE].users[chosen[0]].subscribed = False
    # When the segment is synced, WeChat refuses the call of five for an invalid openid
    sync = sync_segment_tag(segment=vip_segment, app=wechat_apps["service_account"], actor=actor)
    # Then the other four are tagged one by one and the gone one counts as failed
    assert (sync.last_added, sync.last_failed, sync.last_error) == (4, 1, "")
    assert tag_members(fake_wechat, sync.wechat_tag_id) == set(chosen[1:])


def test_unfollowers_are_dropped_without_a_call(
    fake_wechat, wechat_apps, followers, vip_segment, actor
):
    chosen = sorted(followers)[:3]
    for openid in chosen:
        assign_tags(person=followers[openid].person, keys=["vip"], actor=actor)
    sync_segment_tag(segment=vip_segment, app=wechat_apps["service_account"], actor=actor)
    Identity.objects.filter(openid=chosen[0]).update(followed=False)
    fake_wechat.apps[SERVICE].users[chosen[0]].subscribed = False
    calls = fake_wechat.calls.count("/cgi-bin/tags/members/batchuntagging")
    sync = sync_segment_tag(segment=vip_segment, app=wechat_apps["service_account"], actor=actor)
    assert sync.last_removed == 1
    assert fake_wechat.calls.count("/cgi-bin/tags/members/batchuntagging") == calls
    assert WeChatTagSync.objects.get().members.count() == 2


def test_command_syncs(fake_wechat, wechat_apps, followers, vip_segment, actor):
    assign_tags(person=followers[sorted(followers)[0]].person, keys=["vip"], actor=actor)
    out = StringIO()
    call_command("wechat_sync_segment", segment="vips", appid=SERVICE, stdout=out)
    assert "+1 -0" in out.getvalue()
