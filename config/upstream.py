"""Failures of services outside ours (platform APIs), as the API reports them.

A platform's client raises a subclass; the API error handler turns it into the error format
without knowing which platform failed, so the shared plumbing never imports a platform.
"""


class UpstreamError(Exception):
    """A call to a platform failed: `status` and `code` are how the API answers it."""

    status = 502
    code = "upstream_error"

    def details(self) -> dict:
        """What the caller may see of the platform's answer (never a secret)."""
        return {}

    def headers(self) -> dict:
        """Retry-After when the platform asks to come back later."""
        return {"Retry-After": "5"} if self.status == 503 else {}
