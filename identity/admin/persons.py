"""Persons: read-only, searched by exact identifiers only (no LIKE scans over personal data).

Apps built on identity add their columns, filters, actions and sections through
`identity.admin.person_extensions`, so that this stays the only admin of persons.
"""

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from identity.admin.common import ReadOnlyInline
from identity.admin.erasure import PersonEraseAction
from identity.admin.person_extensions import person_admin_extensions
from identity.exceptions import InvalidInput
from identity.models import App, Identity, Person, Platform, UnionId
from identity.phones import normalize_phone


def _count_of(model) -> Coalesce:
    """Count a person's rows of `model` in a correlated subquery (no join fan-out on the list)."""
    rows = (
        model.objects.filter(person=OuterRef("pk"))
        .order_by()
        .values("person")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def search_persons(queryset: QuerySet[Person], term: str) -> QuerySet[Person]:
    """Match a term exactly against public id, openid, unionid or (as a phone) the blind index.

    The app and platform lists let PostgreSQL use the (app, openid) and (platform, unionid)
    unique indexes for a lookup by value alone.
    """
    app_ids = list(App.objects.values_list("pk", flat=True))
    openid_owners = Identity.objects.filter(app_id__in=app_ids, openid=term).values("person_id")
    unionid_owners = UnionId.objects.filter(platform__in=Platform.values, unionid=term).values(
        "person_id"
    )
    match = Q(public_id=term) | Q(pk__in=openid_owners) | Q(pk__in=unionid_owners)
    try:
        phone = normalize_phone(term)
    except InvalidInput:
        pass
    else:
        match |= Q(phone_index=phone.index)
    return queryset.filter(match)


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


class IdentityInline(ReadOnlyInline, admin.TabularInline):
    model = Identity
    fields = ("app", "openid", "followed", "followed_at", "unfollowed_at", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("app").order_by("app__appid")


class UnionIdInline(ReadOnlyInline, admin.TabularInline):
    model = UnionId
    fields = ("platform", "unionid", "created_at")
    readonly_fields = fields


LIST_DISPLAY = (
    "public_id",
    "phone",
    "unionid_count",
    "identity_count",
    "created_at",
    "merged_into",
    "erased_at",
)
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
class PersonAdmin(PersonEraseAction, admin.ModelAdmin):
    """The one person admin: identity's columns, filters and sections, then the extensions'.

    The options that extensions extend are properties rather than get_* hooks, so that Django's
    system checks and every reader of an option see the extended value.
    """

    list_select_related = ("merged_into",)
    search_fields = ("=public_id",)  # shows the search box; get_search_results does the work
    search_help_text = _("Exact public id, openid, unionid or phone number.")
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
        return ("erase_persons", *_extended("actions"))

    @property
    def inlines(self):
        return (UnionIdInline, IdentityInline, *_extended("inlines"))

    @property
    def fieldsets(self):
        return ((None, {"fields": FIELDS}), *_extended("fieldsets"))

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
        queryset = (
            super()
            .get_queryset(request)
            .annotate(identity_total=_count_of(Identity), unionid_total=_count_of(UnionId))
        )
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

    @admin.display(description=_("unionids"), ordering="unionid_total")
    def unionid_count(self, obj):
        return obj.unionid_total

    @admin.display(description=_("identities"), ordering="identity_total")
    def identity_count(self, obj):
        return obj.identity_total

    # Persons come from resolves and imports and leave through the erasure action, never
    # through the admin's delete (which would drop the anonymous aggregates too).
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
