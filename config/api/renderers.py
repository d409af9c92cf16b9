"""The API's JSON renderer: orjson for speed, DRF's encoder for what orjson cannot write."""

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_ENCODER = JSONEncoder()
# Datetimes go through DRF's encoder (`Z` for UTC, milliseconds), as answers always showed them;
# dict keys that are not strings (ints) are written as JSON writes them.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class JSONRenderer(renderers.JSONRenderer):
    """Write answers with orjson: the same JSON as DRF's renderer, in a fraction of the time.

    Anything orjson refuses falls back to DRF's renderer: an indented answer (`Accept:
    application/json; indent=2`), integers beyond 64 bits, text with an unpaired surrogate.
    JSON lets a client send an unpaired surrogate (`"\\udfff"`); an error message that quotes
    the input then cannot be encoded as UTF-8, so such a body is written with every non-ASCII
    character escaped, which is the same JSON.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if not self.get_indent(accepted_media_type, renderer_context or {}):
            try:
                body = orjson.dumps(data, default=_ENCODER.default, option=_OPTIONS)
            except (orjson.JSONEncodeError, TypeError):
                pass
            else:
                # As DRF's renderer: the two line separators JavaScript reads as line ends.
                if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
                    body = body.replace(b"\xe2\x80\xa8", b"\\u2028")
                    body = body.replace(b"\xe2\x80\xa9", b"\\u2029")
                return body
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True
            return super().render(data, accepted_media_type, renderer_context)
