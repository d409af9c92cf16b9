"""Authorisation of every API request: the scope a method needs, the apps a key may touch."""

from rest_framework.permissions import BasePermission

from identity.exceptions import AppForbidden


class HasScopes(BasePermission):
    """Allow a request only when the key holds the scope the view names for its method.

    Views declare `required_scopes = {"GET": "identity:read", ...}`. A method without an entry
    is refused, so an endpoint that forgets to name its scope is closed, not open. A method the
    view does not implement at all is let through to get its 405 from the view.
    """

    message = "This API key lacks the scope this operation needs."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if key is None:
            return False
        scope = getattr(view, "required_scopes", {}).get(request.method)
        if scope is None and request.method in ("HEAD", "OPTIONS"):
            scope = view.required_scopes.get("GET")
        if scope is None:
            return not hasattr(view, request.method.lower())
        if not key.has_scope(scope):
            self.message = f"This API key lacks the {scope!r} scope."
            return False
        return True


def check_app_allowed(key, app) -> None:
    """Refuse an app outside the key's restriction (403 app_forbidden)."""
    if key.allowed_app_ids is not None and app.pk not in key.allowed_app_ids:
        raise AppForbidden()
