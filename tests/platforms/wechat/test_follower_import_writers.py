"""The follower import outside a transaction, as the command runs it: chunks written on two
connections at once, committed in order, so that the saved progress is always a prefix of the
list and a failure leaves nothing written after it."""

import threading

import pytest
from django.db.models import Count

from identity.models import Identity, Person
from platforms.wechat.errors import Errcode
from platforms.wechat.models import FollowerImport
from platforms.wechat.services import follower_fetch, follower_import
from platforms.wechat.services.follower_import import import_followers
from tests.platforms.wechat.conftest import SERVICE
from tests.platforms.wechat.test_follower_import_resume import BATCHGET, add_followers

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def writer_threads(monkeypatch):
    """The names of the threads that resolved each chunk, in the order they started."""
    names = []
    resolve = follower_import.bulk_resolve

    def recorded(**kwargs):
        names.append(threading.current_thread().name)
        return resolve(**kwargs)

    monkeypatch.setattr(follower_import, "bulk_resolve", recorded)
    return names


def test_two_writers_import_everyone_once_and_save_progress_in_order(
    fake_wechat, wechat_apps, actor, monkeypatch, writer_threads
):
    # Given 2,345 followers in pages of 730, chunks of 250 and two answers fetched ahead
    monkeypatch.setattr(follower_import, "CHUNK", 250)
    monkeypatch.setattr(follower_fetch, "AHEAD", 2)
    fake_wechat.page_size = 730
    openids = add_followers(fake_wechat, 2345)
    seen = []

    # When the import runs outside a transaction
    run = import_followers(
        app=wechat_apps["service_account"], actor=actor, progress=lambda p: seen.append(p.seen)
    )

    # Then both writer threads wrote chunks, and the progress grew chunk by chunk, in order
    assert set(writer_threads) == {"follower-write-0", "follower-write-1"}
    chunks = [300, 300, 130] * 3 + [155]  # whole batches of 100 until 250, to a page's end
    assert seen == [sum(chunks[: n + 1]) for n in range(len(chunks))]
    # And everyone was imported once, following
    assert (run.followers_seen, run.persons_created, run.pages_done) == (2345, 2345, 4)
    identities = Identity.objects.filter(app__appid=SERVICE)
    assert sorted(identities.values_list("openid", flat=True)) == openids
    assert identities.filter(followed=True).count() == 2345
    assert not identities.values("person").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert fake_wechat.calls.count(BATCHGET) == 8 + 8 + 8 + 2


def test_a_failed_chunk_leaves_nothing_written_after_it(
    fake_wechat, wechat_apps, actor, monkeypatch
):
    # Given chunks of 200, and the database refusing the third chunk (followers 400 to 599)
    monkeypatch.setattr(follower_import, "CHUNK", 200)
    fake_wechat.page_size = 1000
    openids = add_followers(fake_wechat, 1000)
    resolve = follower_import.bulk_resolve

    def third_fails(**kwargs):
        if openids[400] in kwargs["entries"]:
            raise RuntimeError("refused")
        return resolve(**kwargs)

    monkeypatch.setattr(follower_import, "bulk_resolve", third_fails)

    # When the import runs, it fails with that error
    with pytest.raises(RuntimeError, match="refused"):
        import_followers(app=wechat_apps["service_account"], actor=actor)

    # Then exactly the two chunks before it are written and saved: the second committed
    # although the third failed first, and the fourth, if it was in flight, was rolled back
    stopped = FollowerImport.objects.get()
    assert (stopped.followers_seen, stopped.page_offset) == (400, 400)
    assert sorted(Identity.objects.values_list("openid", flat=True)) == openids[:400]
    assert Person.objects.count() == 400

    # And the import resumes from there
    monkeypatch.setattr(follower_import, "bulk_resolve", resolve)
    run = import_followers(app=wechat_apps["service_account"], actor=actor)
    assert (run.pk, run.followers_seen, run.persons_created) == (stopped.pk, 1000, 1000)
    assert Identity.objects.count() == Person.objects.count() == 1000


def test_a_failed_call_stops_both_writers_at_the_same_follower(
    fake_wechat, wechat_apps, actor, monkeypatch
):
    # Given the scenario of the one-connection test: pages of 700, chunks of 300, the fifth
    # batchget refused
    monkeypatch.setattr(follower_import, "CHUNK", 300)
    fake_wechat.page_size = 700
    openids = add_followers(fake_wechat, 1000)
    fake_wechat.fail_next(BATCHGET, Errcode.RATE_LIMITED, after=4)

    with pytest.raises(Exception, match="45011"):
        import_followers(app=wechat_apps["service_account"], actor=actor)

    # Then what is saved is what came before the failing call, as with one writer
    stopped = FollowerImport.objects.get()
    assert (stopped.pages_done, stopped.page_offset, stopped.followers_seen) == (0, 400, 400)
    assert sorted(Identity.objects.values_list("openid", flat=True)) == openids[:400]
    run = import_followers(app=wechat_apps["service_account"], actor=actor)
    assert (run.followers_seen, run.persons_created) == (1000, 1000)
    assert fake_wechat.calls.count(BATCHGET) == 5 + 3 + 3
