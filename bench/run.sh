#!/usr/bin/env bash
# duet as its users feel it: one line per scenario (req/s, p50, p99, errors) under
# `wrk -t2 -c32`, a ceiling line (the same response bytes from a minimal axum server with no
# authentication and no database), RSS idle and after the run, and cold start to first /health 200;
# then, on the same backend, the 60-chat sidebar over GraphQL vs its REST calls (bench/sidebar.sh)
# and the mixed workload (bench/mixed.sh: 1,000 Zipf-distributed users, 90 % reads / 10 % writes;
# with --postgres on two instances), each with its ratio to the ceiling of this run; with
# --postgres the GraphQL sidebar against PostGraphile on one database
# (/work/shared/peers/postgraphile/compare.sh, PEER_COMPARE to override) and the ratio; last the
# proxy overhead of streamed chat completions (bench/proxy.sh, always on SQLite).
#
# Usage: bench/run.sh [--postgres] [--duration 10s] [--no-build]
#   default     fresh SQLite data directory, in-memory limiter
#   --postgres  fresh database on PostgreSQL (DUET_BENCH_DATABASE_URL, default
#               postgres://root@127.0.0.1:5432) and Redis (REDIS_URL, default redis://127.0.0.1:6379)
#   --no-build  use the binaries in target/release as they are
#
# Users and chats are created through the public API. Sign-in's rate limit is raised for the run
# (SIGNIN_RATE_LIMIT) so the scenario measures password verification, not 429s.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=10s
BACKEND=sqlite
BUILD=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --postgres) BACKEND=postgres ;;
    --duration) DURATION="$2"; shift ;;
    --no-build) BUILD=0 ;;
    *) echo "usage: bench/run.sh [--postgres] [--duration 10s] [--no-build]" >&2; exit 2 ;;
  esac
  shift
done
PORT="${PORT:-18190}"
CEILING_PORT=$((PORT + 1))
LARGE_CHATS="${LARGE_CHATS:-100000}"

