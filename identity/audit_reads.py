"""Reads of the audit log for the admin's pages, each one query."""

from identity.models import App, AuditEntry, Person


def recent_audit_entries(person: Person, *, limit: int = 10) -> list[AuditEntry]:
    """The person's latest audit entries, newest first: one scan of the (person, time) index."""
    return list(AuditEntry.objects.filter(person=person).order_by("-created_at", "-pk")[:limit])


def app_names_by_appid() -> dict[str, str]:
    """Every app's name by appid, for pages that name the apps an audit entry lists."""
    return dict(App.objects.values_list("appid", "name"))
