#!/usr/bin/env bash
# One read or write scenario of `bench/run.sh` under `wrk -t2 -c32`, optionally with `perf record` attached
# to the server, so a change can be measured (and profiled) before and after, back to back.
#
# Usage: bench/profile.sh [--perf] [--duration 8s] [--bin PATH] SCENARIO...
#   SCENARIO   auths | list | chat | models | sidebar | sidebar-apq | me (`{ me { name } }` over GraphQL)
#              | new (`POST /chats/new`) | update (`POST /chats/{id}`, every connection on one chat),
#              the two write scenarios with the bodies `bench/run.sh` sends
#   --perf     record `perf record -g --call-graph dwarf` of the server during each scenario and
#              print the top of `perf report` (self time, then inclusive); the data stays in
#              $PERF_DIR (default /tmp/duet-perf), one file per scenario
#   --bin      the server binary (default target/release/duet, built unless given); a build with
#              CARGO_PROFILE_RELEASE_DEBUG=line-tables-only gives the profile inlined frames
#
# Seeds a fresh SQLite data directory through the public API (a 50-chat user with tags, one
# 50-message chat, two models readable by every user) as `bench/run.sh` does, without the
# 100,000-chat user. `SESSION_CACHE_TTL` / `CHAT_LIST_CACHE_TTL` from the environment apply.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=8s
PERF=0
BIN=""
SCENARIOS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --perf) PERF=1 ;;
    --duration) DURATION="$2"; shift ;;
    --bin) BIN="$2"; shift ;;
    auths|list|chat|models|sidebar|sidebar-apq|me|new|update) SCENARIOS+=("$1") ;;
    *) echo "usage: bench/profile.sh [--perf] [--duration 8s] [--bin PATH] auths|list|chat|models|sidebar|sidebar-apq|me|new|update..." >&2; exit 2 ;;
  esac
  shift
done
[[ ${#SCENARIOS[@]} -gt 0 ]] || SCENARIOS=(auths list chat models sidebar)
if [[ -z $BIN ]]; then
  cargo build --release --quiet --bin duet
  BIN=target/release/duet
fi
command -v wrk >/dev/null || { echo "installing wrk"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
PORT="${PORT:-18195}"
PERF_DIR="${PERF_DIR:-/tmp/duet-perf}"
mkdir -p "$PERF_DIR"

WORK=$(mktemp -d)
PID=""
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export DATA_DIR="$WORK/data" PORT RUST_LOG=warn WEBUI_SECRET_KEY=bench ENABLE_OPENAI_API=false ENABLE_OLLAMA_API=false
mkdir -p "$DATA_DIR"
BASE="http://127.0.0.1:$PORT"
"$BIN" migrate >/dev/null
"$BIN" serve & PID=$!
until curl -sf "$BASE/health" >/dev/null; do sleep 0.01; done

python3 - "$BASE" "$WORK" <<'PY'
import hashlib, json, sys, urllib.request
base, work = sys.argv[1], sys.argv[2]
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
call("POST", "/api/v1/auths/add", admin, {"name": "Small", "email": "small@example.com", "password": pw, "role": "user"})
small = call("POST", "/api/v1/auths/signin", body={"email": "small@example.com", "password": pw})["token"]
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
chats = [{"chat": {"title": f"Chat {i}", "models": ["llama3" if i % 2 else "gpt-4o"], "history": history(2, "m")},
          "created_at": 1700000000 + i, "updated_at": 1700000000 + i} for i in range(49)]
call("POST", "/api/v1/chats/import", small, {"chats": chats})
big = call("POST", "/api/v1/chats/new", small, {"chat": {"title": "Fifty messages", "models": ["llama3"], "history": history(50, "h")}})
for i, c in enumerate(call("GET", "/api/v1/chats/?page=1", small)):
    call("POST", f"/api/v1/chats/{c['id']}/tags", small, {"name": f"tag {i % 5}"})
sidebar = "{ me { name } chats(first: 60) { edges { node { id title user { name } models { name } tags { name } } } } }"
out = call("POST", "/graphql", small, {"query": sidebar})
assert len(out["data"]["chats"]["edges"]) == 50, out
apq = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(sidebar.encode()).hexdigest()}}
json.dump({"small": small, "chat": big["id"], "sidebar": sidebar, "apq": apq}, open(f"{work}/state.json", "w"))
PY
state() { python3 -c "import json; print(json.load(open('$WORK/state.json'))['$1'])"; }
SMALL=$(state small); CHAT=$(state chat)

cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status + e.connect + e.read + e.write + e.timeout, summary.requests))
end
LUA
post_script() { # file body
  { echo 'wrk.method = "POST"'; echo 'wrk.headers["Content-Type"] = "application/json"';
    printf 'wrk.body = %s\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$2")";
    cat "$WORK/report.lua"; } > "$1"
}
post_script "$WORK/sidebar.lua" "$(python3 -c "import json; s = json.load(open('$WORK/state.json')); print(json.dumps({'query': s['sidebar']}))")"
# Automatic persisted query: one request registers the text with its hash, then the scenario
# sends the hash alone.
python3 - "$BASE" "$WORK" "$SMALL" <<'PY'
import json, sys, urllib.request
base, work, token = sys.argv[1], sys.argv[2], sys.argv[3]
s = json.load(open(f"{work}/state.json"))
req = urllib.request.Request(base + "/graphql", method="POST",
    headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    data=json.dumps({"query": s["sidebar"], "extensions": s["apq"]}).encode())