command -v wrk >/dev/null || { echo "installing wrk"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
if [[ $BUILD == 1 ]]; then
  echo "building the release binary, the ceiling server and the benchmarks' programs"
  cargo build --release --quiet --bin duet --example ceiling --example fake_llm --example proxy_load --example mixed
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export DATA_DIR="$WORK/data" PORT RUST_LOG=warn WEBUI_SECRET_KEY=bench REQUEST_BODY_LIMIT=67108864 \
  SIGNIN_RATE_LIMIT=1000000000 ENABLE_OPENAI_API=false ENABLE_OLLAMA_API=false
mkdir -p "$DATA_DIR" "$WORK/bodies"
if [[ $BACKEND == postgres ]]; then
  PG="${DUET_BENCH_DATABASE_URL:-postgres://root@127.0.0.1:5432}"
  psql -q "$PG/postgres" -c "drop database if exists duet_bench" -c "create database duet_bench"
  export DATABASE_URL="$PG/duet_bench" REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
  export REDIS_KEY_PREFIX="duet-bench-$$"
fi

rss() { awk '/VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$1/status"; }
BASE="http://127.0.0.1:$PORT"

# Cold start: migrations applied beforehand, then exec to the first 200 from /health.
target/release/duet migrate >/dev/null
start=$(date +%s%N)
target/release/duet serve & PID=$!
PIDS+=("$PID")
until curl -sf "$BASE/health" >/dev/null; do sleep 0.001; done
COLD_MS=$(( ($(date +%s%N) - start) / 1000000 ))
sleep 1
IDLE_RSS=$(rss "$PID")

echo "seeding through the API (50-chat user, 50-message chat, $LARGE_CHATS-chat user, models)"
python3 - "$BASE" "$WORK" "$LARGE_CHATS" <<'PY'
import json, sys, urllib.request
base, work, large_count = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
pw = "Passw0rd!"
admin = call("POST", "/api/v1/auths/signup", body={"name": "Admin", "email": "admin@example.com", "password": pw})["token"]
def user(email):
    call("POST", "/api/v1/auths/add", admin, {"name": email.split("@")[0].title(), "email": email, "password": pw, "role": "user"})
    return call("POST", "/api/v1/auths/signin", body={"email": email, "password": pw})["token"]
small, large = user("small@example.com"), user("large@example.com")
for m in ("llama3", "gpt-4o"):
    call("POST", "/api/v1/models/create", admin, {"id": m, "name": m.upper(), "base_model_id": "base", "meta": {},
         "params": {}, "access_grants": [{"principal_type": "user", "principal_id": "*", "permission": "read"}]})
def history(n, prefix):
    messages, parent = {}, None
    for i in range(n):
        mid = f"{prefix}{i}"
        messages[mid] = {"id": mid, "parentId": parent, "childrenIds": [f"{prefix}{i + 1}"] if i + 1 < n else [],
                         "role": "user" if i % 2 == 0 else "assistant",
                         "content": f"message {i} " + "lorem ipsum dolor sit amet " * 8, "timestamp": 1700000000 + i}
        parent = mid
    return {"currentId": parent, "messages": messages}
def chat_import(token, total, messages):
    for start in range(0, total, 1000):
        n = min(1000, total - start)
        chats = [{"chat": {"title": f"Chat {start + i}", "models": ["llama3" if i % 2 else "gpt-4o"],
                           "history": history(messages, "m")},
                  "created_at": 1700000000 + start + i, "updated_at": 1700000000 + start + i} for i in range(n)]
        call("POST", "/api/v1/chats/import", token, {"chats": chats})
chat_import(small, 49, 2)
big_chat = call("POST", "/api/v1/chats/new", small, {"chat": {"title": "Fifty messages", "models": ["llama3"], "history": history(50, "h")}})
for i, c in enumerate(call("GET", "/api/v1/chats/?page=1", small)):
    call("POST", f"/api/v1/chats/{c['id']}/tags", small, {"name": f"tag {i % 5}"})
chat_import(large, large_count, 2)
sidebar = "{ me { name } chats(first: 60) { edges { node { id title user { name } models { name } tags { name } } } } }"
state = {"admin": admin, "small": small, "large": large, "chat": big_chat["id"], "sidebar": sidebar}
json.dump(state, open(f"{work}/state.json", "w"))
PY
state() { python3 -c "import json; print(json.load(open('$WORK/state.json'))['$1'])"; }
SMALL=$(state small); LARGE=$(state large); CHAT=$(state chat)

# A wrk script per request shape; each prints one machine-readable RESULT line.
cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status + e.connect + e.read + e.write + e.timeout, summary.requests))
end
LUA
post_script() { # file method body
  { echo "wrk.method = \"$2\""; echo 'wrk.headers["Content-Type"] = "application/json"';
    printf 'wrk.body = %s\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$3")";
    cat "$WORK/report.lua"; } > "$1"
}
post_script "$WORK/new.lua" POST '{"chat":{"title":"Bench","models":["llama3"],"history":{"currentId":null,"messages":{}}}}'
post_script "$WORK/update.lua" POST '{"chat":{"title":"Renamed under load","params":{"temperature":0.5}}}'
post_script "$WORK/signin.lua" POST '{"email":"small@example.com","password":"Passw0rd!"}'
post_script "$WORK/sidebar.lua" POST "$(python3 -c "import json; print(json.dumps({'query': '$(state sidebar)'}))")"
python3 -c "import json; print(json.dumps({'query': '$(state sidebar)'}))" > "$WORK/sidebar.body"

RESULTS=()
scenario() { # name url lua [token]
  local name=$1 url=$2 script=$3 token=${4:-} out
  local auth=()
  [[ -n $token ]] && auth=(-H "Authorization: Bearer $token")
  out=$(wrk -t2 -c32 -d"$DURATION" "${auth[@]}" -s "$script" "$url" | grep '^RESULT')
  read -r _ rps p50 p99 errors total <<<"$out"
  RESULTS+=("$name|$rps|$p50|$p99|$errors|$total")
  printf '%-34s %10s req/s  p50 %8s ms  p99 %8s ms  errors %s/%s\n' "$name" "$rps" "$p50" "$p99" "$errors" "$total"
}
save_body() { curl -sf -H "Authorization: Bearer $2" "$BASE$1" > "$WORK/bodies/$3"; }

# The ceiling: the same bytes duet answers, from a server that does nothing else. It is measured
# before and after duet (the machine's speed drifts) and the ratios use the mean of both.
save_body /api/v1/auths/ "$SMALL" auths.json
save_body "/api/v1/chats/?page=1" "$SMALL" chats.json
curl -sf -H "Authorization: Bearer $SMALL" -H 'Content-Type: application/json' \
  --data-binary "@$WORK/sidebar.body" "$BASE/graphql" > "$WORK/bodies/sidebar.json"
