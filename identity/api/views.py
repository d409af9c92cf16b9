"""Identity endpoints: thin views that validate, call one service or selector, and shape."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from config.api import scopes
from config.api.views import ERRORS, valid, valid_query
from config.db_routing import replica_reads
from identity import selectors
from identity.api import serializers as s
from identity.api.representation import PersonApiView
from identity.exceptions import PersonNotFound
from identity.seen import record_sighting
from identity.services.erase import erase_person, erase_person_apps
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity


class ResolveView(PersonApiView):
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
        if person is not None:
            # Still a sighting (first/last seen): no write within the hour, no wait for the WAL
            # flush. The answer was read before it: its last seen may be that hour behind.
            record_sighting(person_ids=[person.pk], at=timezone.now())
        else:
            result = resolve_identity(
                app=app,
                openid=openid,
                unionid=unionid,
                actor=self.actor(),
                confined_to=self.key.allowed_app_ids,
            )
            person, created = self.read_person(result.person.public_id), result.created
        return Response({"person": self.represent(person), "created": created})


class PersonDetailView(PersonApiView):
    required_scopes = {"GET": scopes.IDENTITY_READ, "DELETE": scopes.PERSONS_ERASE}

    @extend_schema(
        operation_id="persons_retrieve",
        responses={200: s.PersonOut, **ERRORS},
        summary="Read a person; a merged-away id answers with the survivor",
    )
    def get(self, request, person_id: str):
        with replica_reads(caller=request.auth.pk):
            person = self.visible_person(person_id)
        return Response(self.represent(person))

    @extend_schema(
        operation_id="persons_erase",
        responses={204: None, **ERRORS},
        summary="Erase a person's personal data, or a restricted key's apps' part (idempotent)",
    )
    def delete(self, request, person_id: str):
        person = selectors.find_stored_person(person_id)
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


class PersonPhoneView(PersonApiView):
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
        self.require_phone_read(field="phone")
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


class PersonLookupView(PersonApiView):
    required_scopes = {"GET": scopes.IDENTITY_READ, "POST": scopes.IDENTITY_READ}

    @extend_schema(
        operation_id="persons_lookup",
        parameters=[s.LookupQuery],
        responses={200: s.PersonOut, **ERRORS},
        summary="Find one person by openid (with appid), unionid or phone (phone:read)",
    )
    def get(self, request):
        query = s.plain_openid_lookup(request.query_params) or valid_query(s.LookupQuery, request)
        restriction = self.key.allowed_app_ids
        with replica_reads(caller=request.auth.pk):
            if "openid" in query:
                app = self.app(query["appid"])
                person = selectors.find_by_openid(app, query["openid"], allowed_app_ids=restriction)
            elif "unionid" in query:
                person = selectors.find_by_unionid(
                    query["unionid"], query["platform"], allowed_app_ids=restriction
                )
            else:
                self.require_phone_read(field="phone")
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
        with replica_reads(caller=request.auth.pk):
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
                self.require_phone_read(field="phones")
                keys = data["phones"]
                found = selectors.find_many_by_phones(keys, allowed_app_ids=restriction)
        results = [
            {"key": raw, "person": self.represent(found.get(key))}
            for raw, key in zip(data["raw_keys"], keys, strict=True)
        ]
        return Response({"results": results})
