//! Parity rows of the further chat routes: `sharedChatAccess`, `updateSharedChatAccess`,
//! `updateChatParams`, `forkChat`, `chatConfig`, `updateChatConfig` and `chatUsageStats` against
//! `/api/v1/chats/shared/{id}/access…`, `/{id}/params`, `/{id}/fork`, `/config` and `/stats/usage`.

use serde_json::{Value, json};

use super::Check::*;
use super::Input::{Invalid, Unknown, Valid};
use super::Who::*;
use super::{
    Ctx, Expect, NOT_FOUND, Req, Row, Setup, UNKNOWN, anonymous, chat_vars, get, no_vars, post, prohibited,
    refused, row, unknown_vars,
};

const SHARING_NOT_ALLOWED: &str = "You do not have permission to share with the requested audience";

const SHARED_CHAT_ACCESS: &str =
    "query($id: String!) { sharedChatAccess(chatId: $id) { id principalType principalId permission } }";
const UPDATE_ACCESS: &str = "mutation($id: String!, $g: JSON!) { updateSharedChatAccess(chatId: $id, accessGrants: $g) { id title } }";
const UPDATE_PARAMS: &str = "mutation($id: String!, $p: JSON!) { updateChatParams(id: $id, params: $p) }";
const FORK_CHAT: &str =
    "mutation($id: String!, $m: String) { forkChat(id: $id, messageId: $m) { id title pinned } }";
const CHAT_CONFIG: &str =
    "{ chatConfig { enableContextCompaction contextCompactionTokenCap toolSearchDeferThreshold } }";
const UPDATE_CONFIG: &str = "mutation($c: JSON!) { updateChatConfig(config: $c) { enableContextCompaction contextCompactionTokenCap } }";
const USAGE: &str = "query($n: Int) { chatUsageStats(itemsPerPage: $n) { total items { id messageCount } } }";

fn patch(path: String, body: Value) -> Req {
    Req { method: "PATCH", path, body: Some(body) }
}

/// A read grant to the other fixture user.
fn grants(c: &Ctx<'_>) -> Value {
    json!([{"principal_type": "user", "principal_id": c.fx.other.id, "permission": "read"}])
}

fn config_form() -> Value {
    json!({"ENABLE_CONTEXT_COMPACTION": false, "CONTEXT_COMPACTION_PROMPT_TEMPLATE": ""})
}

