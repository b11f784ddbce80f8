#!/usr/bin/env bash
# duet as a streaming proxy: the same streamed chat completions read directly from a fake
# OpenAI-compatible provider (bench/fake_llm.rs) and through duet's POST /api/chat/completions,
# by bench/proxy_load.rs, at K=1 and K=100 concurrent streams. Prints, per K:
#   - time to first token (the first data: event with content) p50/p99, direct and through duet,
#     on paced streams (one token every PACED_INTERVAL_MS, as a model writes; the K streams'
#     starts spread over one stream's length), and each paced stream's token rate;
#   - streamed tokens/s with the provider writing as fast as the connection takes it (all streams
#     together), direct and through duet, and the ratio; the CPU time per token of the fake
#     (direct) and of duet (through duet);
#   - memory per open stream: VmRSS with K paced streams open minus idle, / K.
#
# Usage: bench/proxy.sh [--no-build]
#   release build, fresh SQLite data directory; the requests name no chat (nothing is saved).
#   --no-build  use the binaries in target/release as they are (bench/run.sh builds them first)
#   Tunables (environment): PROXY_PORT (18192; the fake listens on PROXY_PORT+1),
#   PACED_INTERVAL_MS (20), PACED_TOKENS (20), PACED_REQUESTS_1 (100), PACED_REQUESTS_100 (10),
#   FAST_TOKENS (2000), FAST_REQUESTS_1 (50), FAST_REQUESTS_100 (3).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    *) echo "usage: bench/proxy.sh [--no-build]" >&2; exit 2 ;;
  esac
  shift
done

PROXY_PORT="${PROXY_PORT:-18192}"
FAKE_PORT=$((PROXY_PORT + 1))
PACED_INTERVAL_MS="${PACED_INTERVAL_MS:-20}"
PACED_TOKENS="${PACED_TOKENS:-20}"
PACED_REQUESTS_1="${PACED_REQUESTS_1:-100}"
PACED_REQUESTS_100="${PACED_REQUESTS_100:-10}"
FAST_TOKENS="${FAST_TOKENS:-2000}"
FAST_REQUESTS_1="${FAST_REQUESTS_1:-50}"
FAST_REQUESTS_100="${FAST_REQUESTS_100:-3}"

if [[ $BUILD == 1 ]]; then
  echo "building the release binary, the fake provider and the load driver"
  cargo build --release --quiet --bin duet --example fake_llm --example proxy_load
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
# SQLite always (also when bench/run.sh ran on PostgreSQL): an unsaved completion only reads models.
unset DATABASE_URL REDIS_URL REDIS_KEY_PREFIX
export DATA_DIR="$WORK/data" PORT="$PROXY_PORT" RUST_LOG=warn WEBUI_SECRET_KEY=bench \
  ENABLE_OPENAI_API=true OPENAI_API_BASE_URLS="http://127.0.0.1:$FAKE_PORT/v1" OPENAI_API_KEYS=sk-bench \
  ENABLE_OLLAMA_API=false MODELS_CACHE_TTL=3600
mkdir -p "$DATA_DIR"
BASE="http://127.0.0.1:$PROXY_PORT"
DIRECT="http://127.0.0.1:$FAKE_PORT/v1/chat/completions"

target/release/examples/fake_llm "$FAKE_PORT" --interval-ms "$PACED_INTERVAL_MS" & FAKE_PID=$!
PIDS+=("$FAKE_PID")
target/release/duet serve & PID=$!
PIDS+=("$PID")
until curl -sf "http://127.0.0.1:$FAKE_PORT/v1/models" >/dev/null; do sleep 0.01; done
until curl -sf "$BASE/health" >/dev/null; do sleep 0.01; done

