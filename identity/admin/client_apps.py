"""Apps: metadata through `provision_app`, credentials write-only through `set_app_credentials`."""

import re

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from identity.admin.common import DomainErrorsAsMessages, adopt
from identity.models import Actor, App
from identity.services.app_secrets import set_app_credentials
from identity.services.apps import provision_app
from identity.validators import IDENTIFIER_RE

CREDENTIAL_FIELDS = ("secret", "callback_token", "aes_key")
METADATA_FIELDS = ("name", "kind")
# WeChat's rules for the push settings of an account (PLATFORM.md, "Service account push").
TOKEN_RE = re.compile(r"[A-Za-z0-9]{3,32}")
AES_KEY_RE = re.compile(r"[A-Za-z0-9]{43}")


def _write_only(label):
    return forms.CharField(
        label=label,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Write-only. Leave blank to keep the current value."),
    )


class AppForm(forms.ModelForm):
    secret = _write_only(_("new secret"))
    callback_token = _write_only(_("new callback token"))
    aes_key = _write_only(_("new EncodingAESKey"))

    class Meta:
        model = App
        fields = ["appid", "name", "platform", "kind"]

    def clean_appid(self):
        appid = self.cleaned_data["appid"]
        if not IDENTIFIER_RE.fullmatch(appid):
            raise forms.ValidationError(_("Use 1 to 64 characters of A-Z, a-z, 0-9, _ or -."))
        return appid

    def clean_callback_token(self):
        token = self.cleaned_data["callback_token"]
        if token and not TOKEN_RE.fullmatch(token):
            raise forms.ValidationError(_("Use 3 to 32 letters or digits."))
        return token

    def clean_aes_key(self):
        key = self.cleaned_data["aes_key"]
        if key and not AES_KEY_RE.fullmatch(key):
            raise forms.ValidationError(_("Use exactly 43 letters or digits."))
        return key


def _status(value: str) -> str:
    return _("set") if value else _("not set")


@admin.register(App)
class AppAdmin(DomainErrorsAsMessages, admin.ModelAdmin):
    form = AppForm
    list_display = ("appid", "name", "kind", "platform")
    list_filter = ("kind", "platform")
    search_fields = ("=appid", "name")
    ordering = ("appid",)

    def get_fieldsets(self, request, obj=None):
        main = ("appid", "name", "platform", "kind")
        credentials = CREDENTIAL_FIELDS
        if obj is not None:
            main = (*main, "original_id", "created_at", "updated_at")
            # Each write-only input follows the line that tells whether a value is stored.
            credentials = [part for name in CREDENTIAL_FIELDS for part in (f"{name}_status", name)]
        return [(None, {"fields": main}), (_("Credentials"), {"fields": credentials})]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # provision_app keys apps by appid and refuses a platform change.
        return (
            "appid",
            "platform",
            "original_id",
            "created_at",
            "updated_at",
            "secret_status",
            "callback_token_status",
            "aes_key_status",
        )

    def has_delete_permission(self, request, obj=None):
        # Identities hang on apps; an app is never deleted from the admin.
        return False

    @admin.display(description=_("secret"))
    def secret_status(self, obj):
        return _status(obj.secret_encrypted)

    @admin.display(description=_("callback token"))
    def callback_token_status(self, obj):
        return _status(obj.callback_token_encrypted)

    @admin.display(description=_("EncodingAESKey"))
    def aes_key_status(self, obj):
        return _status(obj.aes_key_encrypted)

    def save_model(self, request, obj, form, change):
        actor = Actor.admin(request.user)
        credentials = {name: form.cleaned_data.get(name) or None for name in CREDENTIAL_FIELDS}
        if change and not set(METADATA_FIELDS) & set(form.changed_data):
            app = App.objects.get(pk=obj.pk)
            app = set_app_credentials(app=app, **credentials, actor=actor)
        else:
            # One service call, so one audit entry, for a save that changes both.
            app, _created = provision_app(
                appid=obj.appid,
                kind=obj.kind,
                name=obj.name,
                platform=obj.platform,
                **credentials,
                actor=actor,
            )
        adopt(obj, app)

    def save_related(self, request, form, formsets, change):
        """Write nothing more: the services above did all of it."""
