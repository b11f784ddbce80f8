#!/usr/bin/env bash
# A 60-chat sidebar (title, owner name, model names, tags) loaded two ways, against the release
# build on SQLite (or, with --postgres, on a fresh PostgreSQL database with Redis):
#   graphql — one POST /graphql
#   rest    — the calls a REST client needs for the same data: GET /api/v1/auths/ (owner),
#             GET /api/v1/chats/?page=1 (titles), GET /api/v1/chats/{id} (model ids) and
#             GET /api/v1/chats/{id}/tags for each chat, GET /api/v1/models/list (model names)
# Each way is loaded N times sequentially over one keep-alive connection; prints per-sidebar
# latency (mean, p50, p99), requests and bytes.
# Usage: bench/sidebar.sh [--postgres] [--no-build] [N, default 50]
#   --postgres  a fresh database `duet_sidebar` on PostgreSQL (DUET_BENCH_DATABASE_URL, default
#               postgres://root@127.0.0.1:5432) and Redis (REDIS_URL, default redis://127.0.0.1:6379)
#   --no-build  use target/release/duet as it is (bench/run.sh builds it first)
set -euo pipefail
cd "$(dirname "$0")/.."
N=50
BACKEND=sqlite
BUILD=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --postgres) BACKEND=postgres ;;
    --no-build) BUILD=0 ;;
    [0-9]*) N="$1" ;;
    *) echo "usage: bench/sidebar.sh [--postgres] [--no-build] [N]" >&2; exit 2 ;;
  esac
  shift
done
PORT="${SIDEBAR_PORT:-${PORT:-18183}}"
[[ $BUILD == 1 ]] && cargo build --release --quiet --bin duet
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
export DATA_DIR="$DATA" PORT RUST_LOG=warn WEBUI_SECRET_KEY=bench ENABLE_OPENAI_API=false ENABLE_OLLAMA_API=false
if [[ $BACKEND == postgres ]]; then
  PG="${DUET_BENCH_DATABASE_URL:-postgres://root@127.0.0.1:5432}"
  psql -q "$PG/postgres" -c "drop database if exists duet_sidebar" -c "create database duet_sidebar"
  export DATABASE_URL="$PG/duet_sidebar" REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
  export REDIS_KEY_PREFIX="duet-sidebar-$$"
else
  unset DATABASE_URL REDIS_URL REDIS_KEY_PREFIX
fi
echo "== sidebar, GraphQL vs REST ($BACKEND), $N loads each"
target/release/duet serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.01; done
python3 - "$PORT" "$N" <<'PY'
import http.client, json, statistics, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
stats = {"requests": 0, "bytes": 0}
def call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    stats["requests"] += 1
    stats["bytes"] += len(data)
    assert r.status == 200, (path, r.status, data[:200])
    return json.loads(data)
token = call("POST", "/api/v1/auths/signup", body={"name": "Ada", "email": "ada@example.com", "password": "Passw0rd!"})["token"]
for m in ("llama3", "gpt-4o"):
    call("POST", "/api/v1/models/create", token, {"id": m, "name": m.upper(), "base_model_id": "base", "meta": {}, "params": {}})
for i in range(60):
    chat = call("POST", "/api/v1/chats/new", token, {"chat": {"title": f"Chat {i}", "models": ["llama3" if i % 2 else "gpt-4o"]}})
    call("POST", f"/api/v1/chats/{chat['id']}/tags", token, {"name": f"tag {i % 5}"})

QUERY = "{ me { name } chats(first: 60) { edges { node { id title user { name } models { name } tags { name } } } } }"
def graphql():
    out = call("POST", "/graphql", token, {"query": QUERY})
    assert len(out["data"]["chats"]["edges"]) == 60
def rest():
    me = call("GET", "/api/v1/auths/", token)
    chats = call("GET", "/api/v1/chats/?page=1", token)
    models = {m["id"]: m["name"] for m in call("GET", "/api/v1/models/list", token)["items"]}
    rows = []
    for c in chats:
        doc = call("GET", f"/api/v1/chats/{c['id']}", token)
        tags = call("GET", f"/api/v1/chats/{c['id']}/tags", token)
        rows.append((c["title"], me["name"], [models.get(m) for m in doc["chat"].get("models", [])], [t["name"] for t in tags]))
    assert len(rows) == 60
for name, load in (("graphql", graphql), ("rest", rest)):
    load()  # warm-up
    stats.update(requests=0, bytes=0)
    times = []
    for _ in range(n):
        t = time.perf_counter(); load(); times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"{name:8} sidebar: mean {statistics.mean(times):7.2f} ms  p50 {p(0.5):7.2f} ms  p99 {p(0.99):7.2f} ms  "
          f"{stats['requests'] / n:5.0f} requests  {stats['bytes'] / n / 1024:6.1f} KiB")
PY
