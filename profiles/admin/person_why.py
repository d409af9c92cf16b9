"""The "Why" section of a person's page: each rule tag and segment, leaf by leaf, held or not.

Its own PersonAdminExtension (registered in profiles/admin/__init__.py), so that the person
pages' other sections stay in persons.py. The reading is profiles.conditions.explain's: three
queries whatever the number of rule tags and segments, under the conditions' statement timeout
(capped at WHY_TIMEOUT_MS: a person page is not a refresh); a reading stopped by it says so.

Staff see the rule tags only with the view or change permission on tags, and the segments only
with that on segments. The person admin calls displays with the person alone, so `change_context`
(which has the request) remembers the viewer for the display of the same request's page.
"""

import weakref
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from psycopg import errors as pg_errors

from identity.admin.person_extensions import PersonAdminExtension
from identity.models import Person
from profiles.conditions import bounded_statements
from profiles.conditions.explain import explain_person

TEMPLATE = "admin/profiles/person_why.html"
WHY_TIMEOUT_MS = 5000
TAG_PERMISSIONS = ("profiles.view_tag", "profiles.change_tag")
SEGMENT_PERMISSIONS = ("profiles.view_segment", "profiles.change_segment")


@dataclass(frozen=True)
class _Viewer:
    request: weakref.ReferenceType
    person_pk: int


_viewer: ContextVar[_Viewer | None] = ContextVar("person_why_viewer", default=None)


def why_section(request: HttpRequest, person: Person) -> str:
    """The section for this viewer: what they may view, or why there is nothing to show."""
    user = request.user
    tags = any(user.has_perm(permission) for permission in TAG_PERMISSIONS)
    segments = any(user.has_perm(permission) for permission in SEGMENT_PERMISSIONS)
    context = {"allowed": tags or segments, "tombstone": False, "timed_out": False, "rows": []}
    if not context["allowed"]:
        return render_to_string(TEMPLATE, context)
    if person.merged_into_id is not None or person.erased_at is not None:
        return render_to_string(TEMPLATE, {**context, "tombstone": True})
    timeout = min(settings.CONDITION_STATEMENT_TIMEOUT_MS, WHY_TIMEOUT_MS)
    try:
        with bounded_statements(timeout):
            explained = explain_person(person, tags=tags, segments=segments)
    except DatabaseError as exc:  # rolled back with the savepoint; the page goes on
        if not isinstance(exc.__cause__, pg_errors.QueryCanceled):
            raise
        return render_to_string(TEMPLATE, {**context, "timed_out": True, "timeout_ms": timeout})
    context["rows"] = [
        (item, reverse(f"admin:profiles_{item.kind}_change", args=[item.pk])) for item in explained
    ]
    return render_to_string(TEMPLATE, context)


def remember_viewer(request: HttpRequest, person: Person) -> dict:
    """Keep who is viewing which person for the display below (change_context)."""
    _viewer.set(_Viewer(request=weakref.ref(request), person_pk=person.pk))
    return {}


@admin.display(description=_("rule tags and segments"))
def why(obj: Person):
    if obj is None or obj.pk is None:
        return None
    viewer = _viewer.get()
    request = viewer.request() if viewer is not None else None
    if request is None or viewer.person_pk != obj.pk:
        return None  # not this page's request: show nothing rather than guess permissions
    return why_section(request, obj)


PERSON_WHY_EXTENSION = PersonAdminExtension(
    name="profiles.why",
    fieldsets=((_("Why"), {"fields": ("why",), "classes": ("person-why-section",)}),),
    displays={"why": why},
    change_context=remember_viewer,
)
