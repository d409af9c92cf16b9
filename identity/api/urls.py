from django.urls import path

from identity.api import views, wechat_views

urlpatterns = [
    path("identities/resolve", views.ResolveView.as_view(), name="identities-resolve"),
    path("persons/lookup", views.PersonLookupView.as_view(), name="persons-lookup"),
    path("persons/<slug:person_id>", views.PersonDetailView.as_view(), name="person-detail"),
    path("persons/<slug:person_id>/phone", views.PersonPhoneView.as_view(), name="person-phone"),
    path(
        "wechat/miniprogram/login",
        wechat_views.MiniProgramLoginView.as_view(),
        name="wechat-miniprogram-login",
    ),
    path("wechat/oauth/login", wechat_views.OAuthLoginView.as_view(), name="wechat-oauth-login"),
    path(
        "wechat/miniprogram/phone",
        wechat_views.MiniProgramPhoneView.as_view(),
        name="wechat-miniprogram-phone",
    ),
]
