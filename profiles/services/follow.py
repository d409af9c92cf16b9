"""Follow state of service-account identities, fed by subscribe / unsubscribe events."""

from django.db import connection

from profiles.services.event_parsing import ParsedEvent

SUBSCRIBE = "subscribe"


def apply_follow_events(follows: list[tuple[int, ParsedEvent]]) -> None:
    """Set each identity's follow state from its latest subscribe/unsubscribe event.

    An event older than the identity's last follow change is ignored, so late or replayed
    pushes cannot undo a newer state. One UPDATE whatever the batch size.
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
                followed_at = CASE WHEN v.followed THEN v.at ELSE i.followed_at END,
                unfollowed_at = CASE WHEN v.followed THEN i.unfollowed_at ELSE v.at END,
                subscribe_scene = CASE WHEN v.followed THEN v.scene ELSE i.subscribe_scene END,
                updated_at = now()
            FROM unnest(%s::bigint[], %s::boolean[], %s::timestamptz[], %s::text[])
                 AS v(id, followed, at, scene)
            WHERE i.id = v.id
              AND v.at >= GREATEST(COALESCE(i.followed_at, '-infinity'),
                                   COALESCE(i.unfollowed_at, '-infinity'))
            """,
            [
                pks,
                [latest[pk].type == SUBSCRIBE for pk in pks],
                [latest[pk].occurred_at for pk in pks],
                [_scene(latest[pk]) for pk in pks],
            ],
        )


def _scene(event: ParsedEvent) -> str:
    scene = event.properties.get("scene", "") if event.type == SUBSCRIBE else ""
    return str(scene)[:64]