urllib.request.urlopen(req).read()
json.dump({"extensions": s["apq"]}, open(f"{work}/apq.json", "w"))
PY
post_script "$WORK/sidebar-apq.lua" "$(cat "$WORK/apq.json")"
post_script "$WORK/me.lua" '{"query": "{ me { name } }"}'
post_script "$WORK/new.lua" '{"chat":{"title":"Bench","models":["llama3"],"history":{"currentId":null,"messages":{}}}}'
post_script "$WORK/update.lua" '{"chat":{"title":"Renamed under load","params":{"temperature":0.5}}}'

for s in "${SCENARIOS[@]}"; do
  case "$s" in
    auths) name="GET /api/v1/auths/"; url="$BASE/api/v1/auths/"; lua="$WORK/report.lua" ;;
    list) name="GET /api/v1/chats/?page=1 (50)"; url="$BASE/api/v1/chats/?page=1"; lua="$WORK/report.lua" ;;
    chat) name="GET /api/v1/chats/{id} (50 msgs)"; url="$BASE/api/v1/chats/$CHAT"; lua="$WORK/report.lua" ;;
    models) name="GET /api/v1/models/list"; url="$BASE/api/v1/models/list"; lua="$WORK/report.lua" ;;
    sidebar) name="POST /graphql (50-chat sidebar)"; url="$BASE/graphql"; lua="$WORK/sidebar.lua" ;;
    sidebar-apq) name="POST /graphql (sidebar, APQ hash)"; url="$BASE/graphql"; lua="$WORK/sidebar-apq.lua" ;;
    me) name="POST /graphql ({ me { name } })"; url="$BASE/graphql"; lua="$WORK/me.lua" ;;
    new) name="POST /api/v1/chats/new"; url="$BASE/api/v1/chats/new"; lua="$WORK/new.lua" ;;
    update) name="POST /api/v1/chats/{id} (update)"; url="$BASE/api/v1/chats/$CHAT"; lua="$WORK/update.lua" ;;
  esac
  if [[ $PERF == 1 ]]; then
    perf record -q -F 499 -g --call-graph dwarf,16384 -p "$PID" -o "$PERF_DIR/$s.data" 2>/dev/null & PERF_PID=$!
    sleep 0.3
  fi
  out=$(wrk -t2 -c32 -d"$DURATION" -H "Authorization: Bearer $SMALL" -s "$lua" "$url" | grep '^RESULT')
  read -r _ rps p50 p99 errors total <<<"$out"
  printf '%-34s %10s req/s  p50 %8s ms  p99 %8s ms  errors %s/%s\n' "$name" "$rps" "$p50" "$p99" "$errors" "$total"
  if [[ $PERF == 1 ]]; then
    kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null || true
    echo "-- $s: self time (perf report --no-children)"
    perf report -q -i "$PERF_DIR/$s.data" --no-children --percent-limit 1.5 --stdio -g none 2>/dev/null | head -40 || true
    echo "-- $s: inclusive (perf report --children)"
    perf report -q -i "$PERF_DIR/$s.data" --children --percent-limit 4 --stdio -g none 2>/dev/null | head -60 || true
  fi
done
