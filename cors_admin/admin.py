"""The Django admin for operators: policies, their allowlists, bulk actions, a test page.

* The policy list answers "which policies allow this origin?": search for an
  origin (``app.example.com``) or for ``origin:https://app.example.com``,
  which lists every policy that lets that origin in, wildcard entries and
  allow-all policies included.
* The change form reads top-down (which requests → which origins → methods and
  headers → advanced), with the allowlist inline right under "which origins".
  All validation comes from :mod:`cors_admin.validation` through the models
  and :mod:`cors_admin.forms`; risky-but-legal choices are shown as warnings
  after saving.
* Bulk actions (enable, disable, duplicate) write history entries and bump the
  snapshot revision on commit (``BumpingQuerySet`` and the save signals).
* "Test a request" (``<changelist>/test/``) explains a request with
  :func:`cors_admin.explain.explain`, on the same snapshot the middleware uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import capfirst, smart_split, unescape_string_literal
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import cache
from .engine import PolicySet
from .explain import SIMPLE_METHODS, Explanation, explain
from .forms import (
    METHOD_CHOICES,
    CorsOriginForm,
    CorsOriginFormSet,
    CorsPolicyForm,
    TestRequestForm,
)
from .models import POLICY_FIELDS, CorsOrigin, CorsPolicy, PathType, allowing_q
from .origins import NULL, OriginError, parse_entry

__all__ = ["CorsOriginInline", "CorsPolicyAdmin"]

#: Request headers a browser sends without a preflight (with ordinary values).
SAFELISTED_REQUEST_HEADERS = frozenset({"accept", "accept-language", "content-language"})
_COPY_SUFFIX_RE = re.compile(r" \(copy(?: \d+)?\)\Z")


# -- "which policies allow this origin?" ---------------------------------------------


@dataclass
class OriginQuery:
    """An ``origin:<value>`` search term, parsed."""

    typed: str
    origin: str | None = None  # the normalized origin or entry, when it parses
    error: str = ""


def _typed_origin(value: str) -> str:
    """The stored form of an origin or entry as typed (a trailing slash is forgiven).

    Raises :class:`~cors_admin.origins.OriginError`.
    """
    return parse_entry(value.rstrip("/") if value.count("/") == 3 else value).value


def _origin_query(value: str) -> OriginQuery:
    query = OriginQuery(typed=value)
    try:
        query.origin = _typed_origin(value)
    except OriginError as exc:
        query.error = str(exc)
    return query


def _search_terms(search_term: str) -> tuple[list[str], list[OriginQuery]]:
    """Split a search into plain terms and ``origin:`` terms (quotes as in Django's admin)."""
    bits: list[str] = []
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1] and len(bit) > 1:
            bit = unescape_string_literal(bit)
        bits.append(bit)
    plain: list[str] = []
    origins: list[OriginQuery] = []
    pending = False
    for bit in bits:
        if pending:
            origins.append(_origin_query(bit))
            pending = False
        elif bit.lower() == "origin:":
            pending = True
        elif bit.lower().startswith("origin:"):
            origins.append(_origin_query(bit[len("origin:") :]))
        elif bit:
            plain.append(bit)
    return plain, origins


def _normalized_search_origin(term: str) -> str | None:
    """A full origin typed into the search box, in its stored form (None if not one)."""
    if "://" not in term:
        return None
    try:
        return _typed_origin(term)
    except OriginError:
        return None


# -- list filters ----------------------------------------------------------------------


class HasExpiredEntriesFilter(admin.SimpleListFilter):
    title = _("expired entries")
    parameter_name = "expired"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Has expired entries")), ("no", _("No expired entries"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        expired = Exists(
            CorsOrigin.objects.filter(policy=OuterRef("pk"), expires_at__lte=timezone.now())
        )
        if self.value() == "yes":
            return queryset.filter(expired)
        if self.value() == "no":
            return queryset.filter(~expired)
        return None


