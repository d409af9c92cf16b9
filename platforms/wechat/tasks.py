"""WeChat's background jobs, run by the worker (thin: services do the work).

All talk to WeChat outside any transaction and record their progress as they go (the tag
syncs on WeChatTagSync, the imports on FollowerImport), so a run cut short resumes next time.
A segment's tag sync on one service account runs as its own job, under one lock per (segment,
account): the admin's action and the nightly run queue the same job, so a sync is queued once
and never runs twice at the same time.
"""

import logging

from django.utils.translation import gettext_lazy as _
from procrastinate.contrib.django import app as queue_app

from identity.exceptions import InvalidInput
from identity.models import Actor, App, AppKind
from jobs.runs import JobIncomplete
from jobs.schedule import scheduled
from platforms.wechat.errors import WeChatError
from platforms.wechat.models import FollowerImport, WeChatTagSync
from platforms.wechat.tag_sync import queue_segment_tag_sync, sync_segment_tag
from profiles.models import Segment

logger = logging.getLogger(__name__)

SYNC_TASK_NAME = "wechat.sync_segment_tag"
SYNC_LOCK_PREFIX = f"{SYNC_TASK_NAME}:"


def sync_lock(segment_id: int, app_id: int) -> str:
    """The queueing lock (and running lock) of one segment's sync to one account."""
    return f"{SYNC_LOCK_PREFIX}{segment_id}:{app_id}"


@queue_app.task(name=SYNC_TASK_NAME, queue="wechat")
def sync_segment_tag_job(
    *, segment_id: int, app_id: int, actor_type: str, actor_label: str
) -> dict:
    """Sync the segment's tag on the account, as whoever queued it; a segment or account
    deleted since needs nothing. A WeChat refusal is recorded on the sync (the segment's page
    shows it), not raised: the next run resumes from what was recorded."""
    segment = Segment.objects.filter(pk=segment_id).first()
    account = App.objects.filter(pk=app_id).first()
    if segment is None or account is None:
        return {"sync": None}
    summary = {"segment": segment.key, "appid": account.appid}
    try:
        sync = sync_segment_tag(segment=segment, app=account, actor=Actor(actor_type, actor_label))
    except InvalidInput:  # the account is no longer a service account
        return {**summary, "error": "not a service account"}
    return {
        **summary,
        "added": sync.last_added,
        "removed": sync.last_removed,
        "failed": sync.last_failed,
        "error": sync.last_error,
    }


@scheduled(
    name="wechat.sync_segment_tags",
    cron="30 5 * * *",
    description=_("Mirror each synced segment onto its service-account tag"),
)
def sync_segment_tags() -> dict:
    """Queue a re-sync of every segment that staff mirrored as a tag, after the night's rule
    refresh: one job per (segment, account), under the lock the admin's action takes, so that
    the night never syncs a tag an operator's sync is syncing (or has queued)."""
    actor = Actor.system("schedule: WeChat tag sync")
    queued, skipped = 0, []
    syncs = WeChatTagSync.objects.select_related("segment", "app").order_by("pk")
    for sync in syncs:
        try:
            queued += queue_segment_tag_sync(segment=sync.segment, app=sync.app, actor=actor)
        except InvalidInput:  # the account is no longer a service account
            skipped.append(f"{sync.segment.key}@{sync.app.appid}")
    summary = {"syncs": len(syncs), "queued": queued, "skipped": skipped}
    if skipped:
        raise JobIncomplete(f"Tag syncs not queued: {', '.join(skipped)}.", summary)
    return summary


@scheduled(
    name="wechat.reimport_followers",
    cron="0 4 * * 0",
    description=_("Re-import the followers of service accounts imported before"),
)
def reimport_followers() -> dict:
    """Import again the followers of every service account imported once (Sunday, 04:00).

    Pushes keep the follow state between imports; a weekly import repairs the pushes that
    never arrived. An import cut short resumes where it stopped (FollowerImport).
    """
    from platforms.wechat.services.follower_import import import_followers

    actor = Actor.system("schedule: follower import")
    apps = App.objects.filter(
        kind=AppKind.SERVICE_ACCOUNT,
        pk__in=FollowerImport.objects.values("app_id"),
    ).order_by("pk")
    imported, failed = 0, []
    for app in apps:
        try:
            run = import_followers(app=app, actor=actor)
        except (InvalidInput, WeChatError) as exc:
            logger.warning("Follower import of %s stopped: %s", app.appid, type(exc).__name__)
            failed.append(app.appid)
            continue
        imported += run.followers_seen
    summary = {"accounts": len(apps), "followers": imported, "failed": failed}
    if failed:
        raise JobIncomplete(f"Follower imports not finished: {', '.join(failed)}.", summary)
    return summary
