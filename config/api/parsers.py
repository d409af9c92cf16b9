"""The API's JSON parser: DRF's, with a bound on nesting."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper than any request of the contract (events -> item -> properties -> values), far below
# what Python's recursion limit lets json, DRF and the services walk.
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    """Refuse deeply nested JSON with 400 malformed_request.

    Without the bound, `[[[[...]]]]` a few thousand levels deep (well within the request size
    limit) raises RecursionError in the decoder or in code that walks the data: a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        if _deeper_than(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        return data


def _deeper_than(data, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
