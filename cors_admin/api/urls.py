"""URLs of the REST API; mount with ``path("api/cors/", include("cors_admin.api.urls"))``.

* ``policies/`` and ``policies/<id>/`` (names ``cors_admin_api:policy-list`` and
  ``cors_admin_api:policy-detail``)
* ``check/`` (``cors_admin_api:check``)
"""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from .views import CheckView, PolicyViewSet

app_name = "cors_admin_api"

router = SimpleRouter()
router.register("policies", PolicyViewSet, basename="policy")

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("check/", CheckView.as_view(), name="check"),
]
