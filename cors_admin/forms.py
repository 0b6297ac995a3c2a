"""Forms of the Django admin: the policy form, its allowlist formset, the test page.

Validation is never re-implemented here: the policy and origin models run the
shared validators of :mod:`cors_admin.validation` in ``clean_fields`` /
``clean``, and the allowlist formset calls :func:`validate_policy` with the
final list of origins of the submission (rows added, changed and deleted in
the same save), so every message lands on the field or row it is about before
anything is written.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from .engine import is_token
from .models import POLICY_FIELDS, CorsOrigin, CorsPolicy
from .origins import NULL
from .validation import NULL_WITH_CREDENTIALS, validate_policy

__all__ = [
    "CommaSeparatedListField",
    "CorsOriginFormSet",
    "CorsPolicyForm",
    "TestRequestForm",
]


class CommaSeparatedListField(forms.CharField):
    """A one-line text field for a JSON list of names: ``"GET, POST"`` ⇄ ``["GET", "POST"]``.

    It only splits on commas; the model's validators check and normalize the
    names, so the messages are the same as the API's.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"class": "vLargeTextField"}))
        kwargs.setdefault("max_length", None)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, (list, tuple)):
            return [str(item).strip() for item in value if str(item).strip()]
        text = super().to_python(value) or ""
        return [part.strip() for part in text.split(",") if part.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled:
            return False
        return list(initial or []) != self.to_python(data)


class CorsPolicyForm(forms.ModelForm):
    allow_methods = CommaSeparatedListField(
        label=_("Allowed methods"),
        help_text=_("Comma-separated, as browsers send them (case matters): GET, POST, PUT."),
    )
    allow_headers = CommaSeparatedListField(
        label=_("Allowed request headers"),
        help_text=_(
            "Comma-separated header names a browser may send, for example "
            "content-type, authorization; or * for any header."
        ),
    )
    expose_headers = CommaSeparatedListField(
        label=_("Exposed response headers"),
        required=False,
        help_text=_(
            "Comma-separated response headers the front end's JavaScript may read, "
            "for example x-request-id. Leave empty for none."
        ),
    )

    class Meta:
        model = CorsPolicy
        fields = POLICY_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 60})}

    def _update_errors(self, errors: ValidationError) -> None:
        # CorsPolicy.clean() checks the origins stored in the database; the admin checks
        # the origins of this very submission instead (CorsOriginFormSet.clean), so that
        # rows deleted or added in the same save count, and the message lands on the row.
        if hasattr(errors, "error_dict") and "allow_credentials" in errors.error_dict:
            rest = dict(errors.error_dict)
            kept = [e for e in rest.pop("allow_credentials") if e.code != NULL_WITH_CREDENTIALS]
            if kept:
                rest["allow_credentials"] = kept
            if not rest:
                return
            errors = ValidationError(rest)
        super()._update_errors(errors)  # type: ignore[misc]


class CorsOriginFormSet(BaseInlineFormSet):
    """The allowlist inline: duplicates and cross-field rules checked on the final list."""

    instance: CorsPolicy

    def final_rows(self) -> list[tuple[forms.ModelForm[CorsOrigin], str]]:
        """(form, normalized origin) of every row that will exist after this save."""
        rows: list[tuple[forms.ModelForm[CorsOrigin], str]] = []
        for form in self.forms:
            if not getattr(form, "cleaned_data", None) or form.errors.get("origin"):
                continue
            if self.can_delete and form.cleaned_data.get("DELETE"):
                continue
            # The model's clean_fields normalized the instance's origin in _post_clean.
            origin = getattr(form.instance, "origin", "") or ""
            if origin:
                rows.append((form, origin))
        return rows

    def saved_meanwhile(self) -> set[str]:
        """Origins of this policy stored since the page was loaded (rows it does not show).

        Django checks the (policy, origin) constraint only among the submitted rows
        (each row's own check leaves the inline's foreign key out), so without this
        a row repeating one of them would fail at save with an IntegrityError.
        """
        if self.instance.pk is None:
            return set()
        shown = [form.instance.pk for form in self.initial_forms if form.instance.pk is not None]
        return set(self.instance.origins.exclude(pk__in=shown).values_list("origin", flat=True))

    def clean(self) -> None:
        meanwhile = self.saved_meanwhile()
        seen: dict[str, int] = {}  # origin -> number of the row (as shown) listing it first
        for form, origin in self.final_rows():
            if origin in meanwhile:
                form.add_error(
                    "origin",
                    ValidationError(
                        _("%(origin)s is already in this allowlist."),
                        code="duplicate_origin",
                        params={"origin": origin},
                    ),
                )
            elif origin in seen:
                form.add_error(
                    "origin",
                    ValidationError(
                        _("%(origin)s is already in this allowlist (row %(row)s)."),
                        code="duplicate_origin",
                        params={"origin": origin, "row": seen[origin]},
                    ),
                )
            else:
                seen[origin] = self.forms.index(form) + 1
            # Keep Django's own duplicate check in step with the normalized value.
            form.cleaned_data["origin"] = origin
        super().clean()
        rows = self.final_rows()  # without the duplicates just refused
        try:
            validate_policy(self.instance.field_data(), [origin for _, origin in rows])
        except ValidationError as exc:
            # The allowlist-level rule ('null' with credentials) goes on the 'null' row. Once
            # the policy exists, CorsOrigin.clean has already put it there (such a row is not
            # among the rows); this reports it on the add page.
            messages = exc.message_dict.get("origins", [])
            null_rows = [form for form, origin in rows if origin == NULL]
            for form in null_rows:
                form.add_error("origin", messages)
            if messages and not null_rows:
                raise ValidationError(messages) from None


