"""Import a service account's followers: every follower becomes (or joins) a person.

A fetch thread (follower_fetch.py) pages through `cgi-bin/user/get` and gets the followers'
unionids and follow details 100 at a time, ahead of this thread, which cuts them into chunks of
up to CHUNK followers for the writers (follower_writers.py: two connections, commits in order).
A chunk is one transaction: the bulk resolve, at most one follow-state UPDATE, and the run's
progress (the cursor of the current page and how far into it the import got), so that what is
saved is exactly what was written. An interrupted import resumes at the next chunk;
re-processing one would be harmless anyway, because resolving a known follower changes nothing.

A failing WeChat call stops the run with its error code once the followers fetched before it are
written; the run stays unfinished, to be resumed.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from identity.exceptions import InvalidInput
from identity.models import Actor, App, AppKind
from identity.services.audit import record_audit
from identity.services.bulk_resolve import BulkResolution, bulk_resolve
from identity.services.follow import FollowObservation, record_follow_changes
from identity.validators import IDENTIFIER_RE
from platforms.wechat.models import FollowerImport
from platforms.wechat.services.follower_fetch import Batch, Failure, FollowerFetcher
from platforms.wechat.services.follower_writers import Chunk, ChunkWriters

# Followers resolved per transaction: large enough that statements and commits are few per
# follower, small enough that a chunk's transaction stays short and a kill redoes little.
CHUNK = 2_000


@dataclass(frozen=True)
class Progress:
    seen: int
    total: int
    created: int
    errors: int


@dataclass
class _Batches:
    """Batches fetched and not yet written; `last` is the latest, which says where they end."""

    infos: list[dict] = field(default_factory=list)
    last: Batch | None = None

    def add(self, batch: Batch) -> None:
        self.infos += batch.infos
        self.last = batch


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

    def report() -> None:
        if progress:
            progress(Progress(run.followers_seen, run.total, run.persons_created, run.errors))

    fetcher = FollowerFetcher(app, next_openid=run.next_openid, page_offset=run.page_offset)
    with fetcher, ChunkWriters(on_commit=report) as writers:
        batches = _Batches()
        for item in fetcher:
            if isinstance(item, Failure):
                if batches.last:  # keep what came before the failing call
                    writers.submit(_chunk(app, run, batches, actor))
                writers.finish()
                raise item.error
            batches.add(item)
            if item.page_end or len(batches.infos) >= CHUNK:
                writers.submit(_chunk(app, run, batches, actor))
                batches = _Batches()
        writers.finish()
    with transaction.atomic():
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


def _chunk(app: App, run: FollowerImport, batches: _Batches, actor: Actor) -> Chunk:
    """The transaction of a chunk: resolve it and set its follow state (`write`), then, in
    its turn, save the run's progress (`save`)."""
    entries, follow, skipped = _parse(batches.infos)
    last = batches.last

    def write() -> BulkResolution:
        # The list is a snapshot: these identities follow, since their subscribe time. Those
        # the resolve creates start so; the follow service updates the others.
        resolution = bulk_resolve(
            app=app,
            entries=entries,
            actor=actor,
            following={o: (f["at"], f["scene"]) for o, f in follow.items()},
            # The service first sees the followers it creates now (lifecycle "new").
            seen_at=timezone.now(),
        )
        snapshot = [
            FollowObservation(identity_pk=identity_pk, followed=True, snapshot=True, **follow[o])
            for o, (_, identity_pk) in resolution.subjects.items()
        ]
        record_follow_changes(
            observations=snapshot,
            actor=actor,
            source="follower_import",
            created_following=resolution.created_following,
        )
        return resolution

    def save(resolution: BulkResolution) -> None:
        run.total = last.total
        run.followers_seen += len(batches.infos)
        run.persons_created += resolution.created
        run.errors += skipped + len(resolution.errors)
        run.page_offset = last.end
        if last.page_end:
            run.next_openid, run.page_offset = last.next_openid, 0
            run.pages_done += 1
        run.save()

    unionids = {unionid for unionid in entries.values() if unionid}
    return Chunk(write=write, save=save, openids=set(entries), unionids=unionids)


def _parse(infos: list[dict]) -> tuple[dict[str, str | None], dict[str, dict], int]:
    """Clean the followers' details: (openid -> unionid or None, openid -> follow details, count
    of malformed entries). An entry that no longer follows is skipped without counting."""
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
    return entries, follow, errors
