"""Import a service account's followers: every follower becomes (or joins) a person.

Pages through `cgi-bin/user/get` (10 000 openids a page), fetches unionids and follow details
100 at a time (`user/info/batchget`), and resolves each chunk in one transaction. The cursor of
the current page and how far into it the import got are saved after every chunk, so an
interrupted import resumes at the next chunk; re-processing a chunk would be harmless anyway,
because resolving a known follower changes nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from identity.exceptions import InvalidInput
from identity.models import Actor, App, AppKind
from identity.services.audit import record_audit
from identity.services.bulk_resolve import bulk_resolve
from identity.services.follow import FollowObservation, record_follow_changes
from identity.validators import IDENTIFIER_RE
from platforms.wechat.client import get_client
from platforms.wechat.models import FollowerImport

CHUNK = 100


@dataclass(frozen=True)
class Progress:
    seen: int
    total: int
    created: int
    errors: int


def import_followers(
    *,
    app: App,
    actor: Actor,
    restart: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> FollowerImport:
    """Run (or resume) the follower import of a service account and return its record."""
    if app.kind != AppKind.SERVICE_ACCOUNT:
        raise InvalidInput({"appid": ["Followers exist only for service accounts."]})
    run = _current_run(app, restart)
    client = get_client()
    while True:
        openids, next_openid, total = client.followers_page(app, run.next_openid)
        if not openids:
            break
        run.total = total
        for start in range(run.page_offset, len(openids), CHUNK):
            infos = client.user_info_batch(app, openids[start : start + CHUNK])
            created, errors = _resolve_chunk(app, infos, actor)
            run.followers_seen += len(infos)
            run.persons_created += created
            run.errors += errors
            run.page_offset = start + len(infos)
            run.save()
            if progress:
                progress(Progress(run.followers_seen, run.total, run.persons_created, run.errors))
        run.next_openid = next_openid
        run.page_offset = 0
        run.pages_done += 1
        run.save()
        if not next_openid:
            break
    run.finished_at = timezone.now()
    run.save()
    record_audit(
        actor=actor,
        action="followers.import",
        target=app.appid,
        after={
            "followers": run.followers_seen,
            "created": run.persons_created,
            "errors": run.errors,
            "pages": run.pages_done,
        },
    )
    return run


def _current_run(app: App, restart: bool) -> FollowerImport:
    unfinished = FollowerImport.objects.filter(app=app, finished_at__isnull=True).first()
    if unfinished and restart:
        unfinished.finished_at = timezone.now()
        unfinished.save(update_fields=["finished_at"])
        unfinished = None
    return unfinished or FollowerImport.objects.create(app=app)


def _resolve_chunk(app: App, infos: list[dict], actor: Actor) -> tuple[int, int]:
    """Resolve one chunk of followers and set their follow state; returns (created, errors)."""
    entries, follow = {}, {}
    errors = 0
    for info in infos:
        openid = str(info.get("openid") or "").strip()
        if not IDENTIFIER_RE.fullmatch(openid) or str(info.get("subscribe")) != "1":
            errors += 0 if str(info.get("subscribe")) == "0" else 1
            continue
        unionid = str(info.get("unionid") or "").strip() or None
        entries[openid] = unionid if unionid and IDENTIFIER_RE.fullmatch(unionid) else None
        follow[openid] = {
            "at": datetime.fromtimestamp(int(info.get("subscribe_time") or 0), tz=UTC),
            "scene": str(info.get("subscribe_scene") or ""),  # cut to the column by identity
        }
    with transaction.atomic():
        resolution = bulk_resolve(app=app, entries=entries, actor=actor)
        # The list is a snapshot: these identities follow, since their subscribe time.
        snapshot = [
            FollowObservation(identity_pk=identity_pk, followed=True, snapshot=True, **follow[o])
            for o, (_, identity_pk) in resolution.subjects.items()
        ]
        record_follow_changes(observations=snapshot, actor=actor, source="follower_import")
    return resolution.created, errors + len(resolution.errors)
