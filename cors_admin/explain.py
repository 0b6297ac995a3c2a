"""Explain a request: the same evaluation the middleware makes, in words.

Used by the admin's "test a request" page, the API's ``check/`` endpoint and
the ``cors_explain`` command, so all three agree with the middleware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import cache
from .conf import settings
from .engine import Decision, PolicySet

__all__ = ["SIMPLE_METHODS", "Explanation", "explain"]

#: Methods a browser sends without a preflight (when no other request header is set).
SIMPLE_METHODS = frozenset({"GET", "HEAD", "POST"})


@dataclass
class Explanation:
    allowed: bool
    covered: bool
    preflight: bool
    policy: str | None
    policy_id: int | None
    reason: str
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "covered": self.covered,
            "preflight": self.preflight,
            "policy": self.policy,
            "policy_id": self.policy_id,
            "reason": self.reason,
            "status": self.status,
            "headers": dict(self.headers),
        }


def explain(
    origin: str | None,
    path: str,
    method: str = "GET",
    request_headers: str | list[str] | None = None,
    *,
    request_method: str | None = None,
    private_network: bool = False,
    snapshot: PolicySet | None = None,
    actual: bool = False,
) -> Explanation:
    """Evaluate a request against the current snapshot and describe the outcome.

    ``method`` and ``request_headers`` describe the request a page wants to
    make. When a browser would preflight it -- a method other than GET, HEAD or
    POST, or any request headers named -- the preflight is what decides, so the
    preflight is evaluated (``OPTIONS`` with ``Access-Control-Request-Method:
    <method>``) and its status and headers are reported. ``method="OPTIONS"``
    describes a preflight directly (``request_method`` defaults to GET).
    ``actual=True`` evaluates the request exactly as described instead, never
    its preflight: the actual request a browser sends once a preflight passed.
    """
    if isinstance(request_headers, (list, tuple)):
        request_headers = ", ".join(request_headers)
    if snapshot is None:
        snapshot = cache.current()
    if snapshot is None:
        return Explanation(
            allowed=False,
            covered=False,
            preflight=False,
            policy=None,
            policy_id=None,
            reason="no policy snapshot could be loaded (database unreachable?): "
            "the middleware adds no CORS headers",
            status=None,
        )
    if not actual and method == "OPTIONS" and request_method is None and origin is not None:
        request_method = "GET"
    if (
        not actual
        and method != "OPTIONS"
        and origin is not None
        and (method not in SIMPLE_METHODS or request_headers)
    ):
        request_method, method = method, "OPTIONS"
    decision = snapshot.evaluate(
        path,
        origin,
        method,
        request_method if method == "OPTIONS" else None,
        request_headers if method == "OPTIONS" else None,
        "true" if private_network else None,
    )
    return _describe(decision)


def _describe(decision: Decision) -> Explanation:
    headers: dict[str, str] = {}
    for name, value in decision.headers:
        headers[name] = value
    if decision.vary:
        headers["Vary"] = ", ".join(decision.vary)
    status = decision.status
    if decision.preflight and decision.allowed:
        status = settings.PREFLIGHT_STATUS
    policy = decision.policy
    return Explanation(
        allowed=decision.allowed,
        covered=policy is not None,
        preflight=decision.preflight,
        policy=policy.name if policy else None,
        policy_id=policy.id if policy else None,
        reason=decision.reason,
        status=status,
        headers=headers,
    )
