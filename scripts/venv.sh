#!/usr/bin/env bash
# Create or update a virtualenv with the project installed (`pip install -e '.[dev]'`).
#
#   scripts/venv.sh VENV PYTHON [extra pip requirement...]
#
# Installs only when needed: a stamp file inside the venv records a hash of
# pyproject.toml, the interpreter version and the extra requirements; when they are
# unchanged this script does nothing and returns in well under a second.
set -euo pipefail

venv=${1:?usage: scripts/venv.sh VENV PYTHON [extra requirement...]}
python=${2:?usage: scripts/venv.sh VENV PYTHON [extra requirement...]}
shift 2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! command -v "$python" >/dev/null 2>&1 && [ ! -x "$python" ]; then
    echo "error: '$python' not found. Install Python 3.11 or newer (python3) and retry." >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "error: $("$python" --version 2>&1) is too old (or broken); cors_admin needs Python 3.11 or newer." >&2
    echo "       Run with PYTHON=/path/to/python3.11 make ..." >&2
    exit 1
fi

# A venv whose interpreter no longer runs (moved directory, removed Python) is rebuilt.
if [ -e "$venv" ] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    echo ">>> $venv is broken; recreating it"
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    echo ">>> creating $venv with $("$python" --version 2>&1)"
    if ! "$python" -m venv "$venv"; then
        rm -rf "$venv"
        echo "error: '$python -m venv' failed. On Debian/Ubuntu install the venv module:" >&2
        echo "       sudo apt-get install python3-venv" >&2
        exit 1
    fi
fi

stamp="$venv/.cors-admin-installed"
key=$("$venv/bin/python" - "$@" <<'EOF'
import hashlib, sys
digest = hashlib.sha256(open("pyproject.toml", "rb").read())
digest.update(sys.version.encode())
digest.update("\0".join(sys.argv[1:]).encode())
print(digest.hexdigest())
EOF
)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    exit 0
fi

echo ">>> installing cors_admin and its dev dependencies into $venv (pip install -e '.[dev]' $*)"
echo "    (takes a minute or two the first time)"
"$venv/bin/python" -m pip install --quiet --upgrade pip || echo "(could not upgrade pip; continuing with $("$venv/bin/python" -m pip --version))"
"$venv/bin/python" -m pip install --quiet -e '.[dev]' "$@"
echo "$key" >"$stamp"
echo ">>> $venv ready: $("$venv/bin/python" -c 'import django, sys; print(f"Python {sys.version.split()[0]}, Django {django.get_version()}")')"
