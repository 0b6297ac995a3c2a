"""What operators edit: CORS policies, their origin allowlists, and the revision row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import cache
from .engine import DEFAULT_HEADERS, DEFAULT_METHODS, PATH_EXACT, PATH_PREFIX, PATH_REGEX
from .origins import entries_allowing, parse_entry
from .validation import (
    normalize_header_names,
    normalize_methods,
    normalize_origin,
    policy_warnings,
    validate_path,
    validate_policy,
)

__all__ = ["POLICY_FIELDS", "CorsOrigin", "CorsPolicy", "CorsRevision", "PathType", "allowing_q"]


#: The policy fields of SPEC.md that operators edit, in reading order (the allowlist aside).
POLICY_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "path",
    "path_type",
    "priority",
    "enabled",
    "allow_all_origins",
    "allow_credentials",
    "allow_methods",
    "allow_headers",
    "expose_headers",
    "max_age",
    "allow_private_network",
)


def default_methods() -> list[str]:
    return list(DEFAULT_METHODS)


def default_headers() -> list[str]:
    return list(DEFAULT_HEADERS)


class PathType(models.TextChoices):
    PREFIX = PATH_PREFIX, _("prefix (at a path-segment boundary)")
    EXACT = PATH_EXACT, _("exact")
    REGEX = PATH_REGEX, _("regular expression (full match)")


class BumpingQuerySet(models.QuerySet):
    """Bulk writes bypass ``save()`` and signals; they bump the revision on commit too."""

    def update(self, **kwargs: Any) -> int:
        rows = super().update(**kwargs)
        cache.schedule_bump(self.db)
        return rows

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        result = super().bulk_create(objs, *args, **kwargs)
        cache.schedule_bump(self.db)
        return result

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        rows = super().bulk_update(objs, fields, *args, **kwargs)
        cache.schedule_bump(self.db)
        return int(rows or 0)

    def delete(self) -> tuple[int, dict[str, int]]:
        result = super().delete()
        cache.schedule_bump(self.db)
        return result

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]


class CorsPolicyQuerySet(BumpingQuerySet):
    def allowing(self, origin: str, *, now: datetime | None = None) -> CorsPolicyQuerySet:
        """The policies whose allowlist lets ``origin`` in (see :func:`allowing_q`)."""
        return self.filter(allowing_q(origin, now=now))


def allowing_q(origin: str, *, now: datetime | None = None) -> Q:
    """A filter for "which policies allow this origin?", whether enabled or not.

    ``origin`` is normalized first (``HTTPS://App.Example.COM:443`` works; a bad
    value raises ``ValidationError``). An origin is let in by an allow-all
    policy or by an unexpired entry among :func:`~cors_admin.origins.entries_allowing`
    -- the entry itself, its port wildcard, subdomain wildcards over its parents --
    and ``null`` only without credentials, as the engine decides. A pattern
    (``https://*.example.com``) finds the policies that list that very entry, or allow all
    origins. Paths and priorities are not considered: the test page tells which policy
    answers a given request.
    """
    entry = parse_entry(normalize_origin(origin))
    candidates = entries_allowing(entry.value) if entry.kind == "exact" else (entry.value,)
    listed = CorsOrigin.objects.filter(policy=OuterRef("pk"), origin__in=candidates).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now())
    )
    match = Q(Exists(listed))
    if entry.kind == "null":
        match &= Q(allow_credentials=False)
    return match | Q(allow_all_origins=True)


class CorsPolicy(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    path = models.CharField(
        _("path"),
        max_length=500,
        default="/",
        help_text=_("Request path (path_info) this policy covers, for example /api/."),
    )
    path_type = models.CharField(
        _("path type"), max_length=10, choices=PathType.choices, default=PathType.PREFIX
    )
    priority = models.IntegerField(
        _("priority"),
        default=100,
        help_text=_("Lower wins. Among equal priorities: exact, then longest prefix, then regex."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    allow_all_origins = models.BooleanField(
        _("allow all origins"),
        default=False,
        help_text=_("Answer 'Access-Control-Allow-Origin: *'. Never with credentials."),
    )
    allow_credentials = models.BooleanField(
        _("allow credentials"),
        default=False,
        help_text=_("Let browsers send cookies and HTTP authentication."),
    )
    allow_methods = models.JSONField(_("allowed methods"), default=default_methods)
    allow_headers = models.JSONField(
        _("allowed request headers"),
        default=default_headers,
        help_text=_("Header names, or ['*'] for any header."),
    )
    expose_headers = models.JSONField(_("exposed response headers"), default=list, blank=True)
    max_age = models.PositiveIntegerField(
        _("preflight max age (s)"),
        null=True,
        blank=True,
        help_text=_(
            "Seconds browsers may cache a preflight. Chromium caps at 7200, Firefox 86400."
        ),
    )
    allow_private_network = models.BooleanField(
        _("allow private network"),
        default=False,
        help_text=_("Answer Private Network Access preflights (legacy Chromium opt-in)."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last change"), auto_now=True)

    objects = CorsPolicyQuerySet.as_manager()

    class Meta:
        ordering = ("priority", "name")
        verbose_name = _("CORS policy")
        verbose_name_plural = _("CORS policies")

    def __str__(self) -> str:
        return self.name

    def clean_fields(self, exclude: Any = None) -> None:
        errors: dict[str, Any] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        exclude = set(exclude or ())
        normalizers = {
            "allow_methods": normalize_methods,
            "allow_headers": normalize_header_names,
            "expose_headers": normalize_header_names,
        }
        for field, normalize in normalizers.items():
            if field in exclude or field in errors:
                continue
            try:
                setattr(self, field, normalize(getattr(self, field)))
            except ValidationError as exc:
                errors.setdefault(field, []).extend(exc.messages)
        if "path" not in exclude and "path" not in errors:
            try:
                validate_path(self.path, self.path_type)
            except ValidationError as exc:
                errors.setdefault("path", []).extend(exc.messages)
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        """Cross-field rules, against the allowlist as saved.

        Forms that edit the allowlist in the same submission (the admin inline, the
        API's ``origins``) check the submitted list themselves; a stored ``null``
        entry is reported on ``allow_credentials``, a field every form has.
        """
        origins = list(self.origins.values_list("origin", flat=True)) if self.pk else None
        try:
            validate_policy(self.field_data(), origins)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            if "origins" in errors:
                errors.setdefault("allow_credentials", []).extend(errors.pop("origins"))
            raise ValidationError(errors) from None

    def field_data(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.attname)
            for f in self._meta.concrete_fields
            if f.name not in ("id", "created_at", "updated_at")
        }

    def warnings(self, origins: list[str] | None = None) -> list[str]:
        """Risky-but-legal choices of this policy, for the admin and the API."""
        if origins is None and self.pk:
            rows = list(self.origins.values_list("origin", "expires_at"))
        else:
            rows = [(o, None) for o in origins or []]
        return policy_warnings(self.field_data(), [r[0] for r in rows], [r[1] for r in rows])


class CorsOrigin(models.Model):
    policy = models.ForeignKey(
        CorsPolicy, on_delete=models.CASCADE, related_name="origins", verbose_name=_("policy")
    )
    origin = models.CharField(
        _("origin"),
        max_length=1024,
        help_text=_(
            "https://app.example.com, https://*.example.com (subdomains), "
            "http://localhost:* (any port) or null."
        ),
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    expires_at = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("After this time the entry matches nothing."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last change"), auto_now=True)

    objects = BumpingQuerySet.as_manager()

    class Meta:
        ordering = ("origin",)
        verbose_name = _("allowed origin")
        verbose_name_plural = _("allowed origins")
        constraints = [
            models.UniqueConstraint(fields=("policy", "origin"), name="cors_admin_origin_unique")
        ]

    def __str__(self) -> str:
        return self.origin

    def clean_fields(self, exclude: Any = None) -> None:
        errors: dict[str, Any] = {}
        if "origin" not in set(exclude or ()):
            try:
                self.origin = normalize_origin(self.origin)
            except ValidationError as exc:
                errors["origin"] = exc.messages
        try:
            super().clean_fields(exclude=set(exclude or ()) | set(errors))
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        policy = getattr(self, "policy", None) if self.policy_id else None
        if policy is not None and self.origin == "null" and policy.allow_credentials:
            raise ValidationError(
                {
                    "origin": "The 'null' origin cannot be combined with credentials: sandboxed "
                    "iframes and local files all send 'null'."
                }
            )


class CorsRevision(models.Model):
    """One row whose ``value`` grows with every committed change to the policies."""

    value = models.BigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("CORS policy revision")

    def __str__(self) -> str:
        return f"revision {self.value}"
