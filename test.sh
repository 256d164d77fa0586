#!/usr/bin/env bash
# The one test command. On a fresh machine it installs what the tests need (moto, cfn-lint,
# checkov into .venv), starts moto on a free loopback port, runs every workspace test, lints
# the SAM template, and stops what it started. Exits non-zero on any failure.
#
#   ./test.sh            everything
#   ./test.sh --quick    cargo tests only (still starts moto)
#
# Env: AUTOENROLL_VENV (default .venv), CARGO_TEST_ARGS (extra args for cargo test).
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

step() { printf '\n== %s ==\n' "$*"; }

# --- Python tools -----------------------------------------------------------------------
venv=${AUTOENROLL_VENV:-$root/.venv}
stamp="$venv/.requirements.sha256"
want=$(sha256sum requirements-test.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step "installing test tools into $venv (moto, cfn-lint, checkov)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements-test.txt
  echo "$want" > "$stamp"
fi

# --- Headless Chromium for the report's browser test (cli/tests/report_browser.rs) -------
# Debian's packages; installed only when missing (CI runs as root on a fresh Debian machine).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  step "installing chromium and chromium-driver (apt-get) for the report's browser test"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || {
    $sudo_cmd apt-get update -qq >/dev/null
    $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
  }
fi

# --- moto server on a free loopback port -----------------------------------------------
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
step "starting moto on 127.0.0.1:$port"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/autoenroll-moto-$port.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then break; fi
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" || { echo "moto did not start"; exit 1; }
export AUTOENROLL_TEST_MOTO_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1
export AUTOENROLL_VENV_BIN="$venv/bin"

# --- Rust --------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all --check

step "cargo test --workspace"
# A one-off run gains nothing from incremental caches; they would add gigabytes to the target.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
# shellcheck disable=SC2086
cargo test --workspace --locked ${CARGO_TEST_ARGS:-}

[ $quick = 1 ] && { step "quick run: done"; exit 0; }

# --- Infrastructure as code ------------------------------------------------------------
if [ -f infra/template.yaml ]; then
  step "cfn-lint (with serverless rules) on infra/template.yaml"
  "$venv/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- infra/template.yaml
  step "checkov on infra/template.yaml"
  "$venv/bin/checkov" --quiet --compact --skip-download --framework cloudformation -f infra/template.yaml
fi

# --- Extra suites registered by other parts (fuzz smoke, etc.) ------------------------
for extra in scripts/test.d/*.sh; do
  [ -f "$extra" ] || continue
  step "$extra"
  bash "$extra"
done

step "all tests passed"
