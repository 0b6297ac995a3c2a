"""URLs of the REST API; mount with ``path("api/cors/", include("cors_admin.api.urls"))``."""

from django.urls import URLPattern, URLResolver

app_name = "cors_admin_api"

urlpatterns: list[URLPattern | URLResolver] = []
