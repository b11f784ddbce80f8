//! Parity rows of the provider connections: `openaiConfig`, `ollamaConfig` and their `update…`
//! mutations against `/openai/config(/update)` and `/ollama/config(/update)`. The updates write
//! the same values on both interfaces and leave both providers switched off (as the parity
//! server starts), so later rows meet the same state.

use serde_json::{Value, json};

use super::Check::*;
use super::Input::{Invalid, Valid};
use super::Who::*;
use super::{Ctx, Expect, Row, anonymous, get, no_vars, post, prohibited, row};

const OPENAI_CONFIG: &str =
    "{ openaiConfig { enableOpenaiApi openaiApiBaseUrls openaiApiKeys openaiApiConfigs } }";
const OLLAMA_CONFIG: &str = "{ ollamaConfig { enableOllamaApi ollamaBaseUrls ollamaApiConfigs } }";
const UPDATE_OPENAI: &str = "mutation($i: OpenaiConfigInput!) { updateOpenaiConfig(input: $i) { enableOpenaiApi openaiApiBaseUrls openaiApiKeys openaiApiConfigs } }";
const UPDATE_OLLAMA: &str = "mutation($i: OllamaConfigInput!) { updateOllamaConfig(input: $i) { enableOllamaApi ollamaBaseUrls ollamaApiConfigs } }";

/// Nothing listens there; both kinds stay off anyway.
const OPENAI_URL: &str = "http://127.0.0.1:9/v1";
const OLLAMA_URL: &str = "http://127.0.0.1:9";

fn openai_body(configs: Value) -> Value {
    json!({"ENABLE_OPENAI_API": false, "OPENAI_API_BASE_URLS": [OPENAI_URL],
           "OPENAI_API_KEYS": ["sk-parity", "sk-extra"], "OPENAI_API_CONFIGS": configs})
}

fn openai_vars(configs: Value) -> Value {
    json!({"i": {"enableOpenaiApi": false, "openaiApiBaseUrls": [OPENAI_URL],
                 "openaiApiKeys": ["sk-parity", "sk-extra"], "openaiApiConfigs": configs}})
}

fn ollama_body(configs: Value) -> Value {
    json!({"ENABLE_OLLAMA_API": false, "OLLAMA_BASE_URLS": [OLLAMA_URL], "OLLAMA_API_CONFIGS": configs})
}

fn ollama_vars(configs: Value) -> Value {
    json!({"i": {"enableOllamaApi": false, "ollamaBaseUrls": [OLLAMA_URL], "ollamaApiConfigs": configs}})
}

fn configs() -> Value {
    json!({"0": {"prefix_id": "p"}, "4": {"prefix_id": "gone"}})
}

pub(super) fn rows() -> Vec<Row> {
    let mut t = Vec::new();

    // updateOpenaiConfig — POST /openai/config/update
    let update_rest = |_: &Ctx<'_>| post("/openai/config/update", openai_body(configs()));
    let update_vars = |_: &Ctx<'_>| openai_vars(configs());
    t.push(row("updateOpenaiConfig", Anonymous, Valid, update_rest, UPDATE_OPENAI, update_vars, anonymous()));
    t.push(row("updateOpenaiConfig", User, Valid, update_rest, UPDATE_OPENAI, update_vars, prohibited()));
    t.push(row(
        "updateOpenaiConfig",
        Admin,
        Valid,
        update_rest,
        UPDATE_OPENAI,
        update_vars,
        Expect::Ok(vec![
            Is("/ENABLE_OPENAI_API", "/enableOpenaiApi", json!(false)),
            Is("/OPENAI_API_BASE_URLS", "/openaiApiBaseUrls", json!([OPENAI_URL])),
            Is("/OPENAI_API_KEYS", "/openaiApiKeys", json!(["sk-parity"])),
            Is("/OPENAI_API_CONFIGS", "/openaiApiConfigs", json!({"0": {"prefix_id": "p"}})),
        ]),
    ));
    t.push(
        row(
            "updateOpenaiConfig",
            Admin,
            Invalid,
            |_| post("/openai/config/update", openai_body(json!([1]))),
            UPDATE_OPENAI,
            |_| openai_vars(json!([1])),
            Expect::Invalid,
        )
        .case("configs not an object"),
    );

    // openaiConfig — GET /openai/config (after the update above)
    let config_rest = |_: &Ctx<'_>| get("/openai/config");
    t.push(row("openaiConfig", Anonymous, Valid, config_rest, OPENAI_CONFIG, no_vars, anonymous()));
    t.push(row("openaiConfig", Pending, Valid, config_rest, OPENAI_CONFIG, no_vars, prohibited()));
    t.push(row("openaiConfig", User, Valid, config_rest, OPENAI_CONFIG, no_vars, prohibited()));
    t.push(row(
        "openaiConfig",
        Admin,
        Valid,
        config_rest,
        OPENAI_CONFIG,
        no_vars,
        Expect::Ok(vec![
            Is("/ENABLE_OPENAI_API", "/enableOpenaiApi", json!(false)),
            Is("/OPENAI_API_KEYS", "/openaiApiKeys", json!(["sk-parity"])),
            Is("/OPENAI_API_CONFIGS", "/openaiApiConfigs", json!({"0": {"prefix_id": "p"}})),
        ]),
    ));

    // updateOllamaConfig — POST /ollama/config/update
    let update_rest = |_: &Ctx<'_>| post("/ollama/config/update", ollama_body(configs()));
    let update_vars = |_: &Ctx<'_>| ollama_vars(configs());
    t.push(row("updateOllamaConfig", Anonymous, Valid, update_rest, UPDATE_OLLAMA, update_vars, anonymous()));
    t.push(row("updateOllamaConfig", User, Valid, update_rest, UPDATE_OLLAMA, update_vars, prohibited()));
    t.push(row(
        "updateOllamaConfig",
        Admin,
        Valid,
        update_rest,
        UPDATE_OLLAMA,
        update_vars,
        Expect::Ok(vec![
            Is("/ENABLE_OLLAMA_API", "/enableOllamaApi", json!(false)),
            Is("/OLLAMA_BASE_URLS", "/ollamaBaseUrls", json!([OLLAMA_URL])),
            Is("/OLLAMA_API_CONFIGS", "/ollamaApiConfigs", json!({"0": {"prefix_id": "p"}})),
        ]),
    ));
    t.push(
        row(
            "updateOllamaConfig",
            Admin,
            Invalid,
            |_| post("/ollama/config/update", ollama_body(json!("x"))),
            UPDATE_OLLAMA,
            |_| ollama_vars(json!("x")),
            Expect::Invalid,
        )
        .case("configs not an object"),
    );

    // ollamaConfig — GET /ollama/config (after the update above)
    let config_rest = |_: &Ctx<'_>| get("/ollama/config");
    t.push(row("ollamaConfig", Anonymous, Valid, config_rest, OLLAMA_CONFIG, no_vars, anonymous()));
    t.push(row("ollamaConfig", User, Valid, config_rest, OLLAMA_CONFIG, no_vars, prohibited()));
    t.push(row(
        "ollamaConfig",
        Admin,
        Valid,
        config_rest,
        OLLAMA_CONFIG,
        no_vars,
        Expect::Ok(vec![
            Is("/ENABLE_OLLAMA_API", "/enableOllamaApi", json!(false)),
            Is("/OLLAMA_BASE_URLS", "/ollamaBaseUrls", json!([OLLAMA_URL])),
        ]),
    ));

    t
}
