"""Routes of the WeChat login and phone endpoints of the API."""

from django.urls import path

from platforms.wechat.api import login_views

urlpatterns = [
    path(
        "wechat/miniprogram/login",
        login_views.MiniProgramLoginView.as_view(),
        name="wechat-miniprogram-login",
    ),
    path("wechat/oauth/login", login_views.OAuthLoginView.as_view(), name="wechat-oauth-login"),
    path(
        "wechat/miniprogram/phone",
        login_views.MiniProgramPhoneView.as_view(),
        name="wechat-miniprogram-phone",
    ),
]
