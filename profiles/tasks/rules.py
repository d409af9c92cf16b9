"""The refresh of one rule tag after its definition changed (thin: services.rules does it)."""

from procrastinate.contrib.django import app

from identity.models import Actor
from profiles.models import Tag, TagKind
from profiles.services.rules import try_refresh_rule_tag

TASK_NAME = "profiles.refresh_rule_tag"
LOCK_PREFIX = f"{TASK_NAME}:"


def refresh_lock(tag_id: int) -> str:
    """The queueing lock (and running lock) of a tag's refresh: one waiting, one running."""
    return f"{LOCK_PREFIX}{tag_id}"


@app.task(name=TASK_NAME, queue="rules")
def refresh_rule_tag_job(*, tag_id: int, actor_type: str, actor_label: str) -> dict:
    """Refresh the tag for everyone, as whoever saved it; a tag deleted or made manual since
    needs nothing. A failure is recorded on the tag (the admin shows it), not raised: trying
    the same condition again would fail the same way."""
    tag = Tag.objects.filter(pk=tag_id, kind=TagKind.RULE).select_related("group").first()
    if tag is None:
        return {"tag": None}
    result = try_refresh_rule_tag(tag=tag, actor=Actor(actor_type, actor_label))
    return {
        "tag": tag.key,
        "added": result.added,
        "removed": result.removed,
        "failed": result.failed,
    }
