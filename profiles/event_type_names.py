"""The names of the built-in event types in the operator's language.

The built-in types are database rows (migrations 0002 and 0005) whose names are stored in
English. As for the preset tags (profiles/presets.py), a row whose stored name is still the
default shows its translation; a name an admin changed is shown as stored.
"""

from django.utils.translation import gettext_lazy as _

# key -> (stored default name, its translation)
BUILTIN_EVENT_TYPES = {
    "register": ("Register", _("Register")),
    "login": ("Log in", _("Log in")),
    "view": ("View", _("View")),
    "pay": ("Pay", _("Pay")),
    "form_submit": ("Submit a form", _("Submit a form")),
    "share": ("Share", _("Share")),
    "subscribe": ("Follow the service account", _("Follow the service account")),
    "unsubscribe": ("Unfollow the service account", _("Unfollow the service account")),
    "coupon_claim": ("Claim a coupon", _("Claim a coupon")),
    "coupon_use": ("Use a coupon", _("Use a coupon")),
    "qr_scan": ("Scan a QR code (already following)", _("Scan a QR code (already following)")),
}


def event_type_name(key: str, name: str) -> str:
    """The name to show for an event type: the translated built-in name while the stored one
    is the default, else the stored name."""
    default, translated = BUILTIN_EVENT_TYPES.get(key, (None, None))
    return str(translated) if name == default else name