class AllowlistFilter(admin.SimpleListFilter):
    title = _("allowlist")
    parameter_name = "allowlist"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("all", _("Allows all origins (*)")),
            ("wildcard", _("Has wildcard entries")),
            ("null", _("Allows 'null'")),
            ("empty", _("Empty allowlist")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        entries = CorsOrigin.objects.filter(policy=OuterRef("pk"))
        value = self.value()
        if value == "all":
            return queryset.filter(allow_all_origins=True)
        if value == "wildcard":
            return queryset.filter(Exists(entries.filter(origin__contains="*")))
        if value == "null":
            return queryset.filter(Exists(entries.filter(origin=NULL)))
        if value == "empty":
            return queryset.filter(allow_all_origins=False).exclude(Exists(entries))
        return None


# -- the allowlist inline --------------------------------------------------------------


class CorsOriginInline(admin.TabularInline):
    """The allowlist is part of its policy: the policy's permissions govern it."""

    model = CorsOrigin
    form = CorsOriginForm
    formset = CorsOriginFormSet
    extra = 1
    verbose_name = _("allowed origin")
    verbose_name_plural = _("allowed origins")

    def _policy_admin(self) -> admin.ModelAdmin[CorsPolicy]:
        return self.admin_site.get_model_admin(CorsPolicy)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(self._policy_admin().has_view_or_change_permission(request, obj))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        parent = self._policy_admin()
        if obj is None:
            return bool(parent.has_add_permission(request))
        return bool(parent.has_change_permission(request, obj))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        parent = self._policy_admin()
        if obj is None:
            return bool(parent.has_add_permission(request) or parent.has_change_permission(request))
        return bool(parent.has_change_permission(request, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)


# -- the test page ---------------------------------------------------------------------


@dataclass
class TestStep:
    """One request the browser sends (the preflight, or the actual request)."""

    kind: str  # "preflight" or "actual"
    method: str
    request_headers: list[tuple[str, str]]
    explanation: Explanation
    policy_url: str | None = None

    @property
    def response_headers(self) -> list[tuple[str, str]]:
        return list(self.explanation.headers.items())


@dataclass
class TestResult:
    origin: str | None
    path: str
    method: str
    steps: list[TestStep] = field(default_factory=list)
    preflight_reasons: list[str] = field(default_factory=list)
    browser_stops: bool = False
    revision: Any = None
    origin_hint: str | None = None
    origin_hint_url: str | None = None

    @property
    def final(self) -> Explanation:
        return self.steps[-1].explanation

    @property
    def allowed(self) -> bool:
        return all(step.explanation.allowed for step in self.steps)

    @property
    def covered(self) -> bool:
        return self.steps[0].explanation.covered


# -- the policy admin ------------------------------------------------------------------


@admin.register(CorsPolicy)
class CorsPolicyAdmin(admin.ModelAdmin):
    form = CorsPolicyForm
    inlines = (CorsOriginInline,)
    list_display = (
        "name",
        "path_display",
        "enabled",
        "origins_display",
        "credentials",
        "priority",
        "last_change",
    )
    list_display_links = ("name",)
    list_filter = (
        "enabled",
        "allow_credentials",
        "path_type",
        HasExpiredEntriesFilter,
        AllowlistFilter,
    )
    search_fields = ("name", "path", "origins__origin")
    search_help_text = _(
        "Name, path or origin (app.example.com finds every policy listing it). "
        "origin:https://app.example.com lists the policies that let this origin in, "
        "wildcards and allow-all included."
    )
    ordering = ("priority", "name")
    actions = ("enable_policies", "disable_policies", "duplicate_policies")
    readonly_fields = ("created_at", "updated_at")
    save_on_top = False
    fieldsets = (
        (
            _("Which requests"),
            {
                "description": _(
                    "The policy answers requests whose path matches. When several enabled "
                    "policies match, the lowest priority wins; among equal priorities an exact "
                    "path, then the longest prefix, then a regular expression."
                ),
                "fields": ("name", "description", ("path", "path_type"), "priority", "enabled"),
            },
        ),
        (
            _("Which origins"),
            {
                "description": _(
                    "List each front end's origin in <b>Allowed origins</b> below "
                    "(scheme://host[:port], no path), or allow all origins."
                ),
                "fields": ("allow_all_origins", "allow_credentials"),
            },
        ),
        (
            _("Methods and headers"),
            {"fields": ("allow_methods", "allow_headers", "expose_headers")},
        ),
        (
            _("Advanced"),
            {
                "classes": ("collapse",),
                "fields": ("max_age", "allow_private_network", "created_at", "updated_at"),
            },
        ),
    )

    # -- list ----------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[CorsPolicy]:
        entries = CorsOrigin.objects.filter(policy=OuterRef("pk")).order_by().values("policy")
        count = entries.annotate(n=Count("pk")).values("n")
        expired = entries.filter(expires_at__lte=timezone.now()).annotate(n=Count("pk")).values("n")
        return (
            super()
            .get_queryset(request)
            .annotate(
                origin_count=Coalesce(Subquery(count, output_field=IntegerField()), 0),
                expired_count=Coalesce(Subquery(expired, output_field=IntegerField()), 0),
            )
        )

    @admin.display(description=_("path"), ordering="path")
    def path_display(self, obj: CorsPolicy) -> str:
        return format_html(
            '<code>{}</code> <span class="cors-admin-tag">{}</span>', obj.path, obj.path_type
        )

    @admin.display(description=_("origins"), ordering="origin_count")
    def origins_display(self, obj: CorsPolicy) -> str:
        count = getattr(obj, "origin_count", None)
        if count is None:
            count = obj.origins.count()
        expired = getattr(obj, "expired_count", 0) or 0
        text = str(count)
        if obj.allow_all_origins:
            text = str(_("all (*)")) if not count else f"{_('all (*)')} + {count}"
        if expired:
            return format_html(
                '{} <span class="cors-admin-expired">({} {})</span>', text, expired, _("expired")
            )
        return text

    @admin.display(description=_("last change"), ordering="updated_at")
    def last_change(self, obj: CorsPolicy) -> str:
        if timezone.now() - obj.updated_at < timedelta(minutes=1):
            ago = str(_("just now"))
        else:
            ago = _("%(time)s ago") % {"time": timesince(obj.updated_at).split(",")[0]}
        return format_html(
            '<span title="{}">{}</span>',
            date_format(timezone.localtime(obj.updated_at), "DATETIME_FORMAT"),
            ago,
        )

    @admin.display(description=_("credentials"), boolean=True, ordering="allow_credentials")
    def credentials(self, obj: CorsPolicy) -> bool:
        return bool(obj.allow_credentials)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CorsPolicy], search_term: str
    ) -> tuple[QuerySet[CorsPolicy], bool]:
        plain, origin_queries = _search_terms(search_term)
        for term in plain:
            entries = CorsOrigin.objects.filter(policy=OuterRef("pk"))
            normalized = _normalized_search_origin(term)
            match = Q(origin__icontains=term)
            if normalized:
                match |= Q(origin=normalized)
            queryset = queryset.filter(
                Q(name__icontains=term) | Q(path__icontains=term) | Exists(entries.filter(match))
            )
        for query in origin_queries:
            # Policies whose allowlist lets the origin in now, enabled or not; none for a typo.
            queryset = queryset.filter(
                Q(pk__in=[]) if query.origin is None else allowing_q(query.origin)
            )
        return queryset, False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        _plain, origin_queries = _search_terms(request.GET.get("q", ""))
        context = {
            "cors_origin_queries": origin_queries,
            "cors_test_url": self._test_url(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    # -- change form ---------------------------------------------------------------

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: CorsPolicy | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            context["cors_test_url"] = self._policy_test_url(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _policy_test_url(self, policy: CorsPolicy) -> str:
        """The test page, prefilled with this policy's path and newest exact origin."""
        params: dict[str, str] = {}
        if policy.path_type != PathType.REGEX:
            params["path"] = policy.path
        origin = (
            policy.origins.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .exclude(origin__contains="*")
            .exclude(origin=NULL)
            .order_by("-created_at", "-pk")
            .values_list("origin", flat=True)
            .first()
        )
        if origin is not None:
            params["origin"] = origin
        if not params:
            return self._test_url()
        return f"{self._test_url()}?{urlencode(params)}"

    def response_add(
        self, request: HttpRequest, obj: CorsPolicy, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        self._warn(request, obj)
        return response

    def response_change(self, request: HttpRequest, obj: CorsPolicy) -> HttpResponse:
        response = super().response_change(request, obj)
        self._warn(request, obj)
        return response

    def _warn(self, request: HttpRequest, obj: CorsPolicy) -> None:
        for warning in obj.warnings():
            messages.warning(request, warning)

    # -- bulk actions ----------------------------------------------------------------

    @admin.action(description=_("Enable selected policies"), permissions=["change"])
    def enable_policies(self, request: HttpRequest, queryset: QuerySet[CorsPolicy]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description=_("Disable selected policies"), permissions=["change"])
    def disable_policies(self, request: HttpRequest, queryset: QuerySet[CorsPolicy]) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(
        self, request: HttpRequest, queryset: QuerySet[CorsPolicy], enabled: bool
    ) -> None:
        selected = list(queryset.order_by("pk"))
        targets = [
            p for p in selected if p.enabled != enabled and self.has_change_permission(request, p)
        ]
        if targets:
            label = str(capfirst(CorsPolicy._meta.get_field("enabled").verbose_name))
            with transaction.atomic(using=router.db_for_write(CorsPolicy)):
                # A queryset update: one statement, and BumpingQuerySet bumps on commit.
                CorsPolicy.objects.filter(pk__in=[p.pk for p in targets]).update(
                    enabled=enabled, updated_at=timezone.now()
                )
                for policy in targets:
                    policy.enabled = enabled
                    self.log_change(request, policy, [{"changed": {"fields": [label]}}])
        unchanged = len(selected) - len(targets)
        if enabled:
            text = ngettext(
                "Enabled %(count)d policy.", "Enabled %(count)d policies.", len(targets)
            )
        else:
            text = ngettext(
                "Disabled %(count)d policy.", "Disabled %(count)d policies.", len(targets)
            )
        text %= {"count": len(targets)}
        if unchanged:
            text += " " + ngettext(
                "%(count)d was already in that state.",
                "%(count)d were already in that state.",
                unchanged,
            ) % {"count": unchanged}
        if targets:
            text += " " + str(_("Every server applies the change within about a second."))
        self.message_user(request, text, messages.SUCCESS if targets else messages.INFO)

    @admin.action(
        description=_("Duplicate selected policies (copies start disabled)"), permissions=["add"]
    )
    def duplicate_policies(self, request: HttpRequest, queryset: QuerySet[CorsPolicy]) -> None:
        originals = list(queryset.order_by("pk"))
        copies: list[CorsPolicy] = []
        with transaction.atomic(using=router.db_for_write(CorsPolicy)):
            for original in originals:
                copy = self._duplicate(original)
                self.log_addition(
                    request,
                    copy,
                    f"Duplicated from “{original.name}” (id {original.pk}); "
                    "disabled until reviewed.",
                )
                copies.append(copy)
        names = ", ".join(f"“{c.name}”" for c in copies)
        self.message_user(
            request,
            ngettext(
                "Created %(count)d copy: %(names)s. It is disabled so it does not compete with "
                "the original for the same paths; change its path or priority, then enable it.",
                "Created %(count)d copies: %(names)s. They are disabled so they do not compete "
                "with the originals for the same paths; change their paths or priorities, then "
                "enable them.",
                len(copies),
            )
            % {"count": len(copies), "names": names},
            messages.SUCCESS,
        )

    def _duplicate(self, original: CorsPolicy) -> CorsPolicy:
        values = {name: getattr(original, name) for name in POLICY_FIELDS}
        for key in ("allow_methods", "allow_headers", "expose_headers"):
            values[key] = list(values[key] or [])
        values.update(name=self._copy_name(original.name), enabled=False)
        copy = CorsPolicy.objects.create(**values)
        CorsOrigin.objects.bulk_create(
            [
                CorsOrigin(policy=copy, origin=o.origin, note=o.note, expires_at=o.expires_at)
                for o in original.origins.all()
            ]
        )
        return copy

    @staticmethod
    def _copy_name(name: str) -> str:
        """'<name> (copy)', then '(copy 2)', '(copy 3)'… — unique and within max_length."""
        root = _COPY_SUFFIX_RE.sub("", name)
        max_length = CorsPolicy._meta.get_field("name").max_length or 100
        number = 1
        while True:
            suffix = " (copy)" if number == 1 else f" (copy {number})"
            candidate = root[: max_length - len(suffix)] + suffix
            if not CorsPolicy.objects.filter(name=candidate).exists():
                return candidate
            number += 1

    # -- the test page -------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        custom = [
            path(
                "test/",
                self.admin_site.admin_view(self.test_request_view),
                name="{}_{}_test".format(*info),
            )
        ]
        return custom + super().get_urls()

    def _test_url(self) -> str:
        info = self.admin_site.name, self.opts.app_label, self.opts.model_name
        return reverse("{}:{}_{}_test".format(*info))

    def test_request_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        # A path makes it a test to run; other parameters alone only prefill the form.
        if "path" in request.GET:
            data = request.GET.copy()
            if not data.get("method"):
                data["method"] = "GET"
            form = TestRequestForm(data)
        else:
            initial = {k: v for k, v in request.GET.items() if k in TestRequestForm.base_fields}
            form = TestRequestForm(initial=initial)
        result = self.run_test(form) if form.is_bound and form.is_valid() else None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Test a request"),
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "form": form,
            "result": result,
            "method_choices": METHOD_CHOICES,
            "has_view_permission": True,
            "changelist_url": reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist"
            ),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "cors_admin/test_request.html", context)

    def run_test(self, form: Form) -> TestResult:
        """Explain what a browser would do, on the snapshot the middleware uses now."""
        data = form.cleaned_data
        origin: str | None = data["origin"]
        request_path: str = data["path"]
        method: str = data["method"]
        names = [n.strip().lower() for n in (data["request_headers"] or "").split(",") if n.strip()]
        names = list(dict.fromkeys(names))
        private_network: bool = data["private_network"]
        snapshot: PolicySet | None = cache.current()
        result = TestResult(origin=origin, path=request_path, method=method)
        result.revision = snapshot.revision if snapshot is not None else None

        unsafe = [n for n in names if n not in SAFELISTED_REQUEST_HEADERS]
        if method == "OPTIONS":
            result.preflight_reasons.append(str(_("the method is OPTIONS")))
        if method not in SIMPLE_METHODS and method != "OPTIONS":
            result.preflight_reasons.append(
                str(_("%(method)s is not GET, HEAD or POST")) % {"method": method}
            )
        if unsafe:
            result.preflight_reasons.append(
                str(_("the request sets %(names)s")) % {"names": ", ".join(unsafe)}
            )
        if private_network:
            result.preflight_reasons.append(str(_("it asks for Private Network Access")))

        origin_headers = [("Origin", origin)] if origin is not None else []
        if origin is not None and result.preflight_reasons:
            preflight_method = "GET" if method == "OPTIONS" else method
            headers = [*origin_headers, ("Access-Control-Request-Method", preflight_method)]
            if unsafe:
                headers.append(("Access-Control-Request-Headers", ", ".join(unsafe)))
            if private_network:
                headers.append(("Access-Control-Request-Private-Network", "true"))
            pre = explain(
                origin,
                request_path,
                "OPTIONS",
                ", ".join(unsafe) or None,
                request_method=preflight_method,
                private_network=private_network,
                snapshot=snapshot,
            )
            result.steps.append(self._step("preflight", "OPTIONS", headers, pre))
            if pre.covered and not pre.allowed:
                result.browser_stops = True
        if (not result.browser_stops and method != "OPTIONS") or not result.steps:
            actual = explain(origin, request_path, method, snapshot=snapshot, actual=True)
            result.steps.append(self._step("actual", method, origin_headers, actual))

        if origin is not None and result.final.reason and not result.allowed:
            hint = _normalized_search_origin(origin.strip()) if origin != NULL else None
            if hint and hint != origin and "*" not in hint:
                result.origin_hint = hint
                query = {k: v for k, v in form.data.items() if k in form.fields}
                query["origin"] = hint
                result.origin_hint_url = f"{self._test_url()}?{urlencode(query)}"
        return result

    def _step(
        self, kind: str, method: str, headers: list[tuple[str, str]], explanation: Explanation
    ) -> TestStep:
        url = None
        if explanation.policy_id is not None:
            url = reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[explanation.policy_id],
            )
        return TestStep(kind, method, headers, explanation, url)
