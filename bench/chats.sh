#!/usr/bin/env bash
# Sidebar page latency for a small and a very large history:
#   one user with 50 chats and one with 100,000 chats (seeded through POST /api/v1/chats/import),
#   then `wrk -t2 -c32` on GET /api/v1/chats/?page=1 for each, against the release build on SQLite.
# Usage: bench/chats.sh [duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10s}"
PORT="${PORT:-18182}"
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y wrk >/dev/null; }
cargo build --release --quiet
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
export DATA_DIR="$DATA" PORT RUST_LOG=warn WEBUI_SECRET_KEY=bench REQUEST_BODY_LIMIT=67108864
target/release/duet serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.01; done
BASE="http://127.0.0.1:$PORT/api/v1"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

ADMIN=$(curl -sf "$BASE/auths/signup" -H 'content-type: application/json' \
  -d '{"name":"Admin","email":"admin@example.com","password":"Passw0rd!"}' | json '["token"]')
token_for() { # email
  curl -sf "$BASE/auths/add" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d "{\"name\":\"$1\",\"email\":\"$1\",\"password\":\"Passw0rd!\",\"role\":\"user\"}" >/dev/null
  curl -sf "$BASE/auths/signin" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"Passw0rd!\"}" | json '["token"]'
}
seed() { # token count
  python3 - "$BASE" "$1" "$2" <<'PY'
import json, sys, urllib.request
base, token, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
batch = 1000
for start in range(0, total, batch):
    n = min(batch, total - start)
    chats = [{"chat": {"title": f"Chat {start + i}", "models": ["m"], "history": {"currentId": "a", "messages": {
        "u": {"id": "u", "parentId": None, "childrenIds": ["a"], "role": "user", "content": f"question {start + i}"},
        "a": {"id": "a", "parentId": "u", "childrenIds": [], "role": "assistant", "content": "answer", "done": True}}}},
        "created_at": 1700000000 + start + i, "updated_at": 1700000000 + start + i} for i in range(n)]
    req = urllib.request.Request(f"{base}/chats/import", data=json.dumps({"chats": chats}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
PY
}
SMALL=$(token_for small@example.com)
LARGE=$(token_for large@example.com)
start=$(date +%s)
seed "$SMALL" 50
seed "$LARGE" 100000
echo "seeded 50 + 100000 chats in $(( $(date +%s) - start )) s"

for who in SMALL LARGE; do
  token=${!who}
  echo "== GET /api/v1/chats/?page=1, $who user ($( [ $who = SMALL ] && echo 50 || echo 100000 ) chats)"
  wrk -t2 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $token" "$BASE/chats/?page=1" \
    | grep -E "Requests/sec|Latency |50%|99%|Non-2xx|Socket errors"
done
echo "RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
