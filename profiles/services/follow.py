"""Follow events as identity sees them: the subscribe / unsubscribe / scan events of a batch
become follow observations, which identity's follow service applies and audits."""

from identity.models import Actor
from identity.services.follow import FollowObservation, record_follow_changes
from profiles.services.event_parsing import ParsedEvent

SUBSCRIBE = "subscribe"
# A QR scan is only pushed for a follower: evidence of following, without a scene change.
FOLLOWING = ("subscribe", "qr_scan")
FOLLOW_TYPES = ("subscribe", "unsubscribe", "qr_scan")


def apply_follow_events(
    follows: list[tuple[int, ParsedEvent]], *, actor: Actor, source: str
) -> None:
    """Set each identity's follow state from its latest subscribe/unsubscribe/scan event."""
    record_follow_changes(
        observations=[_observation(identity_pk, event) for identity_pk, event in follows],
        actor=actor,
        source=source,
    )


def _observation(identity_pk: int, event: ParsedEvent) -> FollowObservation:
    """Only a subscribe carries a scene (its own, or none: "")."""
    scene = str(event.properties.get("scene", "")) if event.type == SUBSCRIBE else None
    return FollowObservation(
        identity_pk=identity_pk,
        followed=event.type in FOLLOWING,
        at=event.occurred_at,
        scene=scene,
    )
