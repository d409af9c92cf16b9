"""Routes of the profiles API: events, person tags, tags, segments."""

from django.urls import path

from profiles.api import tag_views, views

urlpatterns = [
    path("events", views.EventIngestView.as_view(), name="events-ingest"),
    path("persons/<slug:person_id>/events", views.PersonEventsView.as_view(), name="person-events"),
    path("persons/<slug:person_id>/tags", tag_views.PersonTagsView.as_view(), name="person-tags"),
    path(
        "persons/<slug:person_id>/tags/<slug:key>",
        tag_views.PersonTagView.as_view(),
        name="person-tag",
    ),
    path("tags", tag_views.TagListView.as_view(), name="tags"),
    path("segments", tag_views.SegmentListView.as_view(), name="segments"),
    path("segments/<slug:key>", tag_views.SegmentDetailView.as_view(), name="segment-detail"),
    path(
        "segments/<slug:key>/members",
        tag_views.SegmentMembersView.as_view(),
        name="segment-members",
    ),
]
