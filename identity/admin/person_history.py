"""The person page's History: the latest audit entries of the person, in words.

Identity says its own actions; the apps built on it say theirs through the extensions'
`audit_describers`, so that the page never shows an action code where words exist.
"""

from collections.abc import Callable, Mapping

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identity.admin.common import EMPTY, local_time
from identity.admin.words import actor_in_words
from identity.audit_reads import app_names_by_appid, recent_audit_entries
from identity.models import AuditEntry, Person

RECENT = 10
COLUMNS = (gettext_lazy("when"), gettext_lazy("who"), gettext_lazy("what"))

Describer = Callable[[AuditEntry], str]


def _apps(appids, names: Mapping[str, str]) -> str:
    if isinstance(appids, str):
        appids = [appids]
    return ", ".join(names.get(appid, appid) for appid in appids or []) or EMPTY


def describe_identity_entry(entry: AuditEntry, app_names: Mapping[str, str]) -> str | None:
    """Say an identity action in words, or None for an action identity does not own."""
    after = entry.after or {}
    apps = _apps(after.get("apps") or after.get("app"), app_names)
    texts = {
        "identity.create": lambda: _("first seen in %(app)s") % {"app": apps},
        "identity.link": lambda: _("openid in %(app)s linked") % {"app": apps},
        "unionid.link": lambda: _("unionid linked"),
        "identity.follow": lambda: _("follow state of %(app)s updated") % {"app": apps},
        "phone.bind": lambda: _("phone %(phone)s bound") % {"phone": after.get("phone") or EMPTY},
        "phone.move": lambda: (
            _("phone %(phone)s moved here from another person")
            % {"phone": after.get("phone") or EMPTY}
        ),
        "person.merge": lambda: _("another person merged into this one"),
        "merge.undo": lambda: _("a merge into another person undone"),
        "person.erase": lambda: _("personal data erased"),
        "person.erase_apps": lambda: _("data of %(app)s erased") % {"app": apps},
    }
    return texts[entry.action]() if entry.action in texts else None


def describe(entry: AuditEntry, describers: Mapping[str, Describer], app_names) -> str:
    text = describe_identity_entry(entry, app_names)
    if text is not None:
        return text
    for prefix, describer in describers.items():
        if entry.action.startswith(prefix):
            return describer(entry)
    return entry.action


def person_links(person: Person) -> SafeString:
    """Links to everything the audit log and the merge records hold about the person."""
    query = f"?person={person.pk}"
    return format_html(
        '<p class="person-links"><a class="person-audit-link" href="{}">{}</a>'
        ' · <a class="person-merges-link" href="{}">{}</a></p>',
        reverse("admin:identity_auditentry_changelist") + query,
        _("All audit entries of this person"),
        reverse("admin:identity_mergerecord_changelist") + query,
        _("Merge records of this person"),
    )


def history_section(person: Person, describers: Mapping[str, Describer]) -> SafeString:
    """The latest entries as a table (when, who, what), then the links to all of them."""
    entries = recent_audit_entries(person, limit=RECENT)
    if not entries:
        return format_html("<p>{}</p>{}", _("Nothing recorded yet."), person_links(person))
    app_names = app_names_by_appid()
    head = format_html_join("", "<th>{}</th>", ((label,) for label in COLUMNS))
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                local_time(entry.created_at),
                actor_in_words(entry.actor_type, entry.actor),
                describe(entry, describers, app_names),
            )
            for entry in entries
        ),
    )
    return format_html(
        '<table class="person-history"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}',
        head,
        rows,
        person_links(person),
    )
