#!/usr/bin/env bash
# Print the path of the first Python interpreter of one of the given versions that runs.
#
#   scripts/find_python.sh 3.12 3.13
#
# Looks in pyenv's versions, then the usual system paths, then PATH. Exits 1 (printing
# nothing) when none is found.
set -uo pipefail

for want in "$@"; do
    candidates=()
    for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/python"$want" \
        /usr/bin/python"$want" /usr/local/bin/python"$want" /opt/homebrew/bin/python"$want"; do
        [ -x "$p" ] && candidates+=("$p")
    done
    if p=$(command -v "python$want" 2>/dev/null); then
        candidates+=("$p")
    fi
    for p in "${candidates[@]}"; do
        if "$p" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" \
            >/dev/null 2>&1; then
            echo "$p"
            exit 0
        fi
    done
done
exit 1
