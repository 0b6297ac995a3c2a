"""Test-only URLs and views for the middleware tests (``@pytest.mark.urls("tests.urls_cors")``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

#: How often each view ran, by view name; tests reset it.
CALLS: Counter[str] = Counter()


@csrf_exempt
def plain(request: HttpRequest) -> HttpResponse:
    CALLS["plain"] += 1
    response = HttpResponse(f"plain {request.method}", content_type="text/plain")
    response["X-Path"] = request.path
    return response


@csrf_exempt
def counted(request: HttpRequest) -> HttpResponse:
    """Counts its calls and answers OPTIONS with a 418, so a preflight reaching it shows."""
    CALLS["counted"] += 1
    if request.method == "OPTIONS":
        return HttpResponse("the view answered the preflight", status=418)
    return HttpResponse("counted", content_type="text/plain")


def vary_cookie(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("vary cookie")
    response["Vary"] = "Cookie"
    return response


def vary_origin(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("vary origin")
    response["Vary"] = "origin, Accept-Encoding"
    return response


def vary_star(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("vary star")
    response["Vary"] = "*"
    return response


def own_cors(request: HttpRequest) -> HttpResponse:
    """A view that sets CORS headers itself (wrongly): the middleware must replace them."""
    response = HttpResponse("own cors")
    response["Access-Control-Allow-Origin"] = "https://evil.example.com"
    response["Access-Control-Allow-Credentials"] = "true"
    response["Access-Control-Expose-Headers"] = "X-Secret"
    response["Access-Control-Allow-Methods"] = "DELETE"
    response["Access-Control-Max-Age"] = "999999"
    return response


def boom(request: HttpRequest) -> HttpResponse:
    CALLS["boom"] += 1
    raise RuntimeError("view error for the CORS tests")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for i in range(3):
            yield f"chunk {i}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def with_id(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("with id")
    response["X-Request-Id"] = "req-1"
    response["X-Total"] = "3"
    return response


urlpatterns = [
    path("api/plain/", plain),
    path("api/counted/", counted),
    path("api/items/", counted, name="items"),  # APPEND_SLASH target
    path("api/vary-cookie/", vary_cookie),
    path("api/vary-origin/", vary_origin),
    path("api/vary-star/", vary_star),
    path("api/own-cors/", own_cors),
    path("api/boom/", boom),
    path("api/stream/", stream),
    path("api/with-id/", with_id),
    re_path(r"^api/caf\u00e9/$", plain),
    path("open/plain/", plain),
    path("open/own-cors/", own_cors),
    path("open/counted/", counted),
    path("star/plain/", plain),
    path("star/vary-cookie/", vary_cookie),
]