target/release/examples/ceiling "$WORK/bodies" "$CEILING_PORT" & PIDS+=("$!")
until curl -sf "http://127.0.0.1:$CEILING_PORT/auths.json" >/dev/null; do sleep 0.01; done
AUTHS_BYTES=$(wc -c <"$WORK/bodies/auths.json") CHATS_BYTES=$(wc -c <"$WORK/bodies/chats.json")
SIDEBAR_BYTES=$(wc -c <"$WORK/bodies/sidebar.json")
ceiling_pass() { # label
  echo "== ceiling ($1): minimal axum, no auth, no database, same bytes"
  scenario "ceiling $1 (auths bytes, $AUTHS_BYTES B)" "http://127.0.0.1:$CEILING_PORT/auths.json" "$WORK/report.lua"
  scenario "ceiling $1 (chat list bytes, $CHATS_BYTES B)" "http://127.0.0.1:$CEILING_PORT/chats.json" "$WORK/report.lua"
  scenario "ceiling $1 (sidebar bytes, $SIDEBAR_BYTES B)" "http://127.0.0.1:$CEILING_PORT/sidebar.json" "$WORK/report.lua"
}
ceiling_pass before

echo "== duet ($BACKEND, release) — wrk -t2 -c32 -d$DURATION"
scenario "GET /api/v1/auths/" "$BASE/api/v1/auths/" "$WORK/report.lua" "$SMALL"
scenario "GET /api/v1/chats/?page=1 (50)" "$BASE/api/v1/chats/?page=1" "$WORK/report.lua" "$SMALL"
scenario "GET /api/v1/chats/?page=1 ($LARGE_CHATS)" "$BASE/api/v1/chats/?page=1" "$WORK/report.lua" "$LARGE"
scenario "GET /api/v1/chats/{id} (50 msgs)" "$BASE/api/v1/chats/$CHAT" "$WORK/report.lua" "$SMALL"
scenario "GET /api/v1/models/list" "$BASE/api/v1/models/list" "$WORK/report.lua" "$SMALL"
scenario "POST /graphql (60-chat sidebar)" "$BASE/graphql" "$WORK/sidebar.lua" "$SMALL"
scenario "POST /api/v1/chats/{id} (update)" "$BASE/api/v1/chats/$CHAT" "$WORK/update.lua" "$SMALL"
scenario "POST /api/v1/chats/new" "$BASE/api/v1/chats/new" "$WORK/new.lua" "$SMALL"
scenario "POST /api/v1/auths/signin" "$BASE/api/v1/auths/signin" "$WORK/signin.lua"
END_RSS=$(rss "$PID")

kill "$PID"; wait "$PID" 2>/dev/null || true

# The same reads with the session and chat-list caches off: every request runs its statements.
SESSION_CACHE_TTL=0 CHAT_LIST_CACHE_TTL=0 target/release/duet serve & PID=$!
PIDS+=("$PID")
until curl -sf "$BASE/health" >/dev/null; do sleep 0.01; done
echo "== duet, SESSION_CACHE_TTL=0 CHAT_LIST_CACHE_TTL=0"
scenario "GET /api/v1/auths/ (caches off)" "$BASE/api/v1/auths/" "$WORK/report.lua" "$SMALL"
scenario "GET /api/v1/chats/?page=1 (50, caches off)" "$BASE/api/v1/chats/?page=1" "$WORK/report.lua" "$SMALL"
scenario "GET /api/v1/chats/?page=1 ($LARGE_CHATS, caches off)" "$BASE/api/v1/chats/?page=1" "$WORK/report.lua" "$LARGE"
kill "$PID"; wait "$PID" 2>/dev/null || true
ceiling_pass after

