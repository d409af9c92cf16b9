"""Domain errors with a machine-readable code, mapped to HTTP by the API error handler.

Services raise these; views never build error responses themselves.
"""


class DomainError(Exception):
    """Base class: `code` is the API error code, `status` the HTTP status."""

    status = 400
    code = "invalid"
    default_message = "The request is invalid."

    def __init__(self, message: str | None = None, *, details: dict | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)


class InvalidInput(DomainError):
    """Input that can never be accepted; `details` maps each bad field to its messages."""

    def __init__(self, fields: dict[str, list[str]], message: str | None = None):
        super().__init__(message or "Some fields are invalid.", details=fields)


class UnknownApp(DomainError):
    code = "unknown_app"
    default_message = "No app is registered with this appid."

    def __init__(self, appid: str, *, field: str = "appid"):
        super().__init__(details={field: [f"Unknown appid {appid!r}."]})


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class PersonNotFound(NotFound):
    code = "person_not_found"
    default_message = "No such person."


class AppForbidden(DomainError):
    status = 403
    code = "app_forbidden"
    default_message = "This API key may not act on this app."


class ScopeMissing(DomainError):
    """The key holds the endpoint's scope but not the one this particular use of it needs."""

    status = 403
    code = "scope_missing"

    def __init__(self, scope: str, *, field: str):
        super().__init__(
            f"This API key lacks the {scope!r} scope.",
            details={field: [f"Needs the {scope!r} scope."]},
        )


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = "The change conflicts with the identity graph."


class PhoneConflict(Conflict):
    code = "phone_conflict"
    default_message = "The phone number belongs to another person who cannot be merged."


class MergeConflict(Conflict):
    code = "merge_conflict"
    default_message = "The persons cannot be merged without breaking an identity invariant."


class UnionidConflict(Conflict):
    code = "unionid_conflict"
    default_message = "The openid is already linked to a different unionid."


class OpenidConflict(Conflict):
    code = "openid_conflict"
    default_message = "The person already has a different openid in this app."


class UnverifiedLink(Conflict):
    """A key confined to some apps asked to join a person it cannot see.

    Only a link the platform itself vouches for (a unionid from the service's own code exchange,
    a phone number from WeChat's phone code) may reach a person outside the key's apps; a value
    the caller merely sends could be anyone's.
    """

    code = "unverified_link"
    default_message = (
        "This identifier belongs to a person outside this API key's apps; only a login or phone "
        "code exchanged through this service can link it."
    )


class UndoConflict(Conflict):
    code = "undo_conflict"
    default_message = "The merge cannot be undone in the current state of the graph."


class PersonErased(Conflict):
    code = "person_erased"
    default_message = "The person was erased."
