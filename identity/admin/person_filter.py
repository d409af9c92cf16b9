"""The `?person=<pk>` filter of the merge and audit lists, which the person page links to."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from identity.models import Person


class PersonFilter(admin.SimpleListFilter):
    """Rows of one person, by pk; shown in the sidebar only while it filters.

    Subclasses say which rows belong to the person (`condition`). A value that is not a
    person's pk is a bad lookup (the admin redirects with `?e=1`), never a server error.
    """

    title = _("person")
    parameter_name = "person"

    def condition(self, pk: int) -> Q:
        raise NotImplementedError

    def _pk(self) -> int | None:
        value = self.value()
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise IncorrectLookupParameters(self.parameter_name) from exc

    def lookups(self, request, model_admin):
        pk = self._pk()
        if pk is None:
            return []
        public_id = Person.objects.filter(pk=pk).values_list("public_id", flat=True).first()
        return [(str(pk), public_id or _("unknown person"))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        pk = self._pk()
        return queryset if pk is None else queryset.filter(self.condition(pk))


class MergePersonFilter(PersonFilter):
    def condition(self, pk: int) -> Q:
        return Q(survivor_id=pk) | Q(loser_id=pk)


class AuditPersonFilter(PersonFilter):
    def condition(self, pk: int) -> Q:
        return Q(person_id=pk)
