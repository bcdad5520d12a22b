#!/usr/bin/env bash
# Drives `copilot-host serve --simulator` with the official `openai`, `anthropic` and `ollama`
# Python clients (pinned below), one line per check, and a final `N passed, N failed` line.
# Exits non-zero on any failure. Needs python3 (with venv) and network access to PyPI the
# first time; the virtual environment is kept in target/real-clients-venv.
#
#   scripts/real-clients.sh            # builds the host if needed, then runs every check
#   scripts/real-clients.sh -k openai  # only the checks whose name contains "openai"
#   scripts/real-clients.sh --install-only   # only set up the virtual environment (CI uses it
#                                            # to tell "no PyPI here" from a failing check)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/real-clients-venv"
# Pinned: versions seen on PyPI when this script was written (`pip index versions <name>`).
packages=(openai==3.57.0 anthropic==2.14.0 ollama==0.6.3)

start=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# Quick when the pinned versions are already there.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"
if [ "${1:-}" = "--install-only" ]; then
    exit 0
fi

(cd "$root" && cargo build --quiet -p copilot-host)
host="$root/target/debug/copilot-host"

status=0
"$venv/bin/python" "$root/scripts/real_clients.py" --host "$host" --extension "$root" "$@" || status=$?
echo "real clients: $(( $(date +%s) - start ))s in all (setup, build and checks)" >&2
exit "$status"