pub(super) fn rows() -> Vec<Row> {
    let mut t = Vec::new();

    // sharedChatAccess — GET /api/v1/chats/shared/{id}/access
    let access_rest = |c: &Ctx<'_>| get(format!("/api/v1/chats/shared/{}/access", c.fx.chat));
    t.push(row(
        "sharedChatAccess",
        Anonymous,
        Valid,
        access_rest,
        SHARED_CHAT_ACCESS,
        chat_vars,
        anonymous(),
    ));
    t.push(row("sharedChatAccess", Pending, Valid, access_rest, SHARED_CHAT_ACCESS, chat_vars, prohibited()));
    t.push(row(
        "sharedChatAccess",
        User,
        Valid,
        access_rest,
        SHARED_CHAT_ACCESS,
        chat_vars,
        Expect::Ok(vec![Is("", "", json!([]))]),
    ));
    t.push(row(
        "sharedChatAccess",
        Admin,
        Valid,
        access_rest,
        SHARED_CHAT_ACCESS,
        chat_vars,
        Expect::Ok(vec![Count("", "")]),
    ));
    t.push(
        row(
            "sharedChatAccess",
            Other,
            Valid,
            access_rest,
            SHARED_CHAT_ACCESS,
            chat_vars,
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .case("the user's chat"),
    );
    t.push(row(
        "sharedChatAccess",
        User,
        Unknown,
        |_| get(format!("/api/v1/chats/shared/{UNKNOWN}/access")),
        SHARED_CHAT_ACCESS,
        unknown_vars,
        refused(404, "NOT_FOUND", NOT_FOUND),
    ));

    // updateSharedChatAccess — POST /api/v1/chats/shared/{id}/access/update
    let update_rest = |c: &Ctx<'_>| {
        post(format!("/api/v1/chats/shared/{}/access/update", c.fx.chat), json!({"access_grants": grants(c)}))
    };
    let update_vars = |c: &Ctx<'_>| json!({"id": c.fx.chat, "g": grants(c)});
    t.push(row(
        "updateSharedChatAccess",
        Anonymous,
        Valid,
        update_rest,
        UPDATE_ACCESS,
        update_vars,
        anonymous(),
    ));
    t.push(row(
        "updateSharedChatAccess",
        Pending,
        Valid,
        update_rest,
        UPDATE_ACCESS,
        update_vars,
        prohibited(),
    ));
    t.push(
        row(
            "updateSharedChatAccess",
            User,
            Valid,
            |c| {
                post(
                    format!("/api/v1/chats/shared/{}/access/update", c.fresh),
                    json!({"access_grants": grants(c)}),
                )
            },
            UPDATE_ACCESS,
            |c| json!({"id": c.fresh, "g": grants(c)}),
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/title", "/title", json!("Fresh chat"))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row(
            "updateSharedChatAccess",
            User,
            Invalid,
            |c| {
                post(
                    format!("/api/v1/chats/shared/{}/access/update", c.fresh),
                    json!({"access_grants": [{"principal_type": "user", "principal_id": "*", "permission": "read"}]}),
                )
            },
            UPDATE_ACCESS,
            |c| json!({"id": c.fresh, "g": [{"principal_type": "user", "principal_id": "*", "permission": "read"}]}),
            refused(403, "SHARING_NOT_ALLOWED", SHARING_NOT_ALLOWED),
        )
        .with(Setup::Chat)
        .case("every user, without sharing.public_chats"),
    );
    t.push(
        row(
            "updateSharedChatAccess",
            User,
            Invalid,
            |c| {
                post(
                    format!("/api/v1/chats/shared/{}/access/update", c.fx.chat),
                    json!({"access_grants": "x"}),
                )
            },
            UPDATE_ACCESS,
            |c| json!({"id": c.fx.chat, "g": "x"}),
            Expect::Invalid,
        )
        .case("grants not a list"),
    );
    t.push(
        row(
            "updateSharedChatAccess",
            Other,
            Valid,
            update_rest,
            UPDATE_ACCESS,
            update_vars,
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .case("the user's chat"),
    );
    t.push(row(
        "updateSharedChatAccess",
        User,
        Unknown,
        |c| {
            post(format!("/api/v1/chats/shared/{UNKNOWN}/access/update"), json!({"access_grants": grants(c)}))
        },
        UPDATE_ACCESS,
        |c| json!({"id": UNKNOWN, "g": grants(c)}),
        refused(404, "NOT_FOUND", NOT_FOUND),
    ));

    // updateChatParams — PATCH /api/v1/chats/{id}/params
    let params_rest = |c: &Ctx<'_>| patch(format!("/api/v1/chats/{}/params", c.fx.chat), json!({"seed": 1}));
    let params_vars = |c: &Ctx<'_>| json!({"id": c.fx.chat, "p": {"seed": 1}});
    t.push(row("updateChatParams", Anonymous, Valid, params_rest, UPDATE_PARAMS, params_vars, anonymous()));
    t.push(row("updateChatParams", Pending, Valid, params_rest, UPDATE_PARAMS, params_vars, prohibited()));
    t.push(
        row(
            "updateChatParams",
            User,
            Valid,
            |c| patch(format!("/api/v1/chats/{}/params", c.fresh), json!({"seed": 7, "top_k": 3})),
            UPDATE_PARAMS,
            |c| json!({"id": c.fresh, "p": {"seed": 7, "top_k": 3}}),
            Expect::Ok(vec![Is("", "", json!({"seed": 7, "top_k": 3}))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row(
            "updateChatParams",
            User,
            Invalid,
            |c| patch(format!("/api/v1/chats/{}/params", c.fx.chat), json!([1])),
            UPDATE_PARAMS,
            |c| json!({"id": c.fx.chat, "p": [1]}),
            Expect::Invalid,
        )
        .case("params not an object"),
    );
    t.push(
        row("updateChatParams", Other, Valid, params_rest, UPDATE_PARAMS, params_vars, prohibited())
            .case("the user's chat"),
    );
    t.push(row(
        "updateChatParams",
        User,
        Unknown,
        |_| patch(format!("/api/v1/chats/{UNKNOWN}/params"), json!({"seed": 1})),
        UPDATE_PARAMS,
        |_| json!({"id": UNKNOWN, "p": {"seed": 1}}),
        prohibited(),
    ));

    // forkChat — POST /api/v1/chats/{id}/fork
    let fork_rest = |c: &Ctx<'_>| post(format!("/api/v1/chats/{}/fork", c.fx.chat), json!({}));
    t.push(row("forkChat", Anonymous, Valid, fork_rest, FORK_CHAT, chat_vars, anonymous()));
    t.push(row("forkChat", Pending, Valid, fork_rest, FORK_CHAT, chat_vars, prohibited()));
    t.push(
        row(
            "forkChat",
            User,
            Valid,
            |c| post(format!("/api/v1/chats/{}/fork", c.fresh), json!({"message_id": "q"})),
            FORK_CHAT,
            |c| json!({"id": c.fresh, "m": "q"}),
            Expect::Ok(vec![
                Is("/title", "/title", json!("Talk (fork)")),
                Is("/pinned", "/pinned", json!(false)),
            ]),
        )
        .with(Setup::ChatWithMessages),
    );
    t.push(
        row(
            "forkChat",
            User,
            Invalid,
            |c| post(format!("/api/v1/chats/{}/fork", c.fresh), json!({"message_id": "zz"})),
            FORK_CHAT,
            |c| json!({"id": c.fresh, "m": "zz"}),
            refused(404, "MESSAGE_NOT_FOUND", "message not found"),
        )
        .with(Setup::ChatWithMessages)
        .case("no such message"),
    );
    t.push(
        row(
            "forkChat",
            User,
            Valid,
            fork_rest,
            FORK_CHAT,
            chat_vars,
            refused(400, "NOTHING_TO_FORK", "chat has no messages to fork"),
        )
        .case("a chat without messages"),
    );
    t.push(
        row("forkChat", Other, Valid, fork_rest, FORK_CHAT, chat_vars, refused(401, "NOT_FOUND", NOT_FOUND))
            .case("the user's chat"),
    );
    t.push(row(
        "forkChat",
        User,
        Unknown,
        |_| post(format!("/api/v1/chats/{UNKNOWN}/fork"), json!({})),
        FORK_CHAT,
        unknown_vars,
        refused(401, "NOT_FOUND", NOT_FOUND),
    ));

    // chatConfig — GET /api/v1/chats/config
    let config_rest = |_: &Ctx<'_>| get("/api/v1/chats/config");
    t.push(row("chatConfig", Anonymous, Valid, config_rest, CHAT_CONFIG, no_vars, anonymous()));
    t.push(row("chatConfig", User, Valid, config_rest, CHAT_CONFIG, no_vars, prohibited()));
    t.push(row(
        "chatConfig",
        Admin,
        Valid,
        config_rest,
        CHAT_CONFIG,
        no_vars,
        Expect::Ok(vec![
            Same("/ENABLE_CONTEXT_COMPACTION", "/enableContextCompaction"),
            Same("/CONTEXT_COMPACTION_TOKEN_CAP", "/contextCompactionTokenCap"),
            Is("/TOOL_SEARCH_DEFER_THRESHOLD", "/toolSearchDeferThreshold", json!(400)),
        ]),
    ));

    // updateChatConfig — POST /api/v1/chats/config
    let save_rest = |_: &Ctx<'_>| post("/api/v1/chats/config", config_form());
    let save_vars = |_: &Ctx<'_>| json!({"c": config_form()});
    t.push(row("updateChatConfig", Anonymous, Valid, save_rest, UPDATE_CONFIG, save_vars, anonymous()));
    t.push(row("updateChatConfig", User, Valid, save_rest, UPDATE_CONFIG, save_vars, prohibited()));
    t.push(row(
        "updateChatConfig",
        Admin,
        Valid,
        save_rest,
        UPDATE_CONFIG,
        save_vars,
        Expect::Ok(vec![
            Is("/ENABLE_CONTEXT_COMPACTION", "/enableContextCompaction", json!(false)),
            Is("/CONTEXT_COMPACTION_TOKEN_CAP", "/contextCompactionTokenCap", json!(80000)),
        ]),
    ));
    t.push(
        row(
            "updateChatConfig",
            Admin,
            Invalid,
            |_| post("/api/v1/chats/config", json!({"ENABLE_CONTEXT_COMPACTION": "maybe"})),
            UPDATE_CONFIG,
            |_| json!({"c": {"ENABLE_CONTEXT_COMPACTION": "maybe"}}),
            Expect::Invalid,
        )
        .case("not a boolean, prompt missing"),
    );

    // chatUsageStats — GET /api/v1/chats/stats/usage
    let usage_rest = |_: &Ctx<'_>| get("/api/v1/chats/stats/usage?items_per_page=10");
    let usage_vars = |_: &Ctx<'_>| json!({"n": 10});
    t.push(row("chatUsageStats", Anonymous, Valid, usage_rest, USAGE, usage_vars, anonymous()));
    t.push(row("chatUsageStats", Pending, Valid, usage_rest, USAGE, usage_vars, prohibited()));
    t.push(row(
        "chatUsageStats",
        User,
        Valid,
        usage_rest,
        USAGE,
        usage_vars,
        Expect::Ok(vec![Same("/total", "/total"), Count("/items", "/items")]),
    ));
    t.push(
        row(
            "chatUsageStats",
            User,
            Invalid,
            |_| get("/api/v1/chats/stats/usage?page=abc"),
            USAGE,
            |_| json!({"n": 100000}),
            Expect::Invalid,
        )
        .case("a page that is no number / too large"),
    );

    t
}
