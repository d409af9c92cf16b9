"""API keys: created through `create_api_key` (the key is shown once), revoked, never edited."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.api.scopes import ALL_SCOPES
from identity.admin.common import DomainErrorsAsMessages, adopt
from identity.models import Actor, ApiKey, App
from identity.services.api_keys import create_api_key, revoke_api_key


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=[(scope, scope) for scope in ALL_SCOPES],
        widget=forms.CheckboxSelectMultiple,
    )
    apps = forms.ModelMultipleChoiceField(
        label=_("apps"),
        queryset=App.objects.order_by("appid"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Restrict the key to these apps; none means every app."),
    )

    class Meta:
        model = ApiKey
        fields = ["name"]


@admin.register(ApiKey)
class ApiKeyAdmin(DomainErrorsAsMessages, admin.ModelAdmin):
    list_display = (
        "name",
        "prefix",
        "scope_list",
        "app_list",
        "created_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "=prefix")
    actions = ("revoke_keys",)
    view_fields = list_display

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("apps")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("name", "scopes", "apps") if obj is None else self.view_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.view_fields

    @admin.display(description=_("scopes"))
    def scope_list(self, obj):
        return ", ".join(obj.scopes) or "-"

    @admin.display(description=_("apps"))
    def app_list(self, obj):
        return ", ".join(app.appid for app in obj.apps.all()) or _("all apps")

    def save_model(self, request, obj, form, change):
        key, raw_key = create_api_key(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            appids=[app.appid for app in form.cleaned_data["apps"]],
            actor=Actor.admin(request.user),
        )
        adopt(obj, key)
        self.message_user(
            request,
            _("Copy this key now, it will not be shown again: %(key)s") % {"key": raw_key},
            level=messages.SUCCESS,
        )

    def save_related(self, request, form, formsets, change):
        """Write nothing more: create_api_key stored the apps."""

    # A key is created once and then only revoked.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("identity.change_apikey")

    @admin.action(description=_("Revoke selected keys"), permissions=["revoke"])
    def revoke_keys(self, request, queryset):
        actor = Actor.admin(request.user)
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            revoke_api_key(key=key, actor=actor)
        message = ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", len(keys))
        self.message_user(request, message % {"count": len(keys)}, level=messages.SUCCESS)
