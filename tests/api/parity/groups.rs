//! Parity rows of groups: `groups`, `group`, `User.groups` and the admin's group mutations
//! against `/api/v1/groups/…` and `/api/v1/users/{id}/info`.

use serde_json::json;

use super::Check::*;
use super::Input::{Invalid, Unknown, Valid};
use super::Who::*;
use super::{
    Ctx, Expect, NOT_FOUND, Row, Setup, anonymous, delete, fresh_vars, get, no_vars, null, post, prohibited,
    refused, row, unknown_vars,
};

const GROUP_NOT_FOUND: &str = "Group not found.";

const GROUPS: &str = "{ groups { id name memberCount } }";
const GROUP: &str = "query($id: String!) { group(id: $id) { id name memberCount } }";
const USER_GROUPS: &str = "query($id: String!) { user(id: $id) { groups { id name } } }";
const CREATE_GROUP: &str = "mutation($n: String!, $d: String!) { createGroup(input: {name: $n, description: $d}) { name description memberCount } }";
const CREATE_GROUP_JSON: &str =
    "mutation($p: JSON) { createGroup(input: {name: \"P\", description: \"\", permissions: $p}) { name } }";
const UPDATE_GROUP: &str = "mutation($id: String!) { updateGroup(id: $id, input: {name: \"Renamed\", description: \"d\"}) { id name description } }";
const DELETE_GROUP: &str = "mutation($id: String!) { deleteGroup(id: $id) }";
const ADD_MEMBERS: &str =
    "mutation($id: String!, $u: [String!]!) { addGroupMembers(id: $id, userIds: $u) { id memberCount } }";
const REMOVE_MEMBERS: &str =
    "mutation($id: String!, $u: [String!]!) { removeGroupMembers(id: $id, userIds: $u) { id memberCount } }";

fn members_vars(c: &Ctx<'_>) -> serde_json::Value {
    json!({"id": c.fresh, "u": [c.fx.user.id]})
}

