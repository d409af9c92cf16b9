"""Filters of the person list: tag, app, follow state, phone, and segment membership.

Each narrows the list with one semi-join (`id IN (SELECT person_id ...)`), like the conditions.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from identity.models import App, AppKind, Identity
from profiles.conditions import ConditionInvalid, matching_persons
from profiles.models import Segment, Tag, TagAssignment


def _apps(request) -> list[App]:
    """The apps, read once per request for both the app and the follow filter."""
    if not hasattr(request, "profile_filter_apps"):
        request.profile_filter_apps = list(App.objects.order_by("appid"))
    return request.profile_filter_apps


class TagFilter(admin.SimpleListFilter):
    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(tag.key, str(tag)) for tag in Tag.objects.order_by("key").only("key", "name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        holders = TagAssignment.objects.active().filter(tag__key=self.value())
        return queryset.filter(pk__in=holders.values("person_id"))


class AppFilter(admin.SimpleListFilter):
    title = _("app")
    parameter_name = "app"

    def lookups(self, request, model_admin):
        return [(app.appid, str(app)) for app in _apps(request)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        users = Identity.objects.filter(app__appid=self.value())
        return queryset.filter(pk__in=users.values("person_id"))


class FollowedFilter(admin.SimpleListFilter):
    title = _("follows")
    parameter_name = "followed"

    def lookups(self, request, model_admin):
        accounts = [app for app in _apps(request) if app.kind == AppKind.SERVICE_ACCOUNT]
        return [(app.appid, str(app)) for app in accounts]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        followers = Identity.objects.filter(app__appid=self.value(), followed=True)
        return queryset.filter(pk__in=followers.values("person_id"))


class PhoneFilter(admin.SimpleListFilter):
    title = _("phone number")
    parameter_name = "has_phone"

    def lookups(self, request, model_admin):
        return [("yes", _("Has a phone number")), ("no", _("Has no phone number"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(phone_index__isnull=False)
        if self.value() == "no":
            return queryset.filter(phone_index__isnull=True)
        return queryset


class SegmentFilter(admin.SimpleListFilter):
    """Members of a segment: the target of the "members" link on the segment page."""

    title = _("segment")
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        return list(Segment.objects.order_by("key").values_list("key", "name"))

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        segment = Segment.objects.filter(key=self.value()).first()
        if segment is None:
            return queryset.none()
        try:
            members = matching_persons(segment.condition)
        except ConditionInvalid:  # stored before today's bounds: it has no members to show
            return queryset.none()
        return queryset.filter(pk__in=members.values("pk"))


PERSON_FILTERS = (TagFilter, AppFilter, FollowedFilter, PhoneFilter, SegmentFilter)
