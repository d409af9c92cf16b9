"""Tags and segments over REST (DESIGN.md): definitions, person tags, segment members."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from config.api import scopes
from config.api.views import ERRORS, ApiView, valid, valid_query
from config.db_routing import replica_reads
from identity.api.representation import PersonApiView
from identity.api.serializers import PersonOut
from identity.exceptions import Conflict
from profiles import selectors
from profiles.api import serializers as s
from profiles.conditions import ConditionInvalid
from profiles.models import Segment, TagSource
from profiles.services.segments import count_segments
from profiles.services.tags import assign_tags, remove_tag


class TagListView(ApiView):
    required_scopes = {"GET": scopes.IDENTITY_READ}

    @extend_schema(operation_id="tags_list", responses={200: s.TagListOut, **ERRORS})
    def get(self, request):
        tags = selectors.tag_definitions()
        return Response({"results": [s.tag_definition(tag) for tag in tags]})


class PersonTagsView(PersonApiView):
    required_scopes = {"POST": scopes.TAGS_WRITE}

    @extend_schema(
        operation_id="persons_tags_add",
        request=s.TagAssignIn,
        responses={200: PersonOut, **ERRORS},
        summary="Give a person manual tags (exclusive groups replace, optional expiry)",
    )
    def post(self, request, person_id: str):
        data = valid(s.TagAssignIn, request.data)
        person = self.visible_person(person_id)
        assign_tags(
            person=person,
            keys=data["tags"],
            expires_at=data.get("expires_at"),
            source=TagSource.API,
            actor=self.actor(),
        )
        return Response(self.represent(self.read_person(person.public_id)))


class PersonTagView(PersonApiView):
    required_scopes = {"DELETE": scopes.TAGS_WRITE}

    @extend_schema(
        operation_id="persons_tags_remove",
        responses={200: PersonOut, **ERRORS},
        summary="Take a manual tag from a person",
    )
    def delete(self, request, person_id: str, key: str):
        person = self.visible_person(person_id)
        remove_tag(person=person, key=key, actor=self.actor())
        return Response(self.represent(self.read_person(person.public_id)))


class SegmentListView(ApiView):
    required_scopes = {"GET": scopes.SEGMENTS_READ}

    @extend_schema(operation_id="segments_list", responses={200: s.SegmentListOut, **ERRORS})
    def get(self, request):
        segments = selectors.segment_definitions()
        counts = count_segments(segments, allowed_app_ids=self.key.allowed_app_ids)
        return Response({"results": [_segment(seg, counts[seg.pk]) for seg in segments]})


class SegmentDetailView(ApiView):
    required_scopes = {"GET": scopes.SEGMENTS_READ}

    @extend_schema(operation_id="segments_retrieve", responses={200: s.SegmentOut, **ERRORS})
    def get(self, request, key: str):
        segment = selectors.get_segment(key)
        counts = count_segments([segment], allowed_app_ids=self.key.allowed_app_ids)
        return Response(_segment(segment, counts[segment.pk]))


class SegmentMembersView(PersonApiView):
    required_scopes = {"GET": scopes.SEGMENTS_READ}

    @extend_schema(
        operation_id="segments_members",
        parameters=[s.MembersQuery],
        responses={
            200: inline_serializer(
                "SegmentMembersOut",
                {
                    "results": PersonOut(many=True),
                    "next_cursor": serializers.CharField(allow_null=True),
                },
            ),
            **ERRORS,
        },
        summary="Members of a segment, cursor paginated; with appid, each member's openid there",
    )
    def get(self, request, key: str):
        query = valid_query(s.MembersQuery, request)
        with replica_reads(caller=request.auth.pk):
            segment = selectors.get_segment(key)
            app = self.app(query["appid"]) if "appid" in query else None
            try:
                members, next_cursor = selectors.segment_members(
                    segment,
                    limit=query["limit"],
                    cursor=query.get("cursor"),
                    app=app,
                    allowed_app_ids=self.key.allowed_app_ids,
                )
            except ConditionInvalid as exc:  # stored before today's bounds
                errors = [f"{path}: {' '.join(m)}" for path, m in exc.errors.items()]
                raise Conflict(
                    "The segment's condition can no longer be evaluated; fix it in the admin.",
                    details={"condition": errors},
                ) from exc
        results = []
        for member in members:
            body = self.represent(member)
            if body is None:
                continue
            if app is not None:
                body["openid"] = member.app_openid
            results.append(body)
        return Response({"results": results, "next_cursor": next_cursor})


def _segment(segment: Segment, count: int | None) -> dict:
    return {
        "key": segment.key,
        "name": segment.name,
        "description": segment.description,
        "condition": segment.condition,
        "count": count,
    }
