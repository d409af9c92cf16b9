"""Follow state through identity's one writer of it: the rule of events, the rule of follower
snapshots, and the single audit entry of each call."""

import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from identity.models import AppKind, Identity
from identity.services.follow import FollowObservation, record_follow_changes
from identity.services.resolve import resolve_identity
from tests.clock import ago
from tests.test_audit import Watch, refuse_audit_entries

pytestmark = pytest.mark.django_db


@pytest.fixture
def identity_of(service_account, actor):
    def make(openid, app=service_account):
        resolve_identity(app=app, openid=openid, actor=actor)
        return Identity.objects.get(app=app, openid=openid)

    return make


def event(identity, *, followed, at, scene=None):
    return FollowObservation(identity_pk=identity.pk, followed=followed, at=at, scene=scene)


def snapshot(identity, *, since, scene=""):
    return FollowObservation(
        identity_pk=identity.pk, followed=True, at=since, scene=scene, snapshot=True
    )


def record(actor, *observations, source="tests"):
    return record_follow_changes(observations=list(observations), actor=actor, source=source)


# -- the rule of events ------------------------------------------------------------------------


def test_the_latest_event_of_a_call_wins(identity_of, actor):
    # given an identity never seen following
    identity = identity_of("oSvc")
    subscribed, unsubscribed = ago(days=3), ago(days=2)

    # when a call brings its subscribe and, later, its unsubscribe (in any order)
    record(
        actor,
        event(identity, followed=False, at=unsubscribed),
        event(identity, followed=True, at=subscribed, scene="QR"),
    )

    # then the unsubscribe stands, and the subscribe's scene was never applied
    identity.refresh_from_db()
    assert (identity.followed, identity.unfollowed_at, identity.followed_at) == (
        False,
        unsubscribed,
        None,
    )
    assert identity.subscribe_scene == ""


def test_an_event_older_than_the_last_change_is_ignored(identity_of, actor):
    # given an identity that unsubscribed two days ago
    identity = identity_of("oSvc")
    record(actor, event(identity, followed=False, at=ago(days=2)))

    # when a late push of an older subscribe arrives
    changes = record(actor, event(identity, followed=True, at=ago(days=3), scene="late"))

    # then nothing changes
    identity.refresh_from_db()
    assert identity.followed is False
    assert identity.subscribe_scene == ""
    assert changes.changed == 0


def test_times_move_only_when_the_state_changes_and_only_a_subscribe_sets_the_scene(
    identity_of, actor
):
    # given a follower since three days ago, by the scene "spring"
    identity = identity_of("oSvc")
    since = ago(days=3)
    record(actor, event(identity, followed=True, at=since, scene="spring"))

    # when a QR scan, then a subscribe without a scene, come later
    record(actor, event(identity, followed=True, at=ago(days=2)))
    identity.refresh_from_db()
    scene_after_scan = identity.subscribe_scene
    record(actor, event(identity, followed=True, at=ago(days=1), scene=""))

    # then followed_at stays at the first follow; the scan kept the scene, the subscribe set it
    identity.refresh_from_db()
    assert (identity.followed, identity.followed_at) == (True, since)
    assert scene_after_scan == "spring"
    assert identity.subscribe_scene == ""


# -- the rule of snapshots --------------------------------------------------------------------


def test_a_snapshot_marks_followers_since_their_subscribe_time_and_fills_a_missing_scene(
    identity_of, actor
):
    # given a new identity, a follower with a scene and a follower without one
    new, with_scene, without_scene = identity_of("oNew"), identity_of("oA"), identity_of("oB")
    first = ago(days=10)
    record(
        actor,
        event(with_scene, followed=True, at=first, scene="spring"),
        event(without_scene, followed=True, at=first),
    )

    # when a follower list names all three
    since = ago(days=5)
    record(
        actor,
        snapshot(new, since=since, scene="ADD_SCENE_QR_CODE"),
        snapshot(with_scene, since=since, scene="ADD_SCENE_SEARCH"),
        snapshot(without_scene, since=since, scene="ADD_SCENE_SEARCH"),
    )

    # then the new one follows since its subscribe time; the others keep their followed_at,
    # and only the missing scene is filled
    rows = {i.pk: i for i in Identity.objects.all()}
    assert (rows[new.pk].followed, rows[new.pk].followed_at) == (True, since)
    assert rows[new.pk].subscribe_scene == "ADD_SCENE_QR_CODE"
    assert (rows[with_scene.pk].followed_at, rows[with_scene.pk].subscribe_scene) == (
        first,
        "spring",
    )
    assert (rows[without_scene.pk].followed_at, rows[without_scene.pk].subscribe_scene) == (
        first,
        "ADD_SCENE_SEARCH",
    )


