"""A tiny demo API that the front end on another origin calls."""

import json
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt


def hello(request: HttpRequest) -> JsonResponse:
    response = JsonResponse({"message": "Hello from the demo API", "method": request.method})
    response["X-Request-Id"] = "demo-42"
    return response


@csrf_exempt
def echo(request: HttpRequest) -> JsonResponse:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "send JSON"}, status=400)
    return JsonResponse({"received": body, "method": request.method})


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "cookie": request.COOKIES.get("demo_session"),
            "authenticated": request.user.is_authenticated,
        }
    )


def login_cookie(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"ok": True})
    response.set_cookie("demo_session", "demo-user", samesite="Lax")
    return response


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for i in range(3):
            yield f"chunk {i}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("demo view error")
