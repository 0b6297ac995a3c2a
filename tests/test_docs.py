"""The docs' checkable claims: settings, check ids, code samples, links, console messages."""

from __future__ import annotations

#: What Chromium prints before every CORS error in the console.
CONSOLE_PREFIX = (
    "Access to fetch at '{url}' from origin '{origin}' has been blocked by CORS policy: "
)

#: The rest of each message, as Chromium words it (captured by tests/test_demo_e2e.py).
CHROMIUM_MESSAGES: dict[str, str] = {
    "no-acao": "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    "preflight-no-acao": (
        "Response to preflight request doesn't pass access control check: "
        "No 'Access-Control-Allow-Origin' header is present on the requested resource."
    ),
    "wildcard-credentials": (
        "The value of the 'Access-Control-Allow-Origin' header in the response must not be "
        "the wildcard '*' when the request's credentials mode is 'include'."
    ),
    "credentials-missing": (
        "The value of the 'Access-Control-Allow-Credentials' header in the response is '' "
        "which must be 'true' when the request's credentials mode is 'include'."
    ),
    "preflight-status": (
        "Response to preflight request doesn't pass access control check: "
        "It does not have HTTP ok status."
    ),
    "preflight-redirect": (
        "Response to preflight request doesn't pass access control check: "
        "Redirect is not allowed for a preflight request."
    ),
    "method": (
        "Method {method} is not allowed by Access-Control-Allow-Methods in preflight response."
    ),
    "header": (
        "Request header field {header} is not allowed by Access-Control-Allow-Headers in "
        "preflight response."
    ),
    "multiple": (
        "The 'Access-Control-Allow-Origin' header contains multiple values '{values}', but only "
        "one is allowed. Have the server send the header with a valid value."
    ),
    "wrong-origin": (
        "The 'Access-Control-Allow-Origin' header has a value '{value}' that is not equal to the "
        "supplied origin. Have the server send the header with a valid value."
    ),
}

#: The example values the troubleshooting guide fills the placeholders with.
DOC_EXAMPLES = {
    "method": "PATCH",
    "header": "x-foo",
    "values": "https://app.example.com, https://admin.example.com",
    "value": "https://app.example.com",
}


# -- reading the docs ------------------------------------------------------------------

import ast  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import types  # noqa: E402
from io import StringIO  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import resolve  # noqa: E402

from cors_admin import checks, conf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE_RE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
LINK_RE = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def doc(name: str) -> str:
    return (DOCS / name).read_text()


def code_blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE_RE.findall(text) if lang == language]


def without_code(text: str) -> str:
    return FENCE_RE.sub("", text)


