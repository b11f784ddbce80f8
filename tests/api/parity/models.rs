//! Parity rows of a model's version history: `model { history }`, `modelVersion`,
//! `restoreModelVersion`, `deleteModelVersion` against `/api/v1/models/model/history…` and
//! `/model/update/version`. No provider is configured, so restoring a preset's version is the
//! reference's "base model unavailable"; a successful restore uses a model without a base.

use serde_json::json;

use super::Check::{Count, Fixture, Fresh, Is, Same};
use super::Input::{Invalid, Unknown, Valid};
use super::Who::{Admin, Anonymous, Other, Pending, User};
use super::{
    ACCESS_PROHIBITED, Ctx, Expect, NOT_FOUND, Req, Row, Setup, UNKNOWN, anonymous, delete, get, null, post,
    prohibited, refused, row,
};

const VERSION_NOT_FOUND: &str = "Model version not found";
const CURRENT_VERSION: &str = "Cannot delete the current version";
const BASE_UNAVAILABLE: &str = "The base model is unavailable.";

const HISTORY: &str = "query($id: String!) { model(id: $id) { history { id modelId userId authorName commitMessage createdAt } } }";
const MODEL_VERSION: &str =
    "query($id: String!, $v: String!) { modelVersion(id: $id, versionId: $v) { id modelId snapshot } }";
const RESTORE: &str = "mutation($id: String!, $v: String!) { restoreModelVersion(id: $id, versionId: $v) { id name versionId } }";
const DELETE_VERSION: &str =
    "mutation($id: String!, $v: String!) { deleteModelVersion(id: $id, versionId: $v) }";

fn history_of(id: &str) -> Req {
    get(format!("/api/v1/models/model/history?id={id}"))
}

fn entry(id: &str, version: &str) -> Req {
    get(format!("/api/v1/models/model/history/{version}?id={id}"))
}

fn restore(id: &str, version: &str) -> Req {
    post(format!("/api/v1/models/model/update/version?id={id}"), json!({"version_id": version}))
}

fn drop_version(id: &str, version: &str) -> Req {
    delete(format!("/api/v1/models/model/history/{version}?id={id}"))
}

/// The fixture model and its (only, live) version.
fn fixture_version(c: &Ctx<'_>) -> serde_json::Value {
    json!({"id": c.fx.model, "v": c.fx.model_version})
}

/// The row's fresh model and its first (not live) version.
fn fresh_version(c: &Ctx<'_>) -> serde_json::Value {
    json!({"id": c.fresh, "v": c.version})
}

fn forbidden() -> Expect {
    refused(403, "ACCESS_PROHIBITED", ACCESS_PROHIBITED)
}

