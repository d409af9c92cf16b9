from django.urls import path

from profiles.api import views

urlpatterns = [
    path("events", views.EventIngestView.as_view(), name="events-ingest"),
    path("persons/<str:person_id>/events", views.PersonEventsView.as_view(), name="person-events"),
]