def slug(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    result: set[str] = set()
    for _, heading in HEADING_RE.findall(without_code(text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def run_block(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(code, "<docs>", "exec"), namespace)
    return namespace


# -- settings and checks ---------------------------------------------------------------


def documented_settings() -> dict[str, Any]:
    """``## `CORS_ADMIN_X` `` sections of settings.md and their ``- Default: `...` `` line."""
    text = doc("settings.md")
    found: dict[str, Any] = {}
    sections = re.split(r"^## ", text, flags=re.M)
    for section in sections:
        m = re.match(r"`(CORS_ADMIN_\w+)`", section)
        if not m:
            continue
        default = re.search(r"^- Default: `(.+?)`$", section, re.M)
        assert default, f"settings.md: no '- Default:' line for {m.group(1)}"
        found[m.group(1)] = ast.literal_eval(default.group(1))
    return found


def test_settings_doc_has_every_setting_with_its_default() -> None:
    assert documented_settings() == conf.DEFAULTS


def test_settings_doc_summary_table_matches_defaults() -> None:
    rows = re.findall(
        r"^\| \[`(CORS_ADMIN_\w+)`\]\(#([\w-]+)\) \| [^|]+ \| `(.+?)` \|$", doc("settings.md"), re.M
    )
    assert {name: ast.literal_eval(default) for name, _, default in rows} == conf.DEFAULTS
    assert all(anchor == name.lower() for name, anchor, _ in rows)


def test_the_app_reads_no_setting_missing_from_defaults() -> None:
    used = set()
    for path in (ROOT / "cors_admin").rglob("*.py"):
        used.update(re.findall(r"\bCORS_ADMIN_[A-Z][A-Z0-9_]*\b", path.read_text()))
    assert used <= set(conf.DEFAULTS), used - set(conf.DEFAULTS)


def check_ids_in_code() -> set[str]:
    source = Path(checks.__file__).read_text()
    return set(re.findall(r'id="(cors_admin\.[EW]\d{3})"', source))


def test_settings_doc_lists_every_system_check() -> None:
    table = set(re.findall(r"^\| `(cors_admin\.[EW]\d{3})` \|", doc("settings.md"), re.M))
    assert table == check_ids_in_code()


def test_every_check_id_the_docs_mention_exists() -> None:
    known = check_ids_in_code()
    for path in markdown_files():
        mentioned = set(re.findall(r"cors_admin\.[EW]\d{3}", path.read_text()))
        assert mentioned <= known, f"{path.name}: unknown check ids {mentioned - known}"


# -- code samples ----------------------------------------------------------------------


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.name)
def test_python_samples_compile(path: Path) -> None:
    for number, code in enumerate(code_blocks(path.read_text(), "python"), 1):
        compile(code, f"{path.name} python block {number}", "exec")


def quickstart_block(marker: str) -> str:
    blocks = [b for b in code_blocks(doc("quickstart.md"), "python") if marker in b]
    assert len(blocks) == 1, f"quickstart.md: expected one python block with {marker!r}"
    return blocks[0]


def test_quickstart_settings_pass_the_system_checks() -> None:
    installed = run_block(quickstart_block("INSTALLED_APPS"))["INSTALLED_APPS"]
    assert {"cors_admin", "rest_framework", "django.contrib.admin"} <= set(installed)
    middleware = run_block(quickstart_block("MIDDLEWARE"))["MIDDLEWARE"]
    assert middleware.index("cors_admin.middleware.CorsAdminMiddleware") < middleware.index(
        "django.middleware.common.CommonMiddleware"
    )
    with override_settings(MIDDLEWARE=middleware):
        assert checks.check_middleware() == []


def test_quickstart_urls_mount_the_api() -> None:
    module = types.ModuleType("quickstart_urls")
    exec(compile(quickstart_block("urlpatterns"), "quickstart urls", "exec"), module.__dict__)
    match = resolve("/api/cors/policies/", urlconf=module)
    assert match.namespace == "cors_admin_api"
    assert resolve("/api/cors/check/", urlconf=module).url_name == "check"


def console_samples(text: str, command: str) -> list[tuple[list[str], list[str]]]:
    """``$ command ...`` lines of console blocks, with the output lines that follow each."""
    samples: list[tuple[list[str], list[str]]] = []
    for block in code_blocks(text, "console"):
        current: tuple[list[str], list[str]] | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = None
                words = shlex.split(line[2:])
                if " ".join(words).startswith(command):
                    current = (words, [])
                    samples.append(current)
            elif current is not None:
                current[1].append(line)
    return samples


def curl_request(words: list[str]) -> tuple[str, str, dict[str, str]]:
    method, url, headers = "GET", "", {}
    items = iter(words[1:])
    for word in items:
        if word == "-X":
            method = next(items)
        elif word == "-H":
            name, _, value = next(items).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-i":
            continue
        else:
            url = word
    return method, url, headers


def cors_lines(lines: list[str]) -> set[tuple[str, str]]:
    result = set()
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and (name.lower().startswith("access-control-") or name.lower() == "vary"):
            result.add((name.lower(), value.strip()))
    return result


@pytest.fixture
def quickstart_policy(db: Any) -> None:
    """The first policy, created by the quickstart's own shell snippet."""
    run_block(quickstart_block("CorsPolicy("))


@pytest.mark.django_db
def test_quickstart_curl_samples_show_what_the_middleware_sends(quickstart_policy: None) -> None:
    samples = console_samples(doc("quickstart.md"), "curl")
    assert len(samples) >= 4
    client = Client()
    for words, output in samples:
        method, url, headers = curl_request(words)
        path = re.sub(r"^https?://[^/]+", "", url)
        response = client.generic(method, path, headers=headers)
        shown = cors_lines(output)
        sent = cors_lines([f"{k}: {v}" for k, v in response.headers.items()])
        assert sent == shown, (
            f"{' '.join(words)}:\nthe docs show {shown}\nthe middleware sent {sent}"
        )
        if method == "OPTIONS":
            assert output[0].split()[1] == str(response.status_code), " ".join(words)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["quickstart.md", "troubleshooting.md"])
def test_cors_explain_samples_print_what_the_docs_show(quickstart_policy: None, name: str) -> None:
    """Every ``cors_explain`` sample runs; where the docs show its output, it matches."""
    samples = console_samples(doc(name), "python manage.py cors_explain")
    assert any(output for _, output in samples), f"{name}: no cors_explain sample with output"
    for words, output in samples:
        out = StringIO()
        call_command(*words[2:], stdout=out)
        if output:
            assert out.getvalue().rstrip().splitlines() == output, " ".join(words)


# -- links and messages ----------------------------------------------------------------


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.name)
def test_internal_links_resolve(path: Path) -> None:
    broken = []
    for target in LINK_RE.findall(without_code(path.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{path.name}: broken links: " + ", ".join(broken)


def test_troubleshooting_quotes_every_chromium_message() -> None:
    text = doc("troubleshooting.md")
    for key, message in CHROMIUM_MESSAGES.items():
        assert message.format(**DOC_EXAMPLES) in text, key


def test_troubleshooting_examples_are_whole_console_lines() -> None:
    """Each example line is the prefix Chromium prints plus one of the known messages."""
    prefix = re.escape(CONSOLE_PREFIX).replace(r"\{url\}", "[^']+").replace(r"\{origin\}", "[^']+")
    tails = {m.format(**DOC_EXAMPLES) for m in CHROMIUM_MESSAGES.values()}
    lines = [
        line
        for block in code_blocks(doc("troubleshooting.md"), "text")
        for line in block.splitlines()
        if line.startswith("Access to ")
    ]
    assert len(lines) >= len(CHROMIUM_MESSAGES)
    for line in lines:
        m = re.match(prefix + "(.*)$", line)
        assert m and m.group(1) in tails, line
