"""Follow state of service-account identities, fed by subscribe / unsubscribe events."""

from django.db import connection

from profiles.services.event_parsing import ParsedEvent

SUBSCRIBE = "subscribe"
# A QR scan is only pushed for a follower: evidence of following, without a scene change.
FOLLOWING = ("subscribe", "qr_scan")


def apply_follow_events(follows: list[tuple[int, ParsedEvent]]) -> None:
    """Set each identity's follow state from its latest subscribe/unsubscribe/scan event.

    An event older than the identity's last follow change is ignored, so late or replayed
    pushes cannot undo a newer state; followed_at and unfollowed_at move only when the state
    changes. One UPDATE whatever the batch size.
    """
    latest: dict[int, ParsedEvent] = {}
    for identity_pk, event in follows:
        current = latest.get(identity_pk)
        if current is None or event.occurred_at >= current.occurred_at:
            latest[identity_pk] = event
    if not latest:
        return
    pks = sorted(latest)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE identity_identity AS i SET
                followed = v.followed,
                followed_at = CASE WHEN v.followed AND i.followed IS NOT TRUE THEN v.at
                                   ELSE i.followed_at END,
                unfollowed_at = CASE WHEN NOT v.followed AND i.followed IS NOT FALSE THEN v.at
                                     ELSE i.unfollowed_at END,
                subscribe_scene = CASE WHEN v.subscribe THEN v.scene ELSE i.subscribe_scene END,
                updated_at = now()
            FROM unnest(%s::bigint[], %s::boolean[], %s::timestamptz[], %s::text[],
                        %s::boolean[])
                 AS v(id, followed, at, scene, subscribe)
            WHERE i.id = v.id
              AND v.at >= GREATEST(COALESCE(i.followed_at, '-infinity'),
                                   COALESCE(i.unfollowed_at, '-infinity'))
            """,
            [
                pks,
                [latest[pk].type in FOLLOWING for pk in pks],
                [latest[pk].occurred_at for pk in pks],
                [_scene(latest[pk]) for pk in pks],
                [latest[pk].type == SUBSCRIBE for pk in pks],
            ],
        )


def _scene(event: ParsedEvent) -> str:
    scene = event.properties.get("scene", "") if event.type == SUBSCRIBE else ""
    return str(scene)[:64]