pub(super) fn rows() -> Vec<Row> {
    let mut t = Vec::new();

    // group — GET /api/v1/groups/id/{id}
    let group_rest = |c: &Ctx<'_>| get(format!("/api/v1/groups/id/{}", c.fresh));
    let unknown_rest = |_: &Ctx<'_>| get("/api/v1/groups/id/no-such-id");
    t.push(row("group", Anonymous, Valid, group_rest, GROUP, fresh_vars, anonymous()).with(Setup::Group));
    t.push(row("group", User, Valid, group_rest, GROUP, fresh_vars, prohibited()).with(Setup::Group));
    t.push(
        row(
            "group",
            Admin,
            Valid,
            group_rest,
            GROUP,
            fresh_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/member_count", "/memberCount", json!(1))]),
        )
        .with(Setup::Group),
    );
    t.push(row("group", Admin, Unknown, unknown_rest, GROUP, unknown_vars, null(404, NOT_FOUND)));

    // createGroup — POST /api/v1/groups/create
    let create_rest =
        |_: &Ctx<'_>| post("/api/v1/groups/create", json!({"name": "Made", "description": "here"}));
    let create_vars = |_: &Ctx<'_>| json!({"n": "Made", "d": "here"});
    t.push(row("createGroup", Anonymous, Valid, create_rest, CREATE_GROUP, create_vars, anonymous()));
    t.push(row("createGroup", User, Valid, create_rest, CREATE_GROUP, create_vars, prohibited()));
    t.push(row(
        "createGroup",
        Admin,
        Valid,
        create_rest,
        CREATE_GROUP,
        create_vars,
        Expect::Ok(vec![Is("/name", "/name", json!("Made")), Is("/member_count", "/memberCount", json!(0))]),
    ));
    t.push(
        row(
            "createGroup",
            Admin,
            Invalid,
            |_| post("/api/v1/groups/create", json!({"name": "P", "description": "", "permissions": [1]})),
            CREATE_GROUP_JSON,
            |_| json!({"p": [1]}),
            Expect::Invalid,
        )
        .case("permissions not an object"),
    );

    // updateGroup — POST /api/v1/groups/id/{id}/update
    let update_rest = |c: &Ctx<'_>| {
        post(format!("/api/v1/groups/id/{}/update", c.fresh), json!({"name": "Renamed", "description": "d"}))
    };
    t.push(
        row("updateGroup", User, Valid, update_rest, UPDATE_GROUP, fresh_vars, prohibited())
            .with(Setup::Group),
    );
    t.push(
        row(
            "updateGroup",
            Admin,
            Valid,
            update_rest,
            UPDATE_GROUP,
            fresh_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/name", "/name", json!("Renamed"))]),
        )
        .with(Setup::Group),
    );
    t.push(row(
        "updateGroup",
        Admin,
        Unknown,
        |_| post("/api/v1/groups/id/no-such-id/update", json!({"name": "Renamed", "description": "d"})),
        UPDATE_GROUP,
        unknown_vars,
        refused(404, "NOT_FOUND", GROUP_NOT_FOUND),
    ));

    // addGroupMembers / removeGroupMembers — POST /api/v1/groups/id/{id}/users/{add,remove}
    let add_rest = |c: &Ctx<'_>| {
        post(format!("/api/v1/groups/id/{}/users/add", c.fresh), json!({"user_ids": [c.fx.user.id]}))
    };
    let remove_rest = |c: &Ctx<'_>| {
        post(format!("/api/v1/groups/id/{}/users/remove", c.fresh), json!({"user_ids": [c.fx.user.id]}))
    };
    t.push(
        row("addGroupMembers", User, Valid, add_rest, ADD_MEMBERS, members_vars, prohibited())
            .with(Setup::Group),
    );
    t.push(
        row(
            "addGroupMembers",
            Admin,
            Valid,
            add_rest,
            ADD_MEMBERS,
            members_vars,
            Expect::Ok(vec![Is("/member_count", "/memberCount", json!(1))]),
        )
        .with(Setup::Group),
    );
    t.push(
        row(
            "removeGroupMembers",
            Admin,
            Valid,
            remove_rest,
            REMOVE_MEMBERS,
            members_vars,
            Expect::Ok(vec![Is("/member_count", "/memberCount", json!(0))]),
        )
        .with(Setup::Group),
    );
    t.push(row(
        "removeGroupMembers",
        Admin,
        Unknown,
        |c| post("/api/v1/groups/id/no-such-id/users/remove", json!({"user_ids": [c.fx.user.id]})),
        REMOVE_MEMBERS,
        |c| json!({"id": "no-such-id", "u": [c.fx.user.id]}),
        refused(404, "NOT_FOUND", GROUP_NOT_FOUND),
    ));

    // deleteGroup — DELETE /api/v1/groups/id/{id}/delete
    let delete_rest = |c: &Ctx<'_>| delete(format!("/api/v1/groups/id/{}/delete", c.fresh));
    t.push(
        row("deleteGroup", Anonymous, Valid, delete_rest, DELETE_GROUP, fresh_vars, anonymous())
            .with(Setup::Group),
    );
    t.push(
        row("deleteGroup", User, Valid, delete_rest, DELETE_GROUP, fresh_vars, prohibited())
            .with(Setup::Group),
    );
    t.push(
        row(
            "deleteGroup",
            Admin,
            Valid,
            delete_rest,
            DELETE_GROUP,
            fresh_vars,
            Expect::Ok(vec![Is("", "", json!(true))]),
        )
        .with(Setup::Group),
    );
    t.push(row(
        "deleteGroup",
        Admin,
        Unknown,
        |_| delete("/api/v1/groups/id/no-such-id/delete"),
        DELETE_GROUP,
        unknown_vars,
        refused(404, "NOT_FOUND", GROUP_NOT_FOUND),
    ));
    // The lists last, over the groups the rows above left (the same state for both interfaces).
    // groups — GET /api/v1/groups/
    let groups_rest = |_: &Ctx<'_>| get("/api/v1/groups/");
    t.push(row("groups", Anonymous, Valid, groups_rest, GROUPS, no_vars, anonymous()));
    t.push(row("groups", Pending, Valid, groups_rest, GROUPS, no_vars, prohibited()));
    t.push(row("groups", User, Valid, groups_rest, GROUPS, no_vars, Expect::Ok(vec![Count("", "")])));
    t.push(row("groups", Admin, Valid, groups_rest, GROUPS, no_vars, Expect::Ok(vec![Count("", "")])));

    // User.groups — GET /api/v1/users/{id}/info
    let info_rest = |c: &Ctx<'_>| get(format!("/api/v1/users/{}/info", c.fx.user.id));
    let user_vars = |c: &Ctx<'_>| json!({"id": c.fx.user.id});
    t.push(
        row(
            "user",
            Admin,
            Valid,
            info_rest,
            USER_GROUPS,
            user_vars,
            Expect::Ok(vec![Same("/groups", "/groups")]),
        )
        .case("its groups"),
    );

    t
}
