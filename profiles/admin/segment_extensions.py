"""What the apps built on profiles add to the segment admin (platforms: the WeChat tag sync).

Profiles registers the one segment admin and must not import the platforms. Each of them
describes its additions as a `SegmentAdminExtension` and registers it from its own admin module
(loaded by the admin's autodiscovery); the segment admin reads this registry on each request
through `SegmentAdminExtensions`, so the order in which the apps load does not matter.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib.admin.options import IS_POPUP_VAR
from django.http import HttpRequest

from profiles.models import Segment


@dataclass(frozen=True)
class SegmentAdminExtension:
    name: str
    # Admin actions as functions (model_admin, request, queryset), decorated by @admin.action.
    actions: tuple[Callable, ...] = ()
    # Sections of a saved segment's page; their fields are keys of `displays`.
    fieldsets: tuple[tuple[Any, dict[str, Any]], ...] = ()
    # Read-only values by name, (segment) -> value, decorated by @admin.display.
    displays: Mapping[str, Callable[[Segment], Any]] = field(default_factory=dict)
    # The `permissions` named by the actions: "wechat_sync" answers has_wechat_sync_permission.
    permissions: Mapping[str, Callable[[HttpRequest], bool]] = field(default_factory=dict)


_extensions: dict[str, SegmentAdminExtension] = {}


def register_segment_admin_extension(extension: SegmentAdminExtension) -> None:
    """Register (or replace, on reload) what one app adds to the segment admin."""
    _extensions[extension.name] = extension


def segment_admin_extensions() -> list[SegmentAdminExtension]:
    return list(_extensions.values())


class SegmentAdminExtensions:
    """Mixin of the segment admin: the extensions' actions, sections and read-only displays."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        extra = [self.get_action(a) for e in segment_admin_extensions() for a in e.actions]
        for func, name, description in self._filter_actions_by_permissions(request, extra):
            actions[name] = (func, name, description)
        return actions

    def __init_subclass__(cls, **kwargs):
        """Extend the admin's `get_fieldsets` and `get_readonly_fields`, its own or Django's.

        A subclass's methods would hide a mixin's, and the segment admin computes both per page
        (new or saved segment); wrapping them keeps its code unaware of the extensions.
        """
        super().__init_subclass__(**kwargs)
        for name, more in (
            ("get_fieldsets", _more_fieldsets),
            ("get_readonly_fields", _more_readonly),
        ):
            method = getattr(cls, name)
            if not getattr(method, "extends_segments", False):  # not wrapped by a base already
                setattr(cls, name, _extend(method, more))

    def __getattr__(self, name):
        """Find the extensions' displays and action permissions, which Django looks up by name."""
        permission = name.removeprefix("has_").removesuffix("_permission")
        for extension in segment_admin_extensions():
            if name in extension.displays:
                return extension.displays[name]
            if name == f"has_{permission}_permission" and permission in extension.permissions:
                return extension.permissions[permission]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _more_fieldsets(fieldsets, obj) -> list:
    """A saved segment's page gets the extensions' sections after the admin's own."""
    fieldsets = list(fieldsets)
    if obj is not None:
        fieldsets += [fs for extension in segment_admin_extensions() for fs in extension.fieldsets]
    return fieldsets


def _more_readonly(names, obj) -> tuple:
    names = tuple(names)
    if obj is None:
        return names
    return names + tuple(n for extension in segment_admin_extensions() for n in extension.displays)


def _extend(method: Callable, more: Callable) -> Callable:
    @wraps(method)
    def extended(self, request, obj=None):
        return more(method(self, request, obj), obj)

    extended.extends_segments = True
    return extended
