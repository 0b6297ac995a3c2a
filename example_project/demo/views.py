"""A tiny demo API that the front end on another origin calls.

Every path here is under ``/api/demo/``, which the demo policies cover
(``manage.py demo_setup``): ``demo-api`` for most of it and ``demo-partner``
for ``/api/demo/partner/``.
"""

import json
import os
import time
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

DEMO_COOKIE = "demo_session"


def hello(request: HttpRequest) -> JsonResponse:
    """A simple GET; sets ``X-Request-Id``, which the browser lets the page read only if exposed."""
    response = JsonResponse({"message": "Hello from the demo API", "method": request.method})
    response["X-Request-Id"] = "demo-42"
    return response


@csrf_exempt
def echo(request: HttpRequest) -> JsonResponse:
    """Echo a JSON body: a ``Content-Type: application/json`` POST needs a preflight."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "send JSON"}, status=400)
    return JsonResponse({"received": body, "method": request.method})


def whoami(request: HttpRequest) -> JsonResponse:
    """What the browser sent: the demo cookie arrives only with credentialed requests."""
    return JsonResponse(
        {
            "cookie": request.COOKIES.get(DEMO_COOKIE),
            "authenticated": request.user.is_authenticated,
        }
    )


def login_cookie(request: HttpRequest) -> HttpResponse:
    """Set the demo cookie (SameSite=Lax: sent to the same *site*, any port)."""
    response = JsonResponse({"ok": True, "cookie": DEMO_COOKIE})
    response.set_cookie(DEMO_COOKIE, "demo-user", samesite="Lax", httponly=True)
    return response


def partner(request: HttpRequest) -> JsonResponse:
    """Covered by its own policy, ``demo-partner``, which does not list the demo front end."""
    return JsonResponse({"message": "Partner data", "method": request.method})


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for i in range(3):
            yield f"chunk {i}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("demo view error")


def pid(request: HttpRequest) -> JsonResponse:
    """Which worker process answered (multi-process tests); touches no database.

    ``?sleep=0.2`` keeps the worker busy that long (at most 1 s), so that
    concurrent requests spread over the workers of a server.
    """
    try:
        delay = min(max(float(request.GET.get("sleep") or 0), 0.0), 1.0)
    except ValueError:
        delay = 0.0
    time.sleep(delay)
    return JsonResponse({"pid": os.getpid()})
