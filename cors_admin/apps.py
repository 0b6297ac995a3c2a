from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CorsAdminConfig(AppConfig):
    name = "cors_admin"
    verbose_name = _("CORS policies")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import cache, checks  # noqa: F401  (checks register themselves)

        cache.connect_signals()
