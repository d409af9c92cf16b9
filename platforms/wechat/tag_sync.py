"""Mirror a segment as a service-account user tag, so operations can mass-send by tag.

Creates (or reuses) the WeChat tag, tags followers who joined the segment and untags those who
left, 50 openids a call, within WeChat's limits (100 tags per account, 20 per user). WeChat is
called outside any transaction; what was tagged is recorded as it succeeds, so a failed sync
leaves an accurate record and the next run continues from it. Staff and the schedule queue a
sync (`queue_segment_tag_sync`) rather than run it: the worker runs one at a time per (segment,
account).
"""

import logging

from django.db import transaction
from django.utils import timezone

from identity.exceptions import InvalidInput
from identity.models import Actor, App, AppKind, Identity
from identity.services.audit import record_audit
from jobs.queue import enqueue
from jobs.selectors import job_waiting
from platforms.wechat.client import get_client
from platforms.wechat.errors import Errcode, WeChatDuplicateTagName, WeChatError
from platforms.wechat.models import WeChatTagMember, WeChatTagSync
from profiles.conditions import matching_persons
from profiles.models import Segment

logger = logging.getLogger(__name__)

CALL_SIZE = 50
TAG_NAME_LIMIT = 30
# A call of 50 refused for these is retried one openid at a time (see `_tag`); one openid refused
# for the follower's own reasons (over the 20-tag limit, no longer following) counts as failed.
ONE_FOLLOWER_REFUSED = frozenset({Errcode.USER_TAG_LIMIT, Errcode.INVALID_OPENID})
RETRY_ONE_BY_ONE = ONE_FOLLOWER_REFUSED | {Errcode.INVALID_OPENID_LIST}


def queue_segment_tag_sync(*, segment: Segment, app: App, actor: Actor) -> bool:
    """Queue the sync of `segment` to `app`'s tag, as `actor`, unless one already waits (it
    will read the segment's members when it runs). Return whether a job was queued.

    The sync's record is created now, so that the segment's page lists the account at once,
    with its job's state; the job commits or rolls back with the caller's transaction.
    """
    from platforms.wechat.tasks import sync_lock, sync_segment_tag_job

    _require_service_account(app)
    with transaction.atomic():
        WeChatTagSync.objects.get_or_create(segment=segment, app=app)
        lock = sync_lock(segment.pk, app.pk)
        if job_waiting(lock):
            return False
        enqueue(
            sync_segment_tag_job,
            queueing_lock=lock,
            lock=lock,
            segment_id=segment.pk,
            app_id=app.pk,
            actor_type=str(actor.type),
            actor_label=actor.label,
        )
    return True


def _require_service_account(app: App) -> None:
    if app.kind != AppKind.SERVICE_ACCOUNT:
        raise InvalidInput({"appid": ["Tags exist only on service accounts."]})


def sync_segment_tag(*, segment: Segment, app: App, actor: Actor) -> WeChatTagSync:
    """Bring the WeChat tag of `segment` on `app` in line with the segment's followers."""
    _require_service_account(app)
    sync, _ = WeChatTagSync.objects.get_or_create(segment=segment, app=app)
    client = get_client()
    added = removed = failed = 0
    error = ""
    try:
        if sync.wechat_tag_id is None:
            _create_tag(client, sync)
        desired = dict(
            Identity.objects.filter(
                app=app, followed=True, person__in=matching_persons(segment.condition).values("pk")
            ).values_list("pk", "openid")
        )
        current = dict(
            WeChatTagMember.objects.filter(sync=sync).values_list("identity_id", "identity__openid")
        )
        joined = sorted(set(desired) - set(current))
        left = sorted(set(current) - set(desired))
        added, failed = _tag(client, sync, joined, desired, untag=False)
        still_following = set(
            Identity.objects.filter(pk__in=left, followed=True).values_list("pk", flat=True)
        )
        # Unfollowers lost WeChat's tags with the follow; only the record needs dropping.
        WeChatTagMember.objects.filter(
            sync=sync, identity_id__in=set(left) - still_following
        ).delete()
        gone, not_untagged = _tag(client, sync, sorted(still_following), current, untag=True)
        removed = gone + len(set(left) - still_following)
        failed += not_untagged
    except WeChatError as exc:
        error = f"WeChat errcode {exc.errcode}"
        logger.warning("segment %s tag sync to %s stopped: %s", segment.key, app.appid, error)
    sync.last_synced_at = timezone.now()
    sync.last_added, sync.last_removed, sync.last_failed = added, removed, failed
    sync.last_error = error
    sync.save()
    record_audit(
        actor=actor,
        action="segment.wechat_sync",
        target=segment.key,
        after={
            "appid": app.appid,
            "tag_id": sync.wechat_tag_id,
            "added": added,
            "removed": removed,
            "failed": failed,
            "error": error,
        },
    )
    return sync


def _create_tag(client, sync: WeChatTagSync) -> None:
    name = sync.segment.name[:TAG_NAME_LIMIT]
    try:
        tag_id = client.create_tag(sync.app, name)
    except WeChatDuplicateTagName:
        tag_id = next(int(t["id"]) for t in client.list_tags(sync.app) if t.get("name") == name)
    sync.wechat_tag_id, sync.wechat_tag_name = tag_id, name
    sync.save(update_fields=["wechat_tag_id", "wechat_tag_name"])


def _tag(client, sync, identity_ids: list[int], openids: dict[int, str], *, untag: bool):
    """Tag or untag in calls of 50; a refused call is retried one openid at a time so that
    one follower over WeChat's 20-tag limit (or gone meanwhile) does not block the others.
    Returns (done, failed)."""
    done = failed = 0
    for start in range(0, len(identity_ids), CALL_SIZE):
        chunk = identity_ids[start : start + CALL_SIZE]
        try:
            client.tag_users(sync.app, sync.wechat_tag_id, [openids[i] for i in chunk], untag=untag)
            succeeded = chunk
        except WeChatError as exc:
            if exc.errcode not in RETRY_ONE_BY_ONE:
                raise
            succeeded = []
            for identity_id in chunk:
                try:
                    client.tag_users(
                        sync.app, sync.wechat_tag_id, [openids[identity_id]], untag=untag
                    )
                    succeeded.append(identity_id)
                except WeChatError as single:
                    if single.errcode not in ONE_FOLLOWER_REFUSED:
                        raise
                    failed += 1
        _record(sync, succeeded, untag=untag)
        done += len(succeeded)
    return done, failed


def _record(sync, identity_ids: list[int], *, untag: bool) -> None:
    if untag:
        WeChatTagMember.objects.filter(sync=sync, identity_id__in=identity_ids).delete()
    else:
        WeChatTagMember.objects.bulk_create(
            [WeChatTagMember(sync=sync, identity_id=i) for i in identity_ids], ignore_conflicts=True
        )
