# Shared set-up of scripts/test and scripts/serve: the repo root, logging, apt, and the .venv.
# Sourced, not run. Expects SCRIPT_NAME to be set by the caller.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$REPO_ROOT"

VENV="$REPO_ROOT/.venv"
STAMP="$VENV/.cbamhub-install-stamp"
VAR_DIR="$REPO_ROOT/var"

log() { printf '[%s] %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
is_root() { [ "$(id -u)" -eq 0 ]; }
truthy() { case "${1:-}" in 1 | true | TRUE | yes | on) return 0 ;; *) return 1 ;; esac; }

mkdir -p "$VAR_DIR"

# ---------------------------------------------------------------------------
# apt helper (root only). `apt-get update` runs at most once per invocation.
# ---------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
    is_root || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    local apt_log="$VAR_DIR/apt.log"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        if ! apt-get update -qq >"$apt_log" 2>&1; then
            cat "$apt_log" >&2
            return 1
        fi
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    if ! apt-get install -y -qq --no-install-recommends "$@" </dev/null >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------
# 1. Virtualenv
# ---------------------------------------------------------------------------
python_ok() { # python_ok INTERPRETER -> interpreter runs and is >= 3.11
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
    local cand
    for cand in ${PYTHON:-} python3.11 python3 python3.12 python3.13 python3.14; do
        if command -v "$cand" >/dev/null 2>&1 && python_ok "$cand"; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

create_venv() {
    local py
    py="$(find_python)" || die "no Python >= 3.11 found (tried \$PYTHON, python3.11, python3, python3.12, python3.13); install python3.11"
    log "creating .venv with $py ($("$py" --version 2>&1))"
    rm -rf "$VENV"
    if ! "$py" -m venv "$VENV" >"$VAR_DIR/venv.log" 2>&1; then
        # Debian's python3 needs the python3-venv package for ensurepip.
        rm -rf "$VENV"
        local minor
        minor="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        if apt_install "python${minor}-venv" || apt_install python3-venv; then
            "$py" -m venv "$VENV" || { rm -rf "$VENV"; die "python -m venv failed"; }
        else
            cat "$VAR_DIR/venv.log" >&2
            rm -rf "$VENV"
            die "python -m venv failed (on Debian: apt-get install python3-venv)"
        fi
    fi
}

ensure_venv() {
    local t0 want
    t0="$(now)"
    if [ -e "$VENV" ] && ! python_ok "$VENV/bin/python"; then
        log ".venv is broken or older than Python 3.11: recreating it"
        rm -rf "$VENV"
    fi
    [ -x "$VENV/bin/python" ] || create_venv
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
        log "installing the project: pip install -e '.[dev]'"
        rm -f "$STAMP"
        if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
            -e '.[dev]' </dev/null >"$VAR_DIR/pip-install.log" 2>&1; then
            tail -n 60 "$VAR_DIR/pip-install.log" >&2
            die "pip install -e '.[dev]' failed (full log: var/pip-install.log)"
        fi
        printf '%s\n' "$want" >"$STAMP"
        log "virtualenv ready in $(elapsed "$t0")s"
    fi
}

# Serialise venv set-up between concurrent runs in the same checkout.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VAR_DIR/.venv-setup.lock"
    flock 9
    ensure_venv
    flock -u 9
    exec 9>&-
else
    ensure_venv
fi
