#!/usr/bin/env bash
# Start-up and sign-in figures of the release build on a fresh SQLite data dir:
#   cold start  — exec to the first 200 from /health, migrations already applied (`duet migrate` first)
#   idle RSS    — VmRSS of the process after start-up
#   sign-in     — latency of N sequential POST /api/v1/auths/signin (argon2id verification dominates)
# Usage: bench/foundation.sh [N]   (default N=50)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-50}"
PORT="${PORT:-18181}"
cargo build --release --quiet
BIN=target/release/duet
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
export DATA_DIR="$DATA" PORT RUST_LOG=warn SIGNIN_RATE_LIMIT=100000 WEBUI_SECRET_KEY=bench

"$BIN" migrate >/dev/null
start=$(date +%s%N)
"$BIN" serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.002; done
end=$(date +%s%N)
echo "cold start to first /health 200: $(( (end - start) / 1000000 )) ms"
sleep 1
echo "idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"

curl -sf "http://127.0.0.1:$PORT/api/v1/auths/signup" -H 'content-type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"Passw0rd!"}' >/dev/null
for _ in $(seq 1 "$N"); do
  curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/api/v1/auths/signin" \
    -H 'content-type: application/json' -d '{"email":"bench@example.com","password":"Passw0rd!"}'
done | python3 -c '
import sys, statistics
t = sorted(float(x) * 1000 for x in sys.stdin if x.strip())
p = lambda q: t[min(len(t) - 1, int(q * len(t)))]
print(f"sign-in latency over {len(t)} requests: mean {statistics.mean(t):.1f} ms, p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms")
'
echo "RSS after sign-ins: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
