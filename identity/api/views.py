"""Identity endpoints: thin views that validate, call one service or selector, and shape."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from identity import scopes, selectors
from identity.api import serializers as s
from identity.api.permissions import check_app_allowed
from identity.api.representation import person_representation, visible_to
from identity.exceptions import PersonNotFound, ScopeMissing
from identity.models import Actor, Person
from identity.services.erase import erase_person, erase_person_apps
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity

ERRORS = {code: OpenApiResponse(s.ErrorOut) for code in (400, 401, 403, 404, 409, 413, 429, 503)}


class IdentityApiView(APIView):
    """Shared helpers: the caller's key, app checks and the person representation."""

    required_scopes: dict[str, str] = {}

    @property
    def key(self):
        return self.request.auth

    def app(self, appid: str, *, field: str = "appid"):
        app = selectors.get_app(appid, field=field)
        check_app_allowed(self.key, app)
        return app

    def read_person(self, public_id: str) -> Person:
        """Read a person as this key sees it: sections (stats) only from the key's apps."""
        return selectors.get_person(public_id, allowed_app_ids=self.key.allowed_app_ids)

    def visible_person(self, public_id: str) -> Person:
        person = self.read_person(public_id)
        if not visible_to(person, self.key.allowed_app_ids):
            raise PersonNotFound()
        return person

    def represent(self, person: Person | None) -> dict | None:
        if person is None or not visible_to(person, self.key.allowed_app_ids):
            return None
        return person_representation(
            person,
            show_phone=self.key.has_scope(scopes.PHONE_READ),
            allowed_app_ids=self.key.allowed_app_ids,
        )

    def actor(self) -> Actor:
        return Actor.api_key(self.key)

    def require_phone_read(self, field: str) -> None:
        """Answers about a number the caller sends (a lookup, a bind) confirm it: a key without
        `phone:read` could otherwise turn the masked form it sees (7 of 11 digits) into the
        number in 10,000 guesses."""
        if not self.key.has_scope(scopes.PHONE_READ):
            raise ScopeMissing(scopes.PHONE_READ, field=field)


class ResolveView(IdentityApiView):
    required_scopes = {"POST": scopes.IDENTITY_WRITE}

    @extend_schema(
        operation_id="identities_resolve",
        request=s.ResolveInput,
        responses={200: s.ResolveOut, **ERRORS},
        summary="Resolve an openid (and unionid) to one person, creating or linking it",
    )
    def post(self, request):
        data = valid(s.ResolveInput, request.data)
        app = self.app(data["appid"])
        openid, unionid = data["openid"], data.get("unionid")
        # A returning user changes nothing: answer from one read, without a transaction.
        person = selectors.find_resolved(
            app, openid, unionid, allowed_app_ids=self.key.allowed_app_ids
        )
        created = False
        if person is None:
            result = resolve_identity(
                app=app,
                openid=openid,
                unionid=unionid,
                actor=self.actor(),
                confined_to=self.key.allowed_app_ids,
            )
            person, created = self.read_person(result.person.public_id), result.created
        return Response({"person": self.represent(person), "created": created})


class PersonDetailView(IdentityApiView):
    required_scopes = {"GET": scopes.IDENTITY_READ, "DELETE": scopes.PERSONS_ERASE}

    @extend_schema(
        operation_id="persons_retrieve",
        responses={200: s.PersonOut, **ERRORS},
        summary="Read a person; a merged-away id answers with the survivor",
    )
    def get(self, request, person_id: str):
        return Response(self.represent(self.visible_person(person_id)))

    @extend_schema(
        operation_id="persons_erase",
        responses={204: None, **ERRORS},
        summary="Erase a person's personal data, or a restricted key's apps' part (idempotent)",
    )
    def delete(self, request, person_id: str):
        person = Person.objects.filter(public_id=person_id).first()
        if person is None:
            raise PersonNotFound()
        restriction = self.key.allowed_app_ids
        if restriction is None:
            if person.erased_at is None:
                self.visible_person(person_id)  # follows a merge to the survivor
            erase_person(person=person, actor=self.actor())
            return Response(status=204)
        # A restricted key never erases what other apps hold (DESIGN.md): only its apps' part,
        # the whole person once no other app holds it. After that the person is invisible to
        # the key, but a repeat still answers 204.
        try:
            survivor = self.visible_person(person_id)
        except PersonNotFound:
            if not selectors.erased_through_apps(person, restriction):
                raise
        else:
            erase_person_apps(person=survivor, app_ids=restriction, actor=self.actor())
        return Response(status=204)


