"""docs/api.md's examples, run for real: every ``$ curl`` line against a live gunicorn server,
every ``$ python manage.py cors_*`` line against its database, outputs compared with the page.

Conventions of the page (``console`` blocks):

* ``$ `` starts a command; a line ending in ``\\`` continues it; the lines up to the next
  ``$ `` are its output.
* Commands use ``http://localhost:8000`` and ``$TOKEN``; the test substitutes the server's
  address and a staff user's token, and runs them in order on a fresh database (so the first
  policy created gets id 1).
* JSON output is compared as JSON. ``created_at``/``updated_at`` values are not compared, and an
  object holding the key ``"..."`` only needs the keys it shows.
* Other output is compared line by line; a ``...`` line stands for any number of lines, and
  timings such as ``(0.01 s)`` are not compared.
* ```` ```json title=NAME ```` blocks are files the examples read; ```` ```json expect=NAME ````
  blocks the content a command must have written.

``DOCS_API_PRINT=1`` prints what every command printed (to refresh the page after a change).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.servers import base_env, run_python, run_server, server_database

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "api.md"
FENCE_RE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.M | re.S)
TIMING_RE = re.compile(r"\(\d+\.\d+ s\)")
LEGACY_SETTINGS_MARKER = "# settings.py: the django-cors-headers configuration being replaced"
DOC_BASE = "http://localhost:8000"
IGNORED_VALUES = {"created_at", "updated_at"}

MAKE_STAFF = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user = get_user_model().objects.create_user("ops", password="ops", is_staff=True,
                                            is_superuser=True)
print(Token.objects.create(user=user).key)
"""


def commands(text: str) -> list[tuple[str, list[str]]]:
    """Every ``$`` command of the page's console blocks, with its documented output."""
    found: list[tuple[str, list[str]]] = []
    for language, _, block in FENCE_RE.findall(text):
        if language != "console":
            continue
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.startswith("$ "):
                i += 1
                continue
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command + "\n" + lines[i]
            i += 1
            output: list[str] = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i])
                i += 1
            while output and not output[-1].strip():
                output.pop()
            found.append((command, output))
    return found


def files(text: str, key: str = "title") -> dict[str, str]:
    """Blocks the page names as files: ```json title=broken.json is a file the examples read,
    ```json expect=policies.json the content a command writes."""
    found = {}
    for _, info, block in FENCE_RE.findall(text):
        m = re.search(rf"{key}=(\S+)", info)
        if m:
            found[m.group(1)] = block
    return found


def legacy_settings(text: str) -> str:
    blocks = [
        b
        for lang, _, b in FENCE_RE.findall(text)
        if lang == "python" and LEGACY_SETTINGS_MARKER in b
    ]
    assert len(blocks) == 1, "docs/api.md: one python block of django-cors-headers settings"
    return "from example_project.settings import *  # noqa: F403\n" + blocks[0]


def json_matches(shown: Any, actual: Any, where: str = "$") -> list[str]:
    if isinstance(shown, dict) and isinstance(actual, dict):
        problems: list[str] = []
        partial = "..." in shown
        keys = set(shown) - {"..."}
        if not partial and keys != set(actual):
            problems.append(f"{where}: keys {sorted(keys)} != {sorted(actual)}")
        for key in keys:
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            elif key in IGNORED_VALUES:
                continue
            else:
                problems.extend(json_matches(shown[key], actual[key], f"{where}.{key}"))
        return problems
    if isinstance(shown, list) and isinstance(actual, list):
        if len(shown) != len(actual):
            return [f"{where}: {len(shown)} items shown, {len(actual)} returned"]
        problems = []
        for index, (a, b) in enumerate(zip(shown, actual, strict=True)):
            problems.extend(json_matches(a, b, f"{where}[{index}]"))
        return problems
    return [] if shown == actual else [f"{where}: shown {shown!r}, got {actual!r}"]


