#!/usr/bin/env bash
# Peak memory (and wall time) of `autoenroll report` against a generated tenant of N users, with
# the Graph simulator in a process of its own so the figure is the report's alone.
# Usage: scripts/report-memory.sh N [auto|per-user]   (figures: BENCHMARKS.md, section 6)
# Everything runs on loopback; the simulator is stopped on exit, whatever happens.
set -euo pipefail
n=${1:?number of users}
source=${2:-auto}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }
(cd "$root" && cargo build -q -p autoenroll --bin autoenroll && cargo build -q -p graph-sim --bin graph-sim)
target=${CARGO_TARGET_DIR:-$root/target}/debug
# A P1 tenant: a quarter SMS users, a quarter Authenticator, a quarter with only a directory
# mobile, a quarter with nothing; one in 50 disabled (not in the registration report).
python3 - "$n" "$work/seed.json" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
users = []
for i in range(n):
    u = {"userPrincipalName": f"u{i}@bench.test", "displayName": f"User {i}", "accountEnabled": i % 50 != 0}
    k = i % 4
    if k == 0:
        u["mobilePhone"] = f"06 {10000000 + i}"
        u["authentication"] = {"phoneMethods": [{"phoneType": "mobile", "phoneNumber": f"+31 6{10000000 + i}"}]}
    elif k == 1:
        u["authentication"] = {"otherMethods": ["microsoftAuthenticator"]}
    elif k == 2:
        u["mobilePhone"] = f"06 {10000000 + i}"
    users.append(u)
json.dump({"tenant": {"id": "3c1f0a52-7d2e-4b8a-9f10-2a3b4c5d6e7f", "displayName": "Bench",
                     "defaultDomain": "bench.test", "licence": "P1"},
           "apps": [{"clientId": "11111111-2222-4333-8444-555555555555", "displayName": "autoenroll",
                     "secrets": ["bench-secret"],
                     "roles": ["User.Read.All", "UserAuthenticationMethod.Read.All",
                               "RoleManagement.Read.Directory", "AuditLog.Read.All"]}],
           "users": users}, open(path, "w"))
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$target/graph-sim" --listen "127.0.0.1:$port" --seed "$work/seed.json" --ca-out "$work/ca.pem" \
  --no-throttle >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 600); do [ -s "$work/ca.pem" ] && break; sleep 0.1; done
sleep 1
AUTOENROLL_GRAPH_BASE_URL="https://127.0.0.1:$port" AUTOENROLL_AUTHORITY_HOST="https://127.0.0.1:$port/" \
AUTOENROLL_EXTRA_CA_PEM="$work/ca.pem" AUTOENROLL_CLIENT_SECRET=bench-secret \
  /usr/bin/time -v "$target/autoenroll" report --tenant-id 3c1f0a52-7d2e-4b8a-9f10-2a3b4c5d6e7f \
  --client-id 11111111-2222-4333-8444-555555555555 --no-progress --no-checks --source "$source" \
  --graph-quota-share 1 --out "$work/out" >"$work/report.out" 2>"$work/report.err"
grep -E "^Data:|users in" "$work/report.out"
grep -E "Maximum resident|Elapsed" "$work/report.err"