pub(super) fn rows() -> Vec<Row> {
    let mut t = Vec::new();

    // model { history } — GET /api/v1/models/model/history?id=
    let fixture_history = |c: &Ctx<'_>| history_of(&c.fx.model);
    let model_vars = |c: &Ctx<'_>| json!({"id": c.fx.model});
    t.push(row("model", Anonymous, Valid, fixture_history, HISTORY, model_vars, anonymous()).case("history"));
    t.push(
        row(
            "model",
            Admin,
            Valid,
            fixture_history,
            HISTORY,
            model_vars,
            Expect::Ok(vec![
                Count("", "/history"),
                Fixture("/0/id", "/history/0/id", |f| json!(f.model_version)),
                Same("/0/user_id", "/history/0/userId"),
                Same("/0/created_at", "/history/0/createdAt"),
                Is("/0/model_id", "/history/0/modelId", json!("parity-model")),
                Is("/0/user/name", "/history/0/authorName", json!("Admin")),
            ]),
        )
        .case("history"),
    );
    // A reader may see the model but not its history; others do not see the model at all.
    t.push(
        row("model", User, Valid, fixture_history, HISTORY, model_vars, forbidden())
            .case("history, read grant"),
    );
    t.push(
        row("model", Other, Valid, fixture_history, HISTORY, model_vars, null(403, ACCESS_PROHIBITED))
            .case("history, no grant"),
    );
    t.push(
        row(
            "model",
            Admin,
            Unknown,
            |_| history_of(UNKNOWN),
            HISTORY,
            |_| json!({"id": UNKNOWN}),
            null(404, NOT_FOUND),
        )
        .case("history"),
    );

    // modelVersion — GET /api/v1/models/model/history/{version}?id=
    let fixture_entry = |c: &Ctx<'_>| entry(&c.fx.model, &c.fx.model_version);
    t.push(row("modelVersion", Anonymous, Valid, fixture_entry, MODEL_VERSION, fixture_version, anonymous()));
    t.push(row("modelVersion", Pending, Valid, fixture_entry, MODEL_VERSION, fixture_version, prohibited()));
    t.push(row(
        "modelVersion",
        Admin,
        Valid,
        fixture_entry,
        MODEL_VERSION,
        fixture_version,
        Expect::Ok(vec![
            Fixture("/id", "/id", |f| json!(f.model_version)),
            Is("/model_id", "/modelId", json!("parity-model")),
            Same("/snapshot", "/snapshot"),
            Is("/snapshot/name", "/snapshot/name", json!(super::MODEL_NAME)),
        ]),
    ));
    t.push(row("modelVersion", User, Valid, fixture_entry, MODEL_VERSION, fixture_version, forbidden()));
    t.push(
        row(
            "modelVersion",
            Admin,
            Unknown,
            |c| entry(&c.fx.model, UNKNOWN),
            MODEL_VERSION,
            |c| json!({"id": c.fx.model, "v": UNKNOWN}),
            refused(404, "MODEL_VERSION_NOT_FOUND", VERSION_NOT_FOUND),
        )
        .case("unknown version"),
    );
    t.push(
        row(
            "modelVersion",
            Admin,
            Unknown,
            |c| entry(UNKNOWN, &c.fx.model_version),
            MODEL_VERSION,
            |c| json!({"id": UNKNOWN, "v": c.fx.model_version}),
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .case("unknown model"),
    );

    // restoreModelVersion — POST /api/v1/models/model/update/version?id=
    let fixture_restore = |c: &Ctx<'_>| restore(&c.fx.model, &c.fx.model_version);
    t.push(row(
        "restoreModelVersion",
        Anonymous,
        Valid,
        fixture_restore,
        RESTORE,
        fixture_version,
        anonymous(),
    ));
    t.push(row(
        "restoreModelVersion",
        Pending,
        Valid,
        fixture_restore,
        RESTORE,
        fixture_version,
        prohibited(),
    ));
    t.push(row("restoreModelVersion", User, Valid, fixture_restore, RESTORE, fixture_version, forbidden()));
    t.push(
        row(
            "restoreModelVersion",
            Admin,
            Valid,
            |c| restore(&c.fresh, &c.version),
            RESTORE,
            fresh_version,
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/name", "/name", json!("V1"))]),
        )
        .with(Setup::VersionedModel),
    );
    t.push(
        row(
            "restoreModelVersion",
            Admin,
            Invalid,
            fixture_restore,
            RESTORE,
            fixture_version,
            refused(400, "VERSION_DEPENDENCY_UNAVAILABLE", BASE_UNAVAILABLE),
        )
        .case("base model not listed"),
    );
    t.push(
        row(
            "restoreModelVersion",
            Admin,
            Unknown,
            |c| restore(&c.fx.model, UNKNOWN),
            RESTORE,
            |c| json!({"id": c.fx.model, "v": UNKNOWN}),
            refused(404, "MODEL_VERSION_NOT_FOUND", VERSION_NOT_FOUND),
        )
        .case("unknown version"),
    );
    t.push(
        row(
            "restoreModelVersion",
            Admin,
            Unknown,
            |c| restore(UNKNOWN, &c.fx.model_version),
            RESTORE,
            |c| json!({"id": UNKNOWN, "v": c.fx.model_version}),
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .case("unknown model"),
    );

    // deleteModelVersion — DELETE /api/v1/models/model/history/{version}?id=
    let fresh_delete = |c: &Ctx<'_>| drop_version(&c.fresh, &c.version);
    // Refused before anything is read, so the fixture's live version is safe to name.
    let fixture_delete = |c: &Ctx<'_>| drop_version(&c.fx.model, &c.fx.model_version);
    t.push(row(
        "deleteModelVersion",
        Anonymous,
        Valid,
        fixture_delete,
        DELETE_VERSION,
        fixture_version,
        anonymous(),
    ));
    t.push(row(
        "deleteModelVersion",
        Pending,
        Valid,
        fixture_delete,
        DELETE_VERSION,
        fixture_version,
        prohibited(),
    ));
    t.push(
        row("deleteModelVersion", User, Valid, fresh_delete, DELETE_VERSION, fresh_version, forbidden())
            .with(Setup::VersionedModel),
    );
    t.push(
        row(
            "deleteModelVersion",
            Admin,
            Valid,
            fresh_delete,
            DELETE_VERSION,
            fresh_version,
            Expect::Ok(vec![Is("", "", json!(true))]),
        )
        .with(Setup::VersionedModel),
    );
    t.push(
        row(
            "deleteModelVersion",
            Admin,
            Invalid,
            fixture_delete,
            DELETE_VERSION,
            fixture_version,
            refused(400, "CURRENT_MODEL_VERSION", CURRENT_VERSION),
        )
        .case("the live version"),
    );
    t.push(
        row(
            "deleteModelVersion",
            Admin,
            Unknown,
            |c| drop_version(&c.fx.model, UNKNOWN),
            DELETE_VERSION,
            |c| json!({"id": c.fx.model, "v": UNKNOWN}),
            refused(404, "MODEL_VERSION_NOT_FOUND", VERSION_NOT_FOUND),
        )
        .case("unknown version"),
    );

    t
}
