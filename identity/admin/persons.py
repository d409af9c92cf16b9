"""Persons: read-only, searched by exact ids and phone, and by openid and unionid prefixes.

Apps built on identity add their columns, filters, actions, sections and views through
`identity.admin.person_extensions`, so that this stays the only admin of persons.
"""

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from identity.admin.erasure import PersonEraseAction
from identity.admin.manual_merge import PersonMergeAction
from identity.admin.person_extensions import person_admin_extensions, person_extension_view
from identity.admin.person_history import history_section, person_links
from identity.admin.person_inlines import IdentityInline, UnionIdInline
from identity.admin.person_search import search_persons
from identity.models import Person


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", _("Live")), ("merged", _("Merged away")), ("erased", _("Erased"))]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.live()
        if self.value() == "merged":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "erased":
            return queryset.filter(erased_at__isnull=False)
        return queryset


# Few and narrow, so that the extensions' columns fit at 1400 px beside the filters: the state
# (merged, erased) and the apps are filters; identities, unionids and merges are on the page.
LIST_DISPLAY = ("public_id", "phone", "created_at")
FIELDS = (
    "public_id",
    "phone",
    "merged_into",
    "merged_at",
    "erased_at",
    "created_at",
    "updated_at",
)


def _extended(option: str) -> tuple:
    """The items that the registered extensions add to one option, in registration order."""
    return tuple(
        item for extension in person_admin_extensions() for item in getattr(extension, option)
    )


@admin.register(Person)
class PersonAdmin(PersonEraseAction, PersonMergeAction, admin.ModelAdmin):
    """The one person admin: identity's columns, filters and sections, then the extensions'.

    The options that extensions extend are properties rather than get_* hooks, so that Django's
    system checks and every reader of an option see the extended value.
    """

    list_select_related = ("merged_into",)
    search_fields = ("=public_id",)  # shows the search box; get_search_results does the work
    search_help_text = _(
        "Exact public id or phone number, or the start of an openid or unionid "
        "(any case, at least 3 characters)."
    )
    change_form_template = "admin/identity/person/change_form.html"
    ordering = ("-created_at", "-pk")
    show_full_result_count = False

    @property
    def list_display(self):
        return (*LIST_DISPLAY, *_extended("list_display"))

    @property
    def list_filter(self):
        return (StateFilter, *_extended("list_filter"))

    @property
    def actions(self):
        return ("erase_persons", "merge_two_persons", *_extended("actions"))

    @property
    def inlines(self):
        return (UnionIdInline, IdentityInline, *_extended("inlines"))

    @property
    def fieldsets(self):
        history = (_("History"), {"fields": ("recent_history",)})
        return ((None, {"fields": FIELDS}), *_extended("fieldsets"), history)

    @property
    def readonly_fields(self):
        return tuple(flatten_fieldsets(self.fieldsets))

    def __getattr__(self, name):
        """Find the extensions' displays and action permissions, which Django looks up by name.

        Called only for names the admin itself lacks, so an extension cannot shadow its own.
        """
        permission = name.removeprefix("has_").removesuffix("_permission")
        for extension in person_admin_extensions():
            if name in extension.displays:
                return extension.displays[name]
            if name == f"has_{permission}_permission" and permission in extension.permissions:
                return extension.permissions[permission]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        for extension in person_admin_extensions():
            if extension.queryset is not None:
                queryset = extension.queryset(queryset)
        return queryset

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return search_persons(queryset, term), False

    @admin.display(description=_("phone"))
    def phone(self, obj):
        return obj.phone_masked or "-"

    @admin.display(description=_("latest changes"))
    def recent_history(self, obj):
        describers = {}
        for extension in person_admin_extensions():
            describers.update(extension.audit_describers)
        return history_section(obj, describers)

    def get_urls(self):
        view = self.admin_site.admin_view(self.extension_view)
        route = path(
            "<str:object_id>/<slug:extension>/<slug:view>/",
            view,
            name="identity_person_extension_view",
        )
        return [route, *super().get_urls()]

    def extension_view(self, request, object_id, extension, view):
        """Answer one of the extensions' views (PersonAdminExtension.views) for a person."""
        found = person_extension_view(extension, view)
        if found is None:
            raise Http404
        return found(self, request, object_id)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Give the page the extensions' context; the person is read again by Django's view."""
        context = dict(extra_context or {})
        person = self.get_object(request, object_id)
        if person is not None:
            context["person_links"] = person_links(person)
            context["person_extension_templates"] = _extended("change_form_templates")
            for extension in person_admin_extensions():
                if extension.change_context is not None:
                    context.update(extension.change_context(request, person))
        return super().change_view(request, object_id, form_url, context)

    def history_view(self, request, object_id, extra_context=None):
        """The person's history is its audit entries: Django's log of admin edits is empty,
        since persons change through services."""
        person = self.get_object(request, object_id)
        if person is None or not self.has_view_permission(request, person):
            return super().history_view(request, object_id, extra_context)  # its 404 or 403
        url = reverse("admin:identity_auditentry_changelist")
        return HttpResponseRedirect(f"{url}?person={person.pk}")

    # Persons come from resolves and imports and leave through the erasure action, never
    # through the admin's delete (which would drop the anonymous aggregates too).
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
