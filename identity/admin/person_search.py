"""The person list's search: exact ids and phone, openid and unionid prefixes in any case.

Openids and unionids are stored in clear (only phones are encrypted, behind a blind index), so
they can be matched by prefix; a phone can only be matched whole, through its keyed hash.
"""

from django.db.models import Q, QuerySet

from identity.exceptions import InvalidInput
from identity.models import App, Identity, Person, Platform, UnionId
from identity.phones import normalize_phone

# Shorter terms match openids and unionids exactly: a prefix of one or two characters would
# match nearly everyone.
PREFIX_MIN = 3


def search_persons(queryset: QuerySet[Person], term: str) -> QuerySet[Person]:
    """Match a term against the public id and phone exactly, openids and unionids by prefix.

    The prefix match ignores case (`UPPER(openid) LIKE UPPER('term%')`, what __istartswith
    emits) and runs on the expression indexes of migration 0005. Shorter terms match exactly,
    through the (app, openid) and (platform, unionid) unique indexes.
    """
    if len(term) >= PREFIX_MIN:
        openid_owners = Identity.objects.filter(openid__istartswith=term)
        unionid_owners = UnionId.objects.filter(unionid__istartswith=term)
    else:
        app_ids = list(App.objects.values_list("pk", flat=True))
        openid_owners = Identity.objects.filter(app_id__in=app_ids, openid=term)
        unionid_owners = UnionId.objects.filter(platform__in=Platform.values, unionid=term)
    match = (
        Q(public_id__in={term, term.lower()})
        | Q(pk__in=openid_owners.values("person_id"))
        | Q(pk__in=unionid_owners.values("person_id"))
    )
    try:
        phone = normalize_phone(term)
    except InvalidInput:
        pass
    else:
        match |= Q(phone_index=phone.index)
    return queryset.filter(match)
