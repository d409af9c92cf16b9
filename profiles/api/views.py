"""Event endpoints: thin views over the ingest service and the timeline selector."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from config.api import scopes
from config.api.views import ERRORS, ApiView, valid, valid_query
from identity.api.representation import PersonApiView
from profiles import selectors
from profiles.api import serializers as s
from profiles.services.ingest import ingest_events


class EventIngestView(ApiView):
    required_scopes = {"POST": scopes.EVENTS_WRITE}

    @extend_schema(
        operation_id="events_ingest",
        request=s.EventBatchDoc,
        responses={200: s.EventBatchOut, **ERRORS},
        summary="Report up to 1000 events; idempotent per app on event_id, per-item errors",
        description="Each item follows `EventIn`. Invalid items are listed in `errors` by index "
        "and skipped; the valid ones are stored together.",
    )
    def post(self, request):
        data = valid(s.EventBatchIn, request.data)
        result = ingest_events(
            events=data["events"], actor=self.actor(), allowed_app_ids=self.key.allowed_app_ids
        )
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates, "errors": result.errors}
        )


class PersonEventsView(PersonApiView):
    required_scopes = {"GET": scopes.IDENTITY_READ}

    @extend_schema(
        operation_id="persons_events",
        parameters=[s.EventsQuery],
        responses={200: s.EventPageOut, **ERRORS},
        summary="A person's events, newest first, cursor paginated",
    )
    def get(self, request, person_id: str):
        query = valid_query(s.EventsQuery, request)
        person = self.visible_person(person_id)
        events, next_cursor = selectors.person_events(
            person,
            limit=query["limit"],
            cursor=query.get("cursor"),
            event_type=query.get("type"),
            allowed_app_ids=self.key.allowed_app_ids,
        )
        return Response(
            {"results": [s.event_out(event) for event in events], "next_cursor": next_cursor}
        )
