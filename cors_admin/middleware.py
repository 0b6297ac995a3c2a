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

# Every CORS header the middleware owns, by the lowercase key Django's ResponseHeaders uses.
_LOWER: dict[str, str] = {name: name.lower() for name in CORS_RESPONSE_HEADERS}
_CORS_KEYS = frozenset(_LOWER.values())


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


def _merge_vary(store: dict[str, tuple[str, str]], names: tuple[str, ...]) -> None:
    existing = store.get("vary")
    if existing is None or not existing[1].strip():
        store["vary"] = ("Vary", ", ".join(names))
        return
    value = existing[1]
    present = {v.strip().lower() for v in value.split(",")}
    if "*" in present:
        return
    missing = [n for n in names if n.lower() not in present]
    if missing:
        store["vary"] = (existing[0], value + ", " + ", ".join(missing))


def apply(decision: Decision, response: HttpResponseBase) -> None:
    """Put the decision's headers on a view's response, replacing the view's own.

    Writes Django's ``ResponseHeaders`` store directly: every value was checked
    when the snapshot was compiled (HTTP tokens, canonical ASCII origins), so
    the per-header validation of ``response[name] = value`` would only repeat it.
    """
    store: dict[str, tuple[str, str]] = response.headers._store
    if not _CORS_KEYS.isdisjoint(store):
        for key in _CORS_KEYS.intersection(store):
            del store[key]
    for name, value in decision.headers:
        store[_LOWER[name]] = (name, value)
    if decision.vary:
        _merge_vary(store, decision.vary)


def preflight_response(decision: Decision) -> HttpResponse:
    """The middleware's own answer to a preflight: empty body, no view called."""
    status = settings.PREFLIGHT_STATUS if decision.allowed else 403
    response = HttpResponse(status=status)
    store: dict[str, tuple[str, str]] = response.headers._store
    store.pop("content-type", None)
    store["content-length"] = ("Content-Length", "0")
    for name, value in decision.headers:
        store[_LOWER[name]] = (name, value)
    if decision.vary:
        store["vary"] = ("Vary", ", ".join(decision.vary))
    return response


def _decide_safely(request: HttpRequest, snapshot: PolicySet | None) -> Decision | None:
    try:
        return decide(request, snapshot)
    except Exception:  # never raise into a request; a failure adds nothing (denies)
        logger.exception("cors_admin: could not evaluate the CORS policy for %r", request.path)
        return None


def _answer_preflight(decision: Decision) -> HttpResponse:
    try:
        return preflight_response(decision)
    except Exception:
        logger.exception("cors_admin: could not answer the preflight for %r", decision.path)
        return HttpResponse(status=403)


def _apply_safely(decision: Decision, response: HttpResponseBase) -> None:
    try:
        apply(decision, response)
    except Exception:
        logger.exception("cors_admin: could not add CORS headers to %r", decision.path)


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
        try:
            snapshot = cache.current()
        except Exception:
            logger.exception("cors_admin: no CORS policy snapshot")
            snapshot = cache.peek()
        decision = _decide_safely(request, snapshot)
        if decision is None:
            return self.get_response(request)
        if decision.preflight:
            return _answer_preflight(decision)
        response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
        _apply_safely(decision, response)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            if cache.needs_refresh():
                snapshot = await sync_to_async(cache.refresh)()
            else:
                snapshot = cache.peek()
        except Exception:
            logger.exception("cors_admin: no CORS policy snapshot")
            snapshot = cache.peek()
        decision = _decide_safely(request, snapshot)
        if decision is None:
            return await self.get_response(request)  # type: ignore[misc]
        if decision.preflight:
            return _answer_preflight(decision)
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        _apply_safely(decision, response)
        return response
