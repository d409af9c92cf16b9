"""Follow state of service-account identities as WeChat reports it: the one writer of changes
to followed, followed_at, unfollowed_at and subscribe_scene (an identity created by an openid
migration starts with its old identity's state; one created from a follower list starts with
the state `snapshot_state` gives it; erasure clears the scene).

Two kinds of observation feed it, each with its own rule. An event (a subscribe, unsubscribe or
QR-scan push, or the same sent to the events API) is a dated change: the latest one wins and one
older than the identity's last change is ignored, so late or replayed pushes cannot undo a newer
state. A snapshot (a follower list) only says "follows, since then": it marks the identity
followed and fills a missing subscribe scene, never moving an existing followed_at. A call is one
UPDATE whatever its size, and one audit entry counting what changed (imports run at thousands of
identities a second: never an entry per identity, and never an openid).
"""

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import connection, transaction

from identity import person_cache
from identity.models import Actor, AuditEntry, Identity
from identity.services.audit import record_audit
from identity.services.bulk_rows import json_list

SCENE_CHARS = Identity._meta.get_field("subscribe_scene").max_length
TARGET_CHARS = AuditEntry._meta.get_field("target").max_length


@dataclass(frozen=True)
class FollowObservation:
    """One identity seen following or not at `at`.

    `scene` is the subscribe scene the observation carries, None when it carries none (an
    unsubscribe, a QR scan): then the stored scene stays as it is.
    """

    identity_pk: int
    followed: bool
    at: datetime
    scene: str | None = None
    snapshot: bool = False

    def __post_init__(self) -> None:
        if self.snapshot and not self.followed:
            raise ValueError("a follower snapshot names followers only")


@dataclass(frozen=True)
class FollowChanges:
    followed: int = 0  # identities that now follow and did not
    unfollowed: int = 0  # identities that no longer follow
    changed: int = 0  # identities whose follow state, times or scene changed


def snapshot_state(*, at: datetime, scene: str) -> tuple[bool, datetime, str]:
    """(followed, followed_at, subscribe_scene) of an identity created from a follower list:
    what a snapshot observation gives an identity without a follow state. bulk_resolve writes
    it into the identities it creates (`following`), which saves updating each right after."""
    return True, at, scene[:SCENE_CHARS]


def record_follow_changes(
    *,
    observations: Sequence[FollowObservation],
    actor: Actor,
    source: str,
    created_following: Collection[int] = (),
) -> FollowChanges:
    """Apply the observations to their identities and audit the call in one entry.

    At most one observation counts per identity: the latest (the later one of the list on a
    tie). Runs in the caller's transaction when there is one; no entry is written when nothing
    changed (a replayed import, a late push). `created_following` names identities this
    transaction created with their snapshot's state already (`snapshot_state`): they count as
    followed and changed, and are not updated again.
    """
    latest: dict[int, FollowObservation] = {}
    for observation in observations:
        current = latest.get(observation.identity_pk)
        if current is None or observation.at >= current.at:
            latest[observation.identity_pk] = observation
    created = [pk for pk in latest if pk in created_following]
    for pk in created:
        del latest[pk]
    if not latest and not created:
        return FollowChanges()
    with transaction.atomic(savepoint=False):
        rows = _update(sorted(latest.values(), key=lambda o: o.identity_pk)) if latest else []
        changes = FollowChanges(
            followed=len(created) + sum(1 for _, now, was, _ in rows if now and was is not True),
            unfollowed=sum(1 for _, now, was, _ in rows if not now and was is not False),
            changed=len(created) + sum(1 for *_, changed in rows if changed),
        )
        if changes.changed:
            appids = sorted({appid for appid, *_, changed in rows if changed} | _appids_of(created))
            record_audit(
                actor=actor,
                action="identity.follow",
                target=",".join(appids)[:TARGET_CHARS],
                after={"source": source, "apps": appids, **asdict(changes)},
            )
    return changes


def _appids_of(identity_pks: list[int]) -> set[str]:
    if not identity_pks:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT a.appid FROM identity_app AS a "
            "JOIN identity_identity AS i ON i.app_id = a.id "
            "WHERE i.id = ANY(ARRAY(SELECT json_array_elements_text(%s::json)::bigint))",
            [json_list(identity_pks)],
        )
        return {appid for (appid,) in cursor.fetchall()}


def _update(observations: list[FollowObservation]) -> list[tuple[str, bool, bool | None, bool]]:
    """Run the one UPDATE; return (appid, followed now, followed before, changed) per row.

    `was` is the row as the statement found it, read for the counts only; the rules read the
    row being updated (`i`), so a concurrent change is never overwritten by a stale decision.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE identity_identity AS i SET
                followed = v.followed,
                followed_at = CASE WHEN v.followed AND i.followed IS NOT TRUE THEN v.at
                                   ELSE i.followed_at END,
                unfollowed_at = CASE WHEN NOT v.followed AND i.followed IS NOT FALSE THEN v.at
                                     ELSE i.unfollowed_at END,
                subscribe_scene = CASE WHEN v.scene IS NULL
                                         OR (v.snapshot AND i.subscribe_scene <> '')
                                       THEN i.subscribe_scene ELSE v.scene END,
                updated_at = now()
            FROM (
                SELECT id::bigint, followed::boolean, at::timestamptz, scene, snapshot::boolean
                FROM ROWS FROM (json_array_elements_text(%s::json),
                                json_array_elements_text(%s::json),
                                json_array_elements_text(%s::json),
                                json_array_elements_text(%s::json),
                                json_array_elements_text(%s::json))
                     AS k(id, followed, at, scene, snapshot)
            ) AS v
            JOIN identity_identity AS was ON was.id = v.id
            JOIN identity_app AS a ON a.id = was.app_id
            WHERE i.id = v.id
              AND CASE WHEN v.snapshot THEN i.followed IS NOT TRUE OR i.subscribe_scene = ''
                       ELSE v.at >= GREATEST(COALESCE(i.followed_at, '-infinity'),
                                             COALESCE(i.unfollowed_at, '-infinity')) END
            RETURNING a.appid, i.followed, was.followed,
                (i.followed, i.followed_at, i.unfollowed_at, i.subscribe_scene)
                IS DISTINCT FROM
                (was.followed, was.followed_at, was.unfollowed_at, was.subscribe_scene),
                i.person_id
            """,
            [  # JSON lists rather than arrays: see identity/services/bulk_rows.py
                json_list(o.identity_pk for o in observations),
                json_list(o.followed for o in observations),
                json_list(o.at.isoformat() for o in observations),
                json_list(None if o.scene is None else o.scene[:SCENE_CHARS] for o in observations),
                json_list(o.snapshot for o in observations),
            ],
        )
        rows = cursor.fetchall()
    # Answers show each identity's follow state.
    person_cache.changed(row[4] for row in rows if row[3])
    return [row[:4] for row in rows]
