"""Routes of the reports API: one GET per report, one save-as-tag POST per report with cells."""

from django.urls import path

from analytics.api.views import REPORT_VIEWS, SAVE_AS_TAG_VIEWS

urlpatterns = [
    *[
        path(f"analytics/{report}", view.as_view(), name=f"analytics-{report}")
        for report, view in REPORT_VIEWS.items()
    ],
    *[
        path(
            f"analytics/{report}/save-as-tag",
            view.as_view(),
            name=f"analytics-{report}-save-as-tag",
        )
        for report, view in SAVE_AS_TAG_VIEWS.items()
    ],
]
