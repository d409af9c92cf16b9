"""What the apps built on identity add to the person admin (profiles: stats, events, tags).

Identity registers the one person admin and knows nothing of the apps above it. Each of them
describes its additions as a `PersonAdminExtension` and registers it from its own admin module;
the person admin reads this registry whenever Django reads its options, so that neither the
order in which the apps load nor a second registration of the admin is needed.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from identity.models import AuditEntry, Person


@dataclass(frozen=True)
class PersonAdminExtension:
    """One app's additions, each placed after identity's own (and earlier extensions')."""

    name: str
    # Columns of the person list: person fields or keys of `displays`.
    list_display: tuple[str, ...] = ()
    list_filter: tuple[type[admin.ListFilter], ...] = ()
    # Admin actions as functions (model_admin, request, queryset), decorated by @admin.action.
    actions: tuple[Callable, ...] = ()
    # Sections of the change page, after identity's fields; their fields are keys of `displays`.
    fieldsets: tuple[tuple[Any, dict[str, Any]], ...] = ()
    inlines: tuple[type[InlineModelAdmin], ...] = ()
    # Read-only values by name, (person) -> value, decorated by @admin.display.
    displays: Mapping[str, Callable[[Person], Any]] = field(default_factory=dict)
    # The `permissions` named by the actions above: "tag" answers has_tag_permission(request).
    permissions: Mapping[str, Callable[[HttpRequest], bool]] = field(default_factory=dict)
    # The joins and annotations that the columns and displays read, added to the list's query.
    queryset: Callable[[QuerySet[Person]], QuerySet[Person]] | None = None
    # Views under the person's URL (<person>/<extension name>/<key>/), key ->
    # (person model admin, request, object_id) -> response, behind the admin's login and CSRF
    # check. Looked up at request time: the URLconf is built once, whatever registers later.
    views: Mapping[str, Callable[[admin.ModelAdmin, HttpRequest, str], HttpResponse]] = field(
        default_factory=dict
    )
    # Context of the change page, (request, person) -> dict, for its templates and inlines.
    change_context: Callable[[HttpRequest, Person], Mapping[str, Any]] | None = None
    # Templates included on the change page outside its form (forms posting to `views`).
    change_form_templates: tuple[str, ...] = ()
    # How the person's History says an audit entry in words, by action prefix ("tag.").
    audit_describers: Mapping[str, Callable[[AuditEntry], str]] = field(default_factory=dict)


_extensions: dict[str, PersonAdminExtension] = {}


def register_person_admin_extension(extension: PersonAdminExtension) -> None:
    """Register (or replace, on reload) what one app adds to the person admin."""
    _extensions[extension.name] = extension


def person_admin_extensions() -> list[PersonAdminExtension]:
    return list(_extensions.values())


def person_extension_url(extension: str, view: str, person_pk: int) -> str:
    """The URL of one of an extension's `views` for one person."""
    return reverse("admin:identity_person_extension_view", args=[person_pk, extension, view])


def person_extension_view(name: str, view: str):
    """The registered view, or None: an unknown one is a 404 to the caller."""
    extension = _extensions.get(name)
    return extension.views.get(view) if extension is not None else None