class PersonPhoneView(IdentityApiView):
    required_scopes = {"PUT": scopes.IDENTITY_WRITE}

    @extend_schema(
        operation_id="persons_phone_bind",
        request=s.PhoneInput,
        responses={200: s.PersonOut, **ERRORS},
        summary="Bind a phone number (needs phone:read too; held: merge, move or 409)",
    )
    def put(self, request, person_id: str):
        # Whether a bind merges, moves or is refused tells whether someone holds the number:
        # without phone:read, binding guesses would complete a masked number as lookups would.
        self.require_phone_read("phone")
        data = valid(s.PhoneInput, request.data)
        person = self.visible_person(person_id)
        holder = bind_phone(
            person=person,
            phone=data["phone"],
            on_conflict=data["on_conflict"],
            actor=self.actor(),
            confined_to=self.key.allowed_app_ids,
        )
        return Response(self.represent(self.read_person(holder.public_id)))


class PersonLookupView(IdentityApiView):
    required_scopes = {"GET": scopes.IDENTITY_READ, "POST": scopes.IDENTITY_READ}

    @extend_schema(
        operation_id="persons_lookup",
        parameters=[s.LookupQuery],
        responses={200: s.PersonOut, **ERRORS},
        summary="Find one person by openid (with appid), unionid or phone (phone:read)",
    )
    def get(self, request):
        query = valid_query(s.LookupQuery, request)
        restriction = self.key.allowed_app_ids
        if "openid" in query:
            app = self.app(query["appid"])
            person = selectors.find_by_openid(app, query["openid"], allowed_app_ids=restriction)
        elif "unionid" in query:
            person = selectors.find_by_unionid(
                query["unionid"], query["platform"], allowed_app_ids=restriction
            )
        else:
            self.require_phone_read("phone")
            person = selectors.find_by_phone(query["phone"], allowed_app_ids=restriction)
        body = self.represent(person)
        if body is None:
            raise PersonNotFound()
        return Response(body)

    @extend_schema(
        operation_id="persons_lookup_batch",
        request=s.BatchLookupInput,
        responses={200: s.BatchLookupOut, **ERRORS},
        summary="Find up to 1000 persons by openids, unionids or phones (phone:read), in order",
    )
    def post(self, request):
        data = valid(s.BatchLookupInput, request.data)
        restriction = self.key.allowed_app_ids
        if "openids" in data:
            keys = data["openids"]
            app = self.app(data["appid"])
            found = selectors.find_many_by_openids(app, keys, allowed_app_ids=restriction)
        elif "unionids" in data:
            keys = data["unionids"]
            found = selectors.find_many_by_unionids(
                keys, data["platform"], allowed_app_ids=restriction
            )
        else:
            self.require_phone_read("phones")
            keys = data["phones"]
            found = selectors.find_many_by_phones(keys, allowed_app_ids=restriction)
        results = [
            {"key": raw, "person": self.represent(found.get(key))}
            for raw, key in zip(data["raw_keys"], keys, strict=True)
        ]
        return Response({"results": results})


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def valid_query(serializer_class, request) -> dict:
    """Validate the query string as the schema documents it.

    A plain dict, not the QueryDict: DRF reads an empty value of a form as "absent", which
    would let `?limit=` or `?type=` through as if they were not there.
    """
    return valid(serializer_class, request.query_params.dict())