TOKEN=$(curl -sf "$BASE/api/v1/auths/signup" -H 'content-type: application/json' \
  -d '{"name":"Admin","email":"admin@example.com","password":"Passw0rd!"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -sf "$BASE/api/models" -H "Authorization: Bearer $TOKEN" | grep -q '"bench-fast"' ||
  { echo "duet does not list the fake provider's models" >&2; exit 1; }

RESULTS=()
load() { # name pid endpoint model concurrency requests tokens stagger_ms [token]
  local name=$1 pid=$2 endpoint=$3 model=$4 k=$5 requests=$6 tokens=$7 stagger=$8 token=${9:-} out
  local auth=()
  [[ -n $token ]] && auth=(--token "$token")
  out=$(target/release/examples/proxy_load --endpoint "$endpoint" --model "$model" --concurrency "$k" \
    --requests "$requests" --max-tokens "$tokens" --pid "$pid" --stagger-ms "$stagger" "${auth[@]}")
  grep -v '^RESULT' <<<"$out"
  RESULTS+=("$name $k $tokens $(grep '^RESULT' <<<"$out" | cut -d' ' -f2-)")
}
PACED_MS=$((PACED_TOKENS * PACED_INTERVAL_MS))

for k in 1 100; do
  paced_requests=PACED_REQUESTS_$k fast_requests=FAST_REQUESTS_$k
  echo "== K=$k paced ($PACED_TOKENS tokens, one every $PACED_INTERVAL_MS ms, ${!paced_requests} requests per stream)"
  load direct-paced "$FAKE_PID" "$DIRECT" bench-paced "$k" "${!paced_requests}" "$PACED_TOKENS" "$PACED_MS"
  load duet-paced "$PID" "$BASE/api/chat/completions" bench-paced "$k" "${!paced_requests}" "$PACED_TOKENS" \
    "$PACED_MS" "$TOKEN"
  echo "== K=$k fast ($FAST_TOKENS tokens as fast as read, ${!fast_requests} requests per stream)"
  load direct-fast "$FAKE_PID" "$DIRECT" bench-fast "$k" "${!fast_requests}" "$FAST_TOKENS" 0
  load duet-fast "$PID" "$BASE/api/chat/completions" bench-fast "$k" "${!fast_requests}" "$FAST_TOKENS" 0 "$TOKEN"
done

echo "== summary (release, SQLite; driver, fake and duet share the machine's cores)"
printf '%s\n' "${RESULTS[@]}" > "$WORK/results"
python3 - "$WORK/results" <<'PY'
import sys
# name k tokens_per_request, then proxy_load's RESULT fields
keys = ["tokens", "requests", "errors", "p50", "p99", "tps", "rate", "idle", "open", "peak", "cpu", "driver"]
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows[(f[0], int(f[1]))] = dict(zip(keys, map(float, f[2:])))
def cpu_per_token(r):  # µs of the measured process's CPU per streamed token
    return r["cpu"] * 1000 / max(1, (r["requests"] - r["errors"]) * r["tokens"])
print(f"{'K':>4} {'path':<7} {'TTFT p50':>10} {'TTFT p99':>10} {'paced, per stream':>17} "
      f"{'fast, all streams':>18} {'CPU/token':>10} {'RSS per open stream':>20} {'errors':>6}")
for k in (1, 100):
    d, p = rows[("direct-paced", k)], rows[("duet-paced", k)]
    df, pf = rows[("direct-fast", k)], rows[("duet-fast", k)]
    for name, paced, fast in (("direct", d, df), ("duet", p, pf)):
        per = (paced["open"] - paced["idle"]) / k
        print(f"{k:>4} {name:<7} {paced['p50']:>7.3f} ms {paced['p99']:>7.3f} ms {paced['rate']:>11.1f} tok/s "
              f"{fast['tps']:>12.0f} tok/s {cpu_per_token(fast):>7.2f} µs {per:>17.1f} kB "
              f"{int(paced['errors'] + fast['errors']):>6}")
    print(f"{k:>4} {'duet-direct':<7} {p['p50'] - d['p50']:>+7.3f} ms {p['p99'] - d['p99']:>+7.3f} ms "
          f"{p['rate'] / d['rate']:>15.3f} x {pf['tps'] / df['tps']:>16.3f} x")
print("CPU/token: the fake's (direct) or duet's (through duet) CPU time in the fast runs, per token;")
print("RSS per open stream: the fake's (direct) or duet's VmRSS with K paced streams open minus idle, / K.")
PY