rps_of() { for r in "${RESULTS[@]}"; do [[ ${r%%|*} == "$1"* ]] && { cut -d'|' -f2 <<<"$r"; return; }; done; }
p99_of() { for r in "${RESULTS[@]}"; do [[ ${r%%|*} == "$1"* ]] && { cut -d'|' -f4 <<<"$r"; return; }; done; }
ratio() { python3 -c "print(f'{float($1) / float($2):.2f}')"; }
echo "== summary"
echo "cold start to first /health 200: $COLD_MS ms; RSS idle $IDLE_RSS, after the run $END_RSS"
mean() { python3 -c "print((float($1) + float($2)) / 2)"; }
CEIL_AUTHS=$(mean "$(rps_of 'ceiling before (auths')" "$(rps_of 'ceiling after (auths')")
CEIL_CHATS=$(mean "$(rps_of 'ceiling before (chat list')" "$(rps_of 'ceiling after (chat list')")
CEIL_SIDEBAR=$(mean "$(rps_of 'ceiling before (sidebar')" "$(rps_of 'ceiling after (sidebar')")
echo "ceiling (mean of before and after): auths bytes $CEIL_AUTHS req/s, chat list bytes $CEIL_CHATS req/s, sidebar bytes $CEIL_SIDEBAR req/s"
echo "auths/ vs ceiling: $(ratio "$(rps_of 'GET /api/v1/auths/')" "$CEIL_AUTHS") (caches off: $(ratio "$(rps_of 'GET /api/v1/auths/ (caches off)')" "$CEIL_AUTHS"))"
echo "chat list (50) vs ceiling: $(ratio "$(rps_of 'GET /api/v1/chats/?page=1 (50)')" "$CEIL_CHATS") (caches off: $(ratio "$(rps_of 'GET /api/v1/chats/?page=1 (50, caches off)')" "$CEIL_CHATS"))"
echo "GraphQL sidebar ($BACKEND) vs ceiling: $(ratio "$(rps_of 'POST /graphql (60-chat sidebar)')" "$CEIL_SIDEBAR")"
echo "chat list p99: 50 chats $(p99_of 'GET /api/v1/chats/?page=1 (50)') ms, $LARGE_CHATS chats $(p99_of "GET /api/v1/chats/?page=1 ($LARGE_CHATS)") ms"
p50_of() { for r in "${RESULTS[@]}"; do [[ ${r%%|*} == "$1"* ]] && { cut -d'|' -f3 <<<"$r"; return; }; done; }
for pass in "" ", caches off"; do
  small_name="GET /api/v1/chats/?page=1 (50$pass)" large_name="GET /api/v1/chats/?page=1 ($LARGE_CHATS$pass)"
  echo "$LARGE_CHATS-chat page vs 50-chat page${pass}: p50 $(ratio "$(p50_of "$large_name")" "$(p50_of "$small_name")")x, p99 $(ratio "$(p99_of "$large_name")" "$(p99_of "$small_name")")x"
done
total_errors=0
for r in "${RESULTS[@]}"; do total_errors=$((total_errors + $(cut -d'|' -f5 <<<"$r"))); done
echo "errors in all scenarios: $total_errors"

BACKEND_FLAG=()
[[ $BACKEND == postgres ]] && BACKEND_FLAG=(--postgres)

echo "== sidebar: one GraphQL request vs the REST calls for the same data ($BACKEND, bench/sidebar.sh)"
SIDEBAR_PORT=$((PORT + 4)) bench/sidebar.sh --no-build "${BACKEND_FLAG[@]}" 50

echo "== mixed workload ($BACKEND, bench/mixed.sh)"
MIXED_PORT="${MIXED_PORT:-$((PORT + 6))}" bench/mixed.sh --no-build --duration "$DURATION" "${BACKEND_FLAG[@]}" \
  | tee "$WORK/mixed.out"
read -r _ MIXED_RPS _ MIXED_P99 MIXED_ERRORS _ <<<"$(grep '^RESULT ' "$WORK/mixed.out")"
echo "mixed workload ($BACKEND) vs ceiling (chat list bytes, wrk): $(ratio "$MIXED_RPS" "$CEIL_CHATS"); all operations p99 $MIXED_P99 ms, errors $MIXED_ERRORS"

if [[ $BACKEND == postgres ]]; then
  COMPARE="${PEER_COMPARE:-/work/shared/peers/postgraphile/compare.sh}"
  echo "== GraphQL sidebar against PostGraphile on one PostgreSQL database ($COMPARE)"
  psql -q "$PG/postgres" -c "drop database if exists duet_peer_bench" -c "create database duet_peer_bench"
  DUET_BIN=target/release/duet DURATION="$DURATION" DUET_ENV="RUST_LOG=warn" \
    "$COMPARE" "$PG/duet_peer_bench" | tee "$WORK/peer.out"
  PEER_RATIO=$(sed -n 's/^ratio duet\/peer req\/s=\([0-9.]*\)x.*/\1/p' "$WORK/peer.out")
  echo "GraphQL sidebar, duet vs PostGraphile (req/s, medians): ${PEER_RATIO}x; duet's sidebar vs its ceiling in this run: $(ratio "$(rps_of 'POST /graphql (60-chat sidebar)')" "$CEIL_SIDEBAR")"
fi

echo "== proxy overhead: streamed chat completions directly vs through duet (bench/proxy.sh)"
bench/proxy.sh --no-build
