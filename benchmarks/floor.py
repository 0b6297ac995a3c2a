"""The benchmarks' floor: the least any CORS middleware does."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class FloorMiddleware:
    """Echo the Origin into Access-Control-Allow-Origin and set ``Vary: Origin``.

    No path check, no allowlist, no preflight handling; the two headers are set
    directly (``response.headers[...] = ...``, not ``patch_vary_headers``): the
    benchmark views never set Vary themselves.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        origin = request.META.get("HTTP_ORIGIN")
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        return response
