"""The person page's identities and unionids, named as staff know them and in local time."""

from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import _boolean_icon
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from identity.admin.common import ReadOnlyInline, local_time
from identity.models import Identity, UnionId

# Django's tabular inline without the rows' labels (their __str__ shows internal ids).
PERSON_INLINE_TEMPLATE = "admin/identity/person/tabular.html"


class PersonInline(ReadOnlyInline, admin.TabularInline):
    """A read-only table of the person's rows, labelled by its columns alone."""

    template = PERSON_INLINE_TEMPLATE


class IdentityInline(PersonInline):
    model = Identity
    fields = ("app_name", "openid", "follows", "followed_at", "unfollowed_at", "first_seen")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("app").order_by("app__appid")

    @admin.display(description=_("app"))
    def app_name(self, obj):
        return format_html('<span title="{}">{}</span>', obj.app.appid, obj.app.name)

    @admin.display(description=_("followed"))
    def follows(self, obj):
        """Only a service account has followers: elsewhere the question does not arise."""
        if not obj.app.is_service_account:
            return format_html('<span class="quiet">{}</span>', _("not applicable"))
        if obj.followed is None:
            return format_html('<span class="quiet">{}</span>', _("unknown"))
        return _boolean_icon(obj.followed)

    @admin.display(description=_("first seen"))
    def first_seen(self, obj):
        return local_time(obj.created_at)


class UnionIdInline(PersonInline):
    model = UnionId
    fields = ("platform", "unionid", "first_seen")
    readonly_fields = fields

    @admin.display(description=_("first seen"))
    def first_seen(self, obj):
        return local_time(obj.created_at)
