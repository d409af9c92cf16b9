"""The follower import fetches ahead of its writes: what it saves is exactly what it wrote, a
failed call stops it with the code named and resumable, and no follower is lost or imported
twice across batches, chunks and pages."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count

from identity.models import Identity, Person, UnionId
from identity.services.resolve import resolve_identity
from platforms.wechat.errors import Errcode
from platforms.wechat.models import FollowerImport
from platforms.wechat.services import follower_fetch, follower_import
from platforms.wechat.services.follower_import import import_followers
from tests.platforms.wechat.conftest import SERVICE

pytestmark = pytest.mark.django_db

BATCHGET, USER_GET = "/cgi-bin/user/info/batchget", "/cgi-bin/user/get"
SINCE = 1_700_000_000


def add_followers(state, count: int) -> list[str]:
    openids = [f"oR{number:05d}" for number in range(count)]
    scenes = ["ADD_SCENE_QR_CODE", "ADD_SCENE_SEARCH", "ADD_SCENE_PROFILE_CARD"]
    for number, openid in enumerate(openids):
        state.add_follower(
            SERVICE,
            openid,
            unionid=f"uR{number:05d}" if number % 3 else None,
            scene=scenes[number % 3],
            at=SINCE + number,
        )
    return openids


def assert_imported_once(openids: list[str]) -> None:
    """Every follower is one identity of its own person, following since its subscribe time,
    with its scene; nobody else was imported."""
    identities = Identity.objects.filter(app__appid=SERVICE)
    assert sorted(identities.values_list("openid", flat=True)) == sorted(openids)
    assert not identities.values("person").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert Person.objects.count() == len(openids)
    assert UnionId.objects.count() == sum(1 for number in range(len(openids)) if number % 3)
    for identity in identities:
        number = int(identity.openid[2:])
        assert identity.followed is True
        assert identity.followed_at == datetime.fromtimestamp(SINCE + number, tz=UTC)
        assert (
            identity.subscribe_scene
            == [
                "ADD_SCENE_QR_CODE",
                "ADD_SCENE_SEARCH",
                "ADD_SCENE_PROFILE_CARD",
            ][number % 3]
        )


def test_a_run_stopped_by_a_failing_page_resumes_at_that_page(
    fake_wechat, wechat_apps, actor, monkeypatch
):
    # Given 600 followers in pages of 250, and WeChat refusing the second page once
    monkeypatch.setattr(follower_import, "CHUNK", 200)
    fake_wechat.page_size = 250
    openids = add_followers(fake_wechat, 600)
    fake_wechat.fail_next(USER_GET, Errcode.RATE_LIMITED, after=1)

    # When the import runs, it stops with the code named
    with pytest.raises(CommandError, match="errcode 45011"):
        call_command("wechat_import_followers", appid=SERVICE, stdout=StringIO())

    # Then the first page is saved as done, and only it was written
    stopped = FollowerImport.objects.get()
    assert stopped.finished_at is None
    assert (stopped.pages_done, stopped.page_offset, stopped.followers_seen) == (1, 0, 250)
    assert stopped.next_openid == openids[249]
    assert Identity.objects.count() == 250

    # When it runs again, it resumes the same run from the second page
    run = import_followers(app=wechat_apps["service_account"], actor=actor)

    # Then every follower is imported once, and no page was fetched in detail twice
    assert run.pk == stopped.pk
    assert (run.followers_seen, run.persons_created, run.pages_done) == (600, 600, 3)
    assert run.finished_at is not None
    assert fake_wechat.calls.count(BATCHGET) == 3 + 3 + 1  # pages of 250, 250 and 100
    assert_imported_once(openids)


def test_a_run_stopped_by_a_failing_batch_keeps_what_was_fetched_before_it(
    fake_wechat, wechat_apps, actor, monkeypatch
):
    # Given 1,000 followers in pages of 700, written in chunks of 300 (three batchgets each),
    # and WeChat refusing the fifth batchget, half-way through the second chunk
    monkeypatch.setattr(follower_import, "CHUNK", 300)
    fake_wechat.page_size = 700
    openids = add_followers(fake_wechat, 1000)
    fake_wechat.fail_next(BATCHGET, Errcode.RATE_LIMITED, after=4)

    # When the import runs, it stops with WeChat's code
    with pytest.raises(Exception, match="45011"):
        import_followers(app=wechat_apps["service_account"], actor=actor)

    # Then the first chunk and the one batch after it are written and saved, nothing more
    stopped = FollowerImport.objects.get()
    assert (stopped.pages_done, stopped.page_offset, stopped.followers_seen) == (0, 400, 400)
    assert sorted(Identity.objects.values_list("openid", flat=True)) == openids[:400]
    assert fake_wechat.calls.count(BATCHGET) == 5  # it stopped at the failing call

    # When it resumes
    run = import_followers(app=wechat_apps["service_account"], actor=actor)

    # Then it asked WeChat only for the followers it had not written, and imported each once
    assert (run.followers_seen, run.persons_created, run.pages_done) == (1000, 1000, 2)
    assert fake_wechat.calls.count(BATCHGET) == 5 + 3 + 3  # 400-700 of page 1, page 2 of 300
    assert_imported_once(openids)


def test_fetching_ahead_loses_and_repeats_no_follower_across_boundaries(
    fake_wechat, wechat_apps, actor, monkeypatch
):
    # Given followers whose pages (730), batches (100) and chunks (250) never line up, a fetch
    # thread allowed only two answers ahead (so it waits for the writer again and again), and
    # one follower known already
    monkeypatch.setattr(follower_import, "CHUNK", 250)
    monkeypatch.setattr(follower_fetch, "AHEAD", 2)
    fake_wechat.page_size = 730
    openids = add_followers(fake_wechat, 2345)
    app = wechat_apps["service_account"]
    known = resolve_identity(app=app, openid=openids[1000], unionid="uR01000", actor=actor)

    # When the import runs
    run = import_followers(app=app, actor=actor)

    # Then every follower is imported exactly once, each page's batches asked for once
    assert (run.followers_seen, run.persons_created, run.errors) == (2345, 2344, 0)
    assert run.pages_done == 4  # 730, 730, 730 and 155
    assert fake_wechat.calls.count(BATCHGET) == 8 + 8 + 8 + 2
    assert Identity.objects.get(openid=openids[1000]).person_id == known.person.pk
    assert_imported_once(openids)


def test_the_fetch_thread_refreshes_an_expired_token_without_the_database(
    fake_wechat, wechat_apps, actor
):
    # Given WeChat declaring the access token expired in the middle of the import: the fetch
    # thread must get a new one with the secret it was given (its own database connection
    # could not even see this test's app)
    openids = add_followers(fake_wechat, 450)
    fake_wechat.fail_next(BATCHGET, Errcode.ACCESS_TOKEN_EXPIRED, after=2)
    tokens_before = fake_wechat.tokens_issued

    # When the import runs
    run = import_followers(app=wechat_apps["service_account"], actor=actor)

    # Then it refreshed the token once and imported everyone
    assert fake_wechat.tokens_issued == tokens_before + 2  # the first token, and the new one
    assert (run.followers_seen, run.persons_created) == (450, 450)
    assert_imported_once(openids)