def test_a_snapshot_is_current_whatever_the_last_event(identity_of, actor):
    # given an identity that unsubscribed yesterday
    identity = identity_of("oSvc")
    unsubscribed = ago(days=1)
    record(actor, event(identity, followed=False, at=unsubscribed))

    # when today's follower list names it, with an older subscribe time
    since = ago(days=30)
    record(actor, snapshot(identity, since=since))

    # then it follows again, since then; the unsubscribe time stays as it was
    identity.refresh_from_db()
    assert (identity.followed, identity.followed_at, identity.unfollowed_at) == (
        True,
        since,
        unsubscribed,
    )


def test_a_snapshot_names_followers_only():
    with pytest.raises(ValueError, match="followers only"):
        FollowObservation(identity_pk=1, followed=False, at=ago(days=1), snapshot=True)


# -- the audit entry --------------------------------------------------------------------------


def test_a_call_writes_one_entry_counting_what_changed(identity_of, actor):
    # given three identities: one follows, one will unfollow, one already follows
    a, b, c = identity_of("oA"), identity_of("oB"), identity_of("oC")
    record(actor, event(b, followed=True, at=ago(days=5)), event(c, followed=True, at=ago(days=5)))
    watch = Watch()

    # when one call follows a, unfollows b, and brings c an older, ignored event
    changes = record(
        actor,
        event(a, followed=True, at=ago(days=1), scene="spring"),
        event(b, followed=False, at=ago(days=1)),
        event(c, followed=False, at=ago(days=9)),
        source="events",
    )

    # then one entry names the app, the source and the counts of the rows that changed
    entry = watch.one("identity.follow", actor=actor, target=a.app.appid)
    assert entry.person is None
    assert entry.after == {
        "source": "events",
        "apps": [a.app.appid],
        "followed": 1,
        "unfollowed": 1,
        "changed": 2,
    }
    assert (changes.followed, changes.unfollowed, changes.changed) == (1, 1, 2)
    text = json.dumps([entry.target, entry.before, entry.after])
    assert not any(openid in text for openid in ("oA", "oB", "oC", "spring"))


def test_a_call_that_changes_nothing_writes_no_entry(identity_of, actor):
    identity = identity_of("oSvc")
    record(actor, snapshot(identity, since=ago(days=3), scene="ADD_SCENE_QR_CODE"))
    watch = Watch()

    record(actor, snapshot(identity, since=ago(days=3), scene="ADD_SCENE_QR_CODE"))
    record(actor, event(identity, followed=False, at=ago(days=4)))
    record(actor)

    watch.none()


def test_a_call_over_several_apps_is_one_entry_naming_them_all(
    identity_of, make_app, service_account, actor
):
    other = make_app("wx4444444444444444", AppKind.SERVICE_ACCOUNT, "Second account")
    first, second = identity_of("oA"), identity_of("oB", app=other)
    watch = Watch()

    record(
        actor,
        *(snapshot(identity, since=ago(days=1)) for identity in (first, second)),
        source="follower_import",
    )

    entry = watch.one("identity.follow", actor=actor)
    appids = sorted([service_account.appid, other.appid])
    assert entry.target == ",".join(appids)
    assert (entry.after["apps"], entry.after["followed"]) == (appids, 2)


def test_many_identities_are_one_statement_and_one_entry(identity_of, actor):
    identities = [identity_of(f"o{number}") for number in range(20)]
    watch = Watch()

    with CaptureQueriesContext(connection) as statements:
        changes = record(actor, *(snapshot(i, since=ago(days=1)) for i in identities))

    assert changes.followed == 20
    assert len(watch.entries()) == 1
    assert len(statements) == 2  # the UPDATE and the audit entry


def test_a_follow_change_whose_entry_cannot_be_written_does_not_happen(identity_of, actor):
    identity = identity_of("oSvc")
    refuse_audit_entries()

    with pytest.raises(DatabaseError, match="audit log refused"), transaction.atomic():
        record(actor, event(identity, followed=True, at=ago(days=1)))

    identity.refresh_from_db()
    assert identity.followed is None
