"""WeChat's pushes to us (outside the API: WeChat signs them, no API key)."""

from django.urls import path

from platforms.wechat.api import callback_views

urlpatterns = [
    path("wechat/callback/<str:appid>", callback_views.callback, name="wechat-callback"),
]
