"""The API's JSON renderer: DRF's, safe for any text a client sent."""

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """Escape text that UTF-8 cannot encode instead of failing with 500.

    JSON lets a client send an unpaired surrogate (`"\\udfff"`); an error message that quotes
    the input (`"x\\udfff" is not a valid choice.`) then cannot be encoded as UTF-8. Such a body
    is written with every non-ASCII character escaped, which is the same JSON.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True
            return super().render(data, accepted_media_type, renderer_context)