class CorsOriginForm(forms.ModelForm):
    class Meta:
        model = CorsOrigin
        fields = ("origin", "note", "expires_at")
        widgets = {
            "origin": forms.TextInput(
                attrs={"size": 40, "placeholder": "https://app.example.com", "spellcheck": "false"}
            ),
            "note": forms.TextInput(attrs={"size": 30}),
        }


METHOD_CHOICES = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class TestRequestForm(forms.Form):
    """What a browser would send: origin, path, method, request headers."""

    origin = forms.CharField(
        label=_("Origin"),
        required=False,
        max_length=2048,
        strip=False,
        widget=forms.TextInput(
            attrs={
                "size": 50,
                "placeholder": "https://app.example.com",
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
        help_text=_(
            "The front end's origin, exactly as the browser sends it in the Origin header. "
            "Leave empty for a request without Origin."
        ),
    )
    path = forms.CharField(
        label=_("Path"),
        max_length=2048,
        initial="/",
        widget=forms.TextInput(attrs={"size": 50, "placeholder": "/api/", "spellcheck": "false"}),
        help_text=_(
            "The request path on this site, for example /api/orders/. A full URL works too."
        ),
    )
    method = forms.CharField(
        label=_("Method"),
        max_length=32,
        initial="GET",
        widget=forms.TextInput(attrs={"size": 10, "list": "cors-admin-methods"}),
        help_text=_("GET, POST, PUT, PATCH, DELETE, … (case matters)."),
    )
    request_headers = forms.CharField(
        label=_("Request headers"),
        required=False,
        max_length=4096,
        widget=forms.TextInput(
            attrs={"size": 50, "placeholder": "content-type, authorization", "spellcheck": "false"}
        ),
        help_text=_(
            "Comma-separated names of the headers the front end's code sets. Any of them, "
            "or a method other than GET, HEAD or POST, makes the browser send a preflight first."
        ),
    )
    private_network = forms.BooleanField(
        label=_("Private network request"),
        required=False,
        help_text=_(
            "The preflight asks for Private Network Access (a public site calling this "
            "private server)."
        ),
    )

    def clean_path(self) -> str:
        path: str = self.cleaned_data["path"].strip()
        if "://" in path:
            try:
                path = urlsplit(path).path or "/"
            except ValueError:  # urlsplit refuses a malformed host, e.g. "http://[x/"
                raise ValidationError(
                    _("Enter a path such as /api/orders/, or a full URL."), code="invalid"
                ) from None
        path = path.split("?", 1)[0].split("#", 1)[0]
        if not path.startswith("/"):
            path = "/" + path
        return path

    def clean_method(self) -> str:
        method: str = self.cleaned_data["method"].strip()
        if not is_token(method):
            raise ValidationError(_("Enter an HTTP method such as GET or POST."), code="invalid")
        return method

    def clean_origin(self) -> str | None:
        origin: str = self.cleaned_data["origin"]
        return origin if origin != "" else None
