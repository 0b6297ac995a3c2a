"""Real servers for integration tests: a database of their own, gunicorn or uvicorn.

A server runs in other processes, so it cannot see the test's transaction:
each server test gets a fresh database (a temporary SQLite file, or a new
PostgreSQL database when ``CORS_ADMIN_TEST_DB=postgres``), migrated with the
example project's ``manage.py``, and changes it through ``manage(...)``
subprocesses or the server's own HTTP API.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "CORS_ADMIN_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


def using_postgres() -> bool:
    return os.environ.get("CORS_ADMIN_TEST_DB", "sqlite") == "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=database_url,
        SECRET_KEY="integration-tests",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def manage(
    database_url: str, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> str:
    """Run ``manage.py`` against ``database_url``; return stdout, raise with output on failure."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**base_env(database_url), **(env or {})},
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def run_python(database_url: str, code: str) -> str:
    """Run Django code in a fresh process against ``database_url`` (``manage.py shell -c``)."""
    return manage(database_url, "shell", "-c", code)


@contextlib.contextmanager
def server_database(migrate: bool = True) -> Iterator[str]:
    """A fresh, migrated database for servers; yields its DATABASE_URL and removes it after."""
    if using_postgres():
        import psycopg

        name = f"cors_admin_srv_{uuid.uuid4().hex[:10]}"
        admin = PG_ADMIN_URL.replace("postgres://", "postgresql://", 1)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        try:
            if migrate:
                manage(url, "migrate", "--noinput", "-v", "0")
            yield url
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        directory = tempfile.mkdtemp(prefix="cors_admin_srv_")
        url = f"sqlite:///{directory}/db.sqlite3"
        try:
            if migrate:
                manage(url, "migrate", "--noinput", "-v", "0")
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Server:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One raw HTTP request; returns status, every header line as sent, body."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            items = headers.items() if isinstance(headers, dict) else (headers or [])
            for name, value in items:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


@contextlib.contextmanager
def run_server(
    database_url: str,
    kind: str = "gunicorn",
    workers: int = 1,
    env: dict[str, str] | None = None,
    ready_path: str = "/admin/login/",
    timeout: float = 60.0,
) -> Iterator[Server]:
    """Start gunicorn (WSGI) or uvicorn (ASGI) serving the example project."""
    port = free_port()
    if kind == "gunicorn":
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "example_project.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
        ]
    elif kind == "uvicorn":
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "example_project.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--lifespan",
            "off",
        ]
    else:
        raise ValueError(kind)
    log_dir = Path(tempfile.mkdtemp(prefix="cors_admin_log_"))
    log_path = log_dir / f"{kind}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**base_env(database_url), **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server("127.0.0.1", port, process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} exited early:\n{server.log()}")
            try:
                status, _, _ = server.request("GET", ready_path)
                if status < 500:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not answer within {timeout}s:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(timeout=5)
        log.close()
        shutil.rmtree(log_dir, ignore_errors=True)
