"""Who changed which tag: audit entries of tags, read for the person and tag pages."""

from django.db.models import Q
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from identity.admin.common import EMPTY, local_time
from identity.admin.words import actor_in_words
from identity.models import AuditEntry, Person
from profiles.models import Tag

HISTORY_LIMIT = 50
BULK_ACTIONS = ("tag.bulk_assign", "tag.bulk_remove")
COLUMNS = (gettext_lazy("when"), gettext_lazy("who"), gettext_lazy("what"))


def person_tag_history(person: Person) -> list[AuditEntry]:
    """The person's own tag entries and the bulk actions that named the person, newest first.

    Two index scans (person, then the few bulk actions by their action), not a scan of the log.
    """
    named_in_bulk = Q(action__in=BULK_ACTIONS, after__persons__contains=[person.public_id])
    entries = AuditEntry.objects.filter(Q(person=person) | named_in_bulk).filter(
        action__startswith="tag."
    )
    return list(entries.order_by("-created_at", "-pk")[:HISTORY_LIMIT])


def tag_history(tag: Tag) -> list[AuditEntry]:
    """The tag's definition changes, refreshes and bulk actions, newest first."""
    entries = AuditEntry.objects.filter(target=tag.key, action__startswith="tag.")
    return list(entries.order_by("-created_at", "-pk")[:HISTORY_LIMIT])


def _who(entry: AuditEntry) -> str:
    return actor_in_words(entry.actor_type, entry.actor)


def _keys(values) -> str:
    return ", ".join(values or []) or EMPTY


def describe_entry(entry: AuditEntry) -> str:
    """Say in a few words what one tag audit entry changed."""
    after, before = entry.after or {}, entry.before or {}
    action = entry.action
    if action == "tag.assign":
        text = _("added %(tags)s") % {"tags": _keys(after.get("tags"))}
        if before.get("replaced"):
            text += "; " + _("replaced %(tags)s") % {"tags": _keys(before["replaced"])}
        if after.get("expires_at"):
            text += "; " + _("expires %(when)s") % {"when": local_time(after["expires_at"])}
        return text
    if action == "tag.remove":
        return _("removed %(tags)s") % {"tags": _keys(before.get("tags"))}
    if action in BULK_ACTIONS:
        count = len(after.get("persons") or [])
        if action == "tag.bulk_assign":
            text = ngettext(
                "added %(tag)s to %(count)d person (bulk)",
                "added %(tag)s to %(count)d persons (bulk)",
                count,
            )
        else:
            text = ngettext(
                "removed %(tag)s from %(count)d person (bulk)",
                "removed %(tag)s from %(count)d persons (bulk)",
                count,
            )
        text %= {"tag": entry.target, "count": count}
        if after.get("expires_at"):
            text += "; " + _("expires %(when)s") % {"when": local_time(after["expires_at"])}
        return text
    if action == "tag.refresh":
        return _describe_refresh(after)
    if action == "tag.create":
        return _("created")
    if action == "tag.update":
        changed = sorted(key for key in after if before.get(key) != after.get(key))
        return _("changed %(fields)s") % {"fields": _keys(changed)}
    if action == "tag.delete":
        return _("deleted")
    return action


def _describe_refresh(after: dict) -> str:
    """A refresh of everyone, or of the few persons an ingest or a merge touched.

    Only the first is the tag's "last refresh": the others say so, so that the history does not
    list refreshes that the tag's last refresh does not show.
    """
    figures = {"added": after.get("added", 0), "removed": after.get("removed", 0)}
    scope = str(after.get("scope", "all"))
    if scope == "all":
        return _("refreshed for everyone: %(added)s added, %(removed)s removed") % figures
    words = scope.split()  # "12 persons"
    count = int(words[0]) if words and words[0].isdigit() else 0
    text = ngettext(
        "updated for %(count)d person: %(added)s added, %(removed)s removed",
        "updated for %(count)d persons: %(added)s added, %(removed)s removed",
        count,
    )
    return text % {"count": count, **figures}


def history_table(entries: list[AuditEntry]):
    """Render entries as a small table (who, when, what); a dash when there are none."""
    if not entries:
        return EMPTY
    head = format_html_join("", "<th>{}</th>", ((label,) for label in COLUMNS))
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((local_time(entry.created_at), _who(entry), describe_entry(entry)) for entry in entries),
    )
    return format_html(
        '<table class="tag-history"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        head,
        rows,
    )