def lines_match(shown: list[str], actual: list[str]) -> bool:
    def clean(line: str) -> str:
        return TIMING_RE.sub("(N s)", line.rstrip())

    pattern = "\n".join(".*" if line.strip() == "..." else re.escape(clean(line)) for line in shown)
    return re.fullmatch(pattern, "\n".join(clean(line) for line in actual), re.S) is not None


def compare(command: str, shown: list[str], printed: str) -> None:
    actual = printed.rstrip("\n").splitlines()
    if not shown:
        return
    text = "\n".join(shown).strip()
    try:
        expected = json.loads(text)
    except json.JSONDecodeError:
        expected = None
    if expected is not None:
        try:
            got = json.loads(printed)
        except json.JSONDecodeError:
            raise AssertionError(f"{command}\nprinted no JSON:\n{printed}") from None
        problems = json_matches(expected, got)
        assert not problems, f"{command}\n" + "\n".join(problems)
        return
    assert lines_match(shown, actual), (
        f"{command}\nthe page shows:\n" + "\n".join(shown) + "\nit printed:\n" + printed
    )


def test_the_page_has_examples_for_every_endpoint() -> None:
    text = "\n".join(command for command, _ in commands(PAGE.read_text()))
    for needle in (
        "-X POST http://localhost:8000/api/cors/policies/",
        "http://localhost:8000/api/cors/policies/1/",
        "-X PUT",
        "-X PATCH",
        "-X DELETE",
        "/api/cors/check/",
        "?origin=",
        "python manage.py cors_explain",
        "python manage.py cors_export",
        "python manage.py cors_import",
        "python manage.py cors_import_settings",
    ):
        assert needle in text, needle


def test_every_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    page = PAGE.read_text()
    examples = commands(page)
    printing = bool(os.environ.get("DOCS_API_PRINT"))
    for name, content in files(page).items():
        (tmp_path / name).write_text(content)
    (tmp_path / "legacy_settings.py").write_text(legacy_settings(page))
    with server_database() as url:
        token = run_python(url, MAKE_STAFF).strip().splitlines()[-1]
        with run_server(url, kind="gunicorn", workers=1) as server:
            env = {**os.environ, "TOKEN": token}
            for command, shown in examples:
                if command.startswith("curl "):
                    result = subprocess.run(
                        ["bash", "-c", command.replace(DOC_BASE, server.base_url)],
                        capture_output=True,
                        text=True,
                        env=env,
                        cwd=tmp_path,
                        timeout=60,
                    )
                    assert result.returncode == 0, f"{command}\n{result.stderr}"
                    printed = result.stdout
                elif command.startswith("python manage.py drf_create_token"):
                    continue  # prints a fresh random key; the test made its own token
                elif command.startswith("python manage.py "):
                    printed = _manage(url, command, tmp_path)
                else:
                    continue  # shell set-up lines (export TOKEN=...)
                if printing:
                    print(f"$ {command}\n{printed}")
                else:
                    compare(command, shown, printed)
    for name, content in files(page, "expect").items():
        problems = json_matches(json.loads(content), json.loads((tmp_path / name).read_text()))
        assert not problems, f"{name}\n" + "\n".join(problems)


def _manage(url: str, command: str, cwd: Path) -> str:
    """Run a documented ``python manage.py`` line in ``cwd``; stdout and stderr, as a console
    shows them."""
    words = shlex.split(command)[2:]
    env = base_env(url)
    if words[0] == "cors_import_settings":  # with the page's django-cors-headers settings
        env.update(
            DJANGO_SETTINGS_MODULE="legacy_settings",
            PYTHONPATH=f"{ROOT}{os.pathsep}{cwd}",
        )
    stdin = None
    if "<" in words:  # python manage.py cors_import - < policies.json
        at = words.index("<")
        stdin = (cwd / words[at + 1]).read_text()
        words = words[:at]
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *words],
        env=env,
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    return result.stdout
