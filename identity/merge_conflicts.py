"""What stops two persons from becoming one (invariant 2), read under the merge's locks.

A read shared by the services that merge (a merge, a phone bind that merges): it decides, and
the caller refuses with MergeConflict, so that the answer is the same whichever path merges.
"""

from collections.abc import Collection

from django.db.models import Count

from identity.models import Identity, Person, UnionId


def merge_conflicts(
    first: Person, second: Person, *, visible_app_ids: Collection[int] | None = None
) -> dict[str, object]:
    """Return what stops two persons from becoming one (invariant 2), empty when nothing does.

    A caller confined to `visible_app_ids` learns of conflicts in its own apps by appid and of
    the others only that they exist: an answer must not name an app the caller cannot see.
    """
    conflicts: dict[str, object] = {}
    shared_apps = (
        Identity.objects.filter(person__in=[first, second])
        .values("app_id", "app__appid")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    rows = list(shared_apps)
    shown = [r for r in rows if visible_app_ids is None or r["app_id"] in visible_app_ids]
    if shown:
        conflicts["apps"] = sorted(row["app__appid"] for row in shown)
    if len(shown) < len(rows):
        conflicts["other_apps"] = "both persons hold an openid in an app outside this key"
    shared_platforms = (
        UnionId.objects.filter(person__in=[first, second])
        .values("platform")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    platforms = sorted(row["platform"] for row in shared_platforms)
    if platforms:
        conflicts["unionid_platforms"] = platforms
    if first.phone_index and second.phone_index and first.phone_index != second.phone_index:
        conflicts["phone"] = "both persons hold a different phone number"
    return conflicts
