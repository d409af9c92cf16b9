"""plotly.js, served by the project from the pinned `plotly` package: the admin loads nothing
from the internet (no CDN), and the script is the one the figures were built for.

The URL holds the package's version, so that browsers may keep the 4.8 MB script for a year
(`immutable`) and an upgrade changes the URL. It is compressed once per process for clients
that accept gzip (about a third of the size).
"""

import gzip
from functools import cache

import plotly
from django.http import HttpResponse
from plotly.offline import get_plotlyjs

VERSION = plotly.__version__
MAX_AGE = 365 * 24 * 3600


@cache
def _script() -> bytes:
    return get_plotlyjs().encode()


@cache
def _script_gzip() -> bytes:
    return gzip.compress(_script(), compresslevel=6, mtime=0)


def plotly_js(request) -> HttpResponse:
    """The script itself, cacheable for a year (the admin wraps it: staff only)."""
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    response = HttpResponse(
        _script_gzip() if gzipped else _script(), content_type="text/javascript; charset=utf-8"
    )
    if gzipped:
        response["Content-Encoding"] = "gzip"
    response["Cache-Control"] = f"private, max-age={MAX_AGE}, immutable"
    response["Vary"] = "Accept-Encoding"
    return response
