"""The CORS middleware: read the request, ask the snapshot, apply the decision.

Place it high in ``MIDDLEWARE``, before ``CommonMiddleware`` and anything else
that can answer or redirect a request, so preflights are answered here.
One core serves WSGI (sync) and ASGI (async) stacks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from . import cache
from .conf import settings
from .engine import CORS_RESPONSE_HEADERS, Decision, PolicySet

__all__ = ["CorsAdminMiddleware"]

logger = logging.getLogger("cors_admin")

_CORS_KEYS = tuple(h.lower() for h in CORS_RESPONSE_HEADERS)


def decide(request: HttpRequest, snapshot: PolicySet | None) -> Decision | None:
    """The engine's decision for ``request``, or ``None`` when no policy covers it."""
    if snapshot is None:
        return None
    path = request.path_info
    policy = snapshot.match(path)
    if policy is None:
        return None
    meta = request.META
    return snapshot.decide(
        policy,
        path,
        meta.get("HTTP_ORIGIN"),
        request.method or "",
        meta.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
        meta.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
        meta.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"),
    )


def _merge_vary(response: HttpResponseBase, names: tuple[str, ...]) -> None:
    existing = response.headers.get("Vary")
    if not existing:
        response.headers["Vary"] = ", ".join(names)
        return
    present = {v.strip().lower() for v in existing.split(",")}
    if "*" in present:
        return
    missing = [n for n in names if n.lower() not in present]
    if missing:
        response.headers["Vary"] = existing + ", " + ", ".join(missing)


def apply(decision: Decision, response: HttpResponseBase) -> None:
    """Put the decision's headers on a view's response (replacing the view's own)."""
    headers = response.headers
    store = headers._store  # ResponseHeaders keeps {lowercase name: (name, value)}
    for key in _CORS_KEYS:
        if key in store:
            del store[key]
    for name, value in decision.headers:
        headers[name] = value
    if decision.vary:
        _merge_vary(response, decision.vary)


def preflight_response(decision: Decision) -> HttpResponse:
    """The middleware's own answer to a preflight: empty body, no view called."""
    status = decision.status or 403
    if decision.allowed:
        status = settings.PREFLIGHT_STATUS
    response = HttpResponse(status=status)
    del response.headers["Content-Type"]
    response.headers["Content-Length"] = "0"
    for name, value in decision.headers:
        response.headers[name] = value
    if decision.vary:
        response.headers["Vary"] = ", ".join(decision.vary)
    return response


def _safe_decide(request: HttpRequest, snapshot: PolicySet | None) -> Decision | None:
    try:
        return decide(request, snapshot)
    except Exception:  # never raise into a request; deny by adding nothing
        logger.exception("cors_admin: could not evaluate the CORS policy for %s", request.path)
        return None


def _safe_apply(decision: Decision, response: HttpResponseBase) -> None:
    try:
        apply(decision, response)
    except Exception:
        logger.exception("cors_admin: could not add CORS headers to %s", decision.path)


def _safe_snapshot() -> PolicySet | None:
    try:
        return cache.current()
    except Exception:
        logger.exception("cors_admin: no CORS policy snapshot")
        return cache.peek()


class CorsAdminMiddleware:
    """Apply the CORS policies stored in the database, from the in-memory snapshot."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        decision = _safe_decide(request, _safe_snapshot())
        if decision is None:
            return self.get_response(request)
        if decision.preflight:
            return preflight_response(decision)
        response = self.get_response(request)
        _safe_apply(decision, response)  # type: ignore[arg-type]
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if cache.needs_refresh():
            try:
                snapshot = await sync_to_async(cache.refresh)()
            except Exception:
                logger.exception("cors_admin: no CORS policy snapshot")
                snapshot = cache.peek()
        else:
            snapshot = cache.peek()
        decision = _safe_decide(request, snapshot)
        if decision is None:
            return await self.get_response(request)  # type: ignore[misc]
        if decision.preflight:
            return preflight_response(decision)
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        _safe_apply(decision, response)
        return response
