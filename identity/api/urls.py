"""Routes of the identity API: resolve, lookups, a person, phone binding."""

from django.urls import path

from identity.api import views

urlpatterns = [
    path("identities/resolve", views.ResolveView.as_view(), name="identities-resolve"),
    path("persons/lookup", views.PersonLookupView.as_view(), name="persons-lookup"),
    path("persons/<slug:person_id>", views.PersonDetailView.as_view(), name="person-detail"),
    path("persons/<slug:person_id>/phone", views.PersonPhoneView.as_view(), name="person-phone"),
]
