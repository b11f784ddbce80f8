#!/usr/bin/env bash
# Property-based API test against a running release build (fresh SQLite data directory, a
# signed-in admin), in two runs:
#
# - REST: schemathesis generates requests from /openapi.json and fails on any 5xx answer, any
#   answer that does not match its documented schema, status code or content type.
# - GraphQL: schemathesis loads the schema of /graphql by introspection and generates queries and
#   mutations for every root field. It fails on any 5xx answer, any GraphQL error duet labels as a
#   server failure (`extensions.status` >= 500, or an unlabelled error raised in a resolver), any
#   answer that is not a GraphQL JSON object or puts null in a non-null field, and any invalid
#   document that is not refused. Before the run the admin creates a chat (shared, tagged), a model
#   and a second user; their ids feed the generated arguments so mutations reach real rows.
#
# After each run the admin's token must still work: a run that lost its session tested nothing.
#
#   tests/schemathesis.sh            # release build (as CI), both runs
#   SCHEMATHESIS_PROFILE=debug tests/schemathesis.sh
#   SCHEMATHESIS_MAX_EXAMPLES=50 tests/schemathesis.sh
#   SCHEMATHESIS_RUNS=graphql tests/schemathesis.sh      # only one of "openapi graphql"
#
# Excluded, because it ends the session every other request signs in with (which would leave the
# rest of the run testing nothing but 401s): sign-out (POST /api/v1/auths/signout, `signout`).
# The other ways to end it (the admin resetting their own password, a password change, revoking
# their own sessions) are kept from doing so by a hook (below); deleting oneself or the primary
# admin is refused by duet.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SCHEMATHESIS_VERSION=4.32.5
PROFILE="${SCHEMATHESIS_PROFILE:-release}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
RUNS="${SCHEMATHESIS_RUNS:-openapi graphql}"
VENV=target/schemathesis/venv

if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "schemathesis: installing $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ "$PROFILE" = release ]; then cargo build -q --release; else cargo build -q; fi
BIN="target/$PROFILE/duet"

DATA_DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG="$DATA_DIR/duet.log"
env -u DATABASE_URL -u REDIS_URL DATA_DIR="$DATA_DIR" HOST=127.0.0.1 PORT="$PORT" \
  WEBUI_SECRET_KEY=schemathesis-secret ENABLE_API_KEYS=true RUST_LOG=warn "$BIN" serve >"$LOG" 2>&1 &
