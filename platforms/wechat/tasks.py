"""WeChat's scheduled jobs, run by the worker instead of cron (thin: services do the work).

Both talk to WeChat outside any transaction and record their progress as they go (the tag
syncs on WeChatTagSync, the imports on FollowerImport), so a run cut short resumes next time.
"""

import logging

from django.utils.translation import gettext_lazy as _

from identity.exceptions import InvalidInput
from identity.models import Actor, App, AppKind
from jobs.runs import JobIncomplete
from jobs.schedule import scheduled
from platforms.wechat.errors import WeChatError
from platforms.wechat.models import FollowerImport, WeChatTagSync
from platforms.wechat.tag_sync import sync_segment_tag

logger = logging.getLogger(__name__)


@scheduled(
    name="wechat.sync_segment_tags",
    cron="30 5 * * *",
    description=_("Mirror each synced segment onto its service-account tag"),
)
def sync_segment_tags() -> dict:
    """Re-sync every segment that staff mirrored as a tag, after the night's rule refresh."""
    actor = Actor.system("schedule: WeChat tag sync")
    failed = []
    syncs = WeChatTagSync.objects.select_related("segment", "app").order_by("pk")
    for sync in syncs:
        try:
            done = sync_segment_tag(segment=sync.segment, app=sync.app, actor=actor)
        except InvalidInput:
            done = None
        if done is None or done.last_error:
            failed.append(f"{sync.segment.key}@{sync.app.appid}")
    summary = {"syncs": len(syncs), "failed": failed}
    if failed:
        raise JobIncomplete(f"Tag syncs not finished: {', '.join(failed)}.", summary)
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
