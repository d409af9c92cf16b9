"""Row locks in a fixed order, and the checks made under them (merge conflicts, what a caller
confined to some apps may reach)."""

from collections.abc import Collection

from django.db.models import Count

from identity.exceptions import PersonNotFound
from identity.models import Identity, Person, UnionId
from identity.services.retry import StaleRead


def lock_persons(*pks: int) -> dict[int, Person]:
    """Lock persons in primary-key order, so that concurrent merges cannot deadlock."""
    locked = Person.objects.select_for_update().filter(pk__in=set(pks)).order_by("pk")
    persons = {person.pk: person for person in locked}
    if len(persons) != len(set(pks)):
        raise PersonNotFound()
    return persons


def live_pks(*pks: int) -> list[int]:
    """Map each person to its survivor (tombstones point straight at a live person)."""
    rows = dict(Person.objects.filter(pk__in=pks).values_list("pk", "merged_into_id"))
    return [rows.get(pk) or pk for pk in pks]


def lock_live_persons(*pks: int) -> dict[int, Person]:
    """Lock persons and insist they are still live; a tombstone means the caller read too early."""
    persons = lock_persons(*pks)
    if any(person.merged_into_id for person in persons.values()):
        raise StaleRead("a person was merged away while the change was being prepared")
    return persons


def visible_in(person_pk: int, app_ids: Collection[int] | None) -> bool:
    """Whether a caller confined to `app_ids` (None: not confined) can see the person."""
    if app_ids is None:
        return True
    return Identity.objects.filter(person_id=person_pk, app_id__in=app_ids).exists()


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