DUET_PID=$!
cleanup() {
  kill "$DUET_PID" 2>/dev/null || true
  wait "$DUET_PID" 2>/dev/null || true
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  curl -fs "$BASE/health" >/dev/null 2>&1 && break
  sleep 0.1
done

PASSWORD=schemathesis-Pa55
ADMIN_ID="$(curl -fs -X POST "$BASE/api/v1/auths/signup" -H 'content-type: application/json' \
  -d "{\"name\":\"Admin\",\"email\":\"admin@example.com\",\"password\":\"$PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"

# A session of its own for each run.
sign_in() {
  TOKEN="$(curl -fs -X POST "$BASE/api/v1/auths/signin" -H 'content-type: application/json' \
    -d "{\"email\":\"admin@example.com\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
}

# Hooks for both runs. The admin may reset their own password (`POST /api/v1/users/{id}/update`,
# `updateUser(id:, input: {password:})`), which ends every session of theirs, and schemathesis
# learns the admin's id from the answers: such a request is sent without the password (REST) or
# for an unknown id (GraphQL), and a password change never carries the real current password, so
# the run keeps its session and still sends every other request. Revoking the admin's own sessions
# (`POST /api/v1/users/{id}/sessions/revoke`) is sent for an unknown id instead.
mkdir -p "$DATA_DIR/openapi" "$DATA_DIR/graphql"
cat >"$DATA_DIR/session_hooks.py" <<'PY'
import os

import schemathesis

ADMIN_ID = os.environ["DUET_ADMIN_ID"]
PASSWORD = os.environ["DUET_ADMIN_PASSWORD"]


@schemathesis.hook
def before_call(context, case, **kwargs):
    body = case.body
    if case.path == "/api/v1/users/{user_id}/sessions/revoke":
        if (case.path_parameters or {}).get("user_id") == ADMIN_ID:
            case.path_parameters["user_id"] = "00000000-0000-4000-8000-000000000000"
    elif case.path == "/api/v1/users/{user_id}/update" and isinstance(body, dict):
        if (case.path_parameters or {}).get("user_id") == ADMIN_ID:
            body.pop("password", None)
    elif case.path == "/api/v1/auths/update/password" and isinstance(body, dict):
        if body.get("password") == PASSWORD:
            body["password"] = "not-" + PASSWORD
    elif isinstance(body, str):
        if "updateUser" in body and ADMIN_ID in body:
            case.body = body.replace(ADMIN_ID, "00000000-0000-4000-8000-000000000000")
        elif "updatePassword" in body and PASSWORD in body:
            case.body = body.replace(PASSWORD, "not-" + PASSWORD)
PY

# The admin's token still answers `me` (a run must not have ended its own session).
session_alive() {
  local me
  me="$(curl -s "$BASE/graphql" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"query":"{ me { email role } }"}')"
  if [ "$me" != '{"data":{"me":{"email":"admin@example.com","role":"admin"}}}' ]; then
    echo "schemathesis: the admin's session did not survive the $1 run: $me" >&2
    return 1
  fi
}

# The providers are off in this run (none is reachable from here), and the reference answers its
# provider routes with 503 and its texts then ("The Ollama API is disabled. …"): that one 5xx is
# allowed on those routes, every other one still fails the run.
cat >"$DATA_DIR/openapi/schemathesis.toml" <<'TOML'
[[operations]]
include-path-regex = "^/(openai|ollama)/"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
TOML

run_openapi() {
  # From a temp directory: schemathesis keeps its run files in the working directory.
  (cd "$DATA_DIR/openapi" && SCHEMATHESIS_HOOKS="$DATA_DIR/session_hooks.py" \
    "$ROOT/$VENV/bin/schemathesis" run "$BASE/openapi.json" \
    -H "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --exclude-path /api/v1/auths/signout \
    --max-examples "$MAX_EXAMPLES" \
    --request-timeout 10 \
    --generation-deterministic \
    --no-color)
}

# Rows for the GraphQL run to find, and schemathesis.toml with dictionaries of their ids.
seed_graphql() {
  python3 - "$BASE" "$TOKEN" "$DATA_DIR/graphql" <<'PY'
import json, sys, urllib.request

base, token, out = sys.argv[1:4]

def call(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as res:
        return json.load(res)

def gql(query):
    answer = call("/graphql", {"query": query})
    if answer.get("errors"):
        sys.exit(f"schemathesis: seeding failed: {query}: {answer['errors']}")
    return answer["data"]

chat = gql('mutation { createChat(chat: {title: "Seed chat", models: ["seed-model"], '
           'messages: [{id: "m1", role: "user", content: "hello"}]}) { id } }')["createChat"]["id"]
other = gql('mutation { createChat(chat: {title: "Another chat"}) { id } }')["createChat"]["id"]
gql(f'mutation {{ addChatTag(id: "{chat}", name: "seed") {{ name }} }}')
share = gql(f'mutation {{ shareChat(id: "{chat}") {{ shareId }} }}')["shareChat"]["shareId"]
model = gql('mutation { createModel(input: {id: "seed-model", name: "Seed model", baseModelId: "gpt-4o", '
            'meta: {description: "Seeded", tags: ["seed"]}, params: {system: "Be brief."}}) { id } }')["createModel"]["id"]
user = call("/api/v1/auths/add", {"name": "Seed User", "email": "seed@example.com",
                                  "password": "schemathesis-Pa55", "role": "user"})["id"]

def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"

with open(f"{out}/schemathesis.toml", "w") as f:
    f.write(f"""[dictionaries.ids]
values = {toml_list([chat, other, model, user])}
[dictionaries.share-ids]
values = {toml_list([share])}
[dictionaries.tags]
values = ["seed", "work"]
[dictionaries.emails]
values = ["admin@example.com", "seed@example.com"]
[dictionaries.passwords]
values = ["schemathesis-Pa55"]
[dictionaries.image-urls]
values = ["/user.png", "data:image/png;base64,iVBORw0KGgo="]

[parameters]
"*.*.id" = {{ dictionary = "ids", probability = 0.7 }}
"Mutation.*.input.id" = {{ dictionary = "ids", probability = 0.7 }}
"Query.sharedChat.shareId" = {{ dictionary = "share-ids", probability = 0.7 }}
"Mutation.addChatTag.name" = {{ dictionary = "tags", probability = 0.7 }}
"Mutation.removeChatTag.name" = {{ dictionary = "tags", probability = 0.7 }}
"*.*.tag" = {{ dictionary = "tags", probability = 0.5 }}
"Mutation.signin.email" = {{ dictionary = "emails", probability = 0.7 }}
"Mutation.signin.password" = {{ dictionary = "passwords", probability = 0.5 }}
"Mutation.updateProfile.profileImageUrl" = {{ dictionary = "image-urls", probability = 0.7 }}
""")
print(f"schemathesis: seeded chats {chat} {other} (shared as {share}), model {model}, user {user}")
PY
}

# duet labels every GraphQL error with the HTTP status of its REST twin (`extensions.status`): a
# 4xx is a refusal of the request (bad arguments, unknown ids, permissions), a 5xx a failure of the
# server. schemathesis knows only Apollo's and graphql-java's labels and counts any other error
# raised in a resolver as a server error; these hooks map duet's statuses onto those labels (an
# error without a status keeps schemathesis' own judgement), and generate the `JSON` scalar.
write_graphql_hooks() {
  cat >"$DATA_DIR/graphql/hooks.py" <<'PY'
import graphql
from hypothesis import strategies as st

import schemathesis
from schemathesis.graphql import nodes
from schemathesis.specs.graphql import validation

_own_markers = validation._error_markers


def _duet_markers(errors):
    markers = list(_own_markers(errors))
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        status = extensions.get("status") if isinstance(extensions, dict) else None
        if isinstance(status, int) and not isinstance(status, bool):
            if status >= 500:
                markers.append("INTERNAL_SERVER_ERROR")
            elif status >= 400:
                markers.append("BAD_REQUEST")
    return markers


validation._error_markers = _duet_markers

# `JSON` (chat documents, model meta and params, access grants): any JSON value as a GraphQL
# literal, objects keyed by names chat documents and models use or by random names.
_keys = st.sampled_from(
    ["title", "messages", "models", "tags", "history", "id", "role", "content", "description", "system"]
) | st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,12}", fullmatch=True)
_leaves = (
    st.just(nodes.Null)
    | st.booleans().map(nodes.Boolean)
    | st.integers(min_value=-(2**53), max_value=2**53).map(nodes.Int)
    | st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float)
    | st.text(max_size=40).map(nodes.String)
)


def _objects(values):
    field = st.builds(lambda k, v: graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v), _keys, values)
    return st.lists(field, max_size=5, unique_by=lambda f: f.name.value).map(nodes.Object)


_json = st.recursive(_leaves, lambda values: st.lists(values, max_size=5).map(nodes.List) | _objects(values), max_leaves=20)
schemathesis.graphql.scalar("JSON", _objects(_json) | _json)

# And the session hooks of both runs (SCHEMATHESIS_HOOKS names one file).
import importlib.util
import os

_spec = importlib.util.spec_from_file_location("duet_session_hooks", os.environ["DUET_SESSION_HOOKS"])
_spec.loader.exec_module(importlib.util.module_from_spec(_spec))
PY
}

run_graphql() {
  seed_graphql || return 1
  write_graphql_hooks
  (cd "$DATA_DIR/graphql" && SCHEMATHESIS_HOOKS="$DATA_DIR/graphql/hooks.py" \
    DUET_SESSION_HOOKS="$DATA_DIR/session_hooks.py" "$ROOT/$VENV/bin/schemathesis" \
    --config-file schemathesis.toml run "$BASE/graphql" \
    -H "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,response_schema_conformance,negative_data_rejection \
    --exclude-name Mutation.signout \
    --max-examples "$MAX_EXAMPLES" \
    --request-timeout 10 \
    --generation-deterministic \
    --no-color)
}

export DUET_ADMIN_ID="$ADMIN_ID" DUET_ADMIN_PASSWORD="$PASSWORD"
STATUS=0
for run in $RUNS; do
  echo "== schemathesis: $run"
  sign_in
  set +e
  "run_$run"
  RUN_STATUS=$?
  set -e
  if [ "$RUN_STATUS" -eq 0 ] && ! session_alive "$run"; then RUN_STATUS=1; fi
  if [ "$RUN_STATUS" -ne 0 ]; then
    echo "schemathesis: $run run failed (exit $RUN_STATUS)" >&2
    STATUS=$RUN_STATUS
  fi
done
if [ "$STATUS" -ne 0 ]; then
  echo "schemathesis: failures; server log:" >&2
  tail -n 50 "$LOG" >&2
fi
exit "$STATUS"
