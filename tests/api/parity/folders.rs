//! Parity rows of folders: `folders`, `folder` (and `Folder.chats`), the folder mutations, and the
//! chats side (`moveChat`, `markChatsRead`, `markChatUnread`) against `/api/v1/folders/…` and
//! `/api/v1/chats/…`.

use serde_json::json;

use super::Check::*;
use super::Input::{Invalid, Unknown, Valid};
use super::Who::*;
use super::{
    ACCESS_PROHIBITED, Ctx, DEFAULT, Expect, NOT_FOUND, Row, Setup, anonymous, delete, fresh_vars, get,
    no_vars, null, post, post_empty, prohibited, refused, row, unknown_vars,
};

/// The name of the fixture user's folder (`Fx::folder`).
pub(super) const FOLDER_NAME: &str = "Uma's folder";
const EXISTS: &str = "[ERROR: Folder already exists]";
const CYCLE: &str = "[ERROR: Cannot move a folder into itself or one of its subfolders]";
const SHARING: &str = "You do not have permission to share with the requested audience";

const FOLDERS: &str = "{ folders { id name unreadCount } }";
const FOLDER: &str = "query($id: String!) { folder(id: $id) { id name writeAccess accessGrants } }";
const FOLDER_CHATS: &str =
    "query($id: String!) { folder(id: $id) { chats(first: 10) { totalCount edges { node { title } } } } }";
const CREATE: &str = "mutation($n: String!, $m: JSON) { createFolder(name: $n, meta: $m) { id name meta } }";
const UPDATE: &str =
    "mutation($id: String!, $n: String, $m: JSON) { updateFolder(id: $id, name: $n, meta: $m) { id name } }";
const MOVE: &str = "mutation($id: String!, $p: String) { moveFolder(id: $id, parentId: $p) { id parentId } }";
const EXPAND: &str = "mutation($id: String!) { expandFolder(id: $id, isExpanded: true) { id isExpanded } }";
const ACCESS: &str =
    "mutation($id: String!, $g: JSON!) { updateFolderAccess(id: $id, accessGrants: $g) { id accessGrants } }";
const DELETE: &str = "mutation($id: String!) { deleteFolder(id: $id) }";
const READ: &str = "mutation($id: String!) { markFolderRead(id: $id) { folderId updatedCount } }";
const MOVE_CHAT: &str =
    "mutation($id: String!, $f: String) { moveChat(id: $id, folderId: $f) { id folderId } }";
const CHATS_READ: &str = "mutation { markChatsRead { updatedCount } }";
const CHAT_UNREAD: &str = "mutation($id: String!) { markChatUnread(id: $id) { chatId lastReadAt } }";

pub(super) fn rows() -> Vec<Row> {
    let mut t = Vec::new();

    // folders — GET /api/v1/folders/
    let list_rest = |_: &Ctx<'_>| get("/api/v1/folders/");
    t.push(row("folders", Anonymous, Valid, list_rest, FOLDERS, no_vars, anonymous()));
    t.push(row("folders", Pending, Valid, list_rest, FOLDERS, no_vars, prohibited()));
    t.push(row(
        "folders",
        User,
        Valid,
        list_rest,
        FOLDERS,
        no_vars,
        Expect::Ok(vec![Count("", ""), Same("/0/id", "/0/id"), Same("/0/unread_count", "/0/unreadCount")]),
    ));
    t.push(row("folders", Other, Valid, list_rest, FOLDERS, no_vars, Expect::Ok(vec![Count("", "")])));

    // folder(id:) — GET /api/v1/folders/{id}
    let one_rest = |c: &Ctx<'_>| get(format!("/api/v1/folders/{}", c.fresh));
    t.push(row("folder", Anonymous, Valid, one_rest, FOLDER, fresh_vars, anonymous()).with(Setup::Folder));
    t.push(row("folder", Pending, Valid, one_rest, FOLDER, fresh_vars, prohibited()).with(Setup::Folder));
    t.push(
        row(
            "folder",
            User,
            Valid,
            one_rest,
            FOLDER,
            fresh_vars,
            Expect::Ok(vec![
                Fresh("/id", "/id"),
                Prefix("/name", "/name", "Fresh folder "),
                Is("/write_access", "/writeAccess", json!(true)),
                Is("/access_grants", "/accessGrants", json!([])),
            ]),
        )
        .with(Setup::Folder),
    );
    t.push(
        row("folder", Other, Valid, one_rest, FOLDER, fresh_vars, null(404, NOT_FOUND))
            .with(Setup::Folder)
            .case("the user's folder"),
    );
    t.push(row(
        "folder",
        User,
        Unknown,
        |_| get("/api/v1/folders/no-such-id"),
        FOLDER,
        unknown_vars,
        null(404, NOT_FOUND),
    ));
    // Folder.chats — GET /api/v1/chats/folder/{id}/list (the fresh folder holds one chat)
    t.push(
        row(
            "folder",
            User,
            Valid,
            |c| get(format!("/api/v1/chats/folder/{}/list", c.fresh)),
            FOLDER_CHATS,
            fresh_vars,
            Expect::Ok(vec![Count("", "/chats/totalCount"), Same("/0/title", "/chats/edges/0/node/title")]),
        )
        .with(Setup::Folder)
        .case("its chats"),
    );

    // createFolder — POST /api/v1/folders/
    let create_rest = |c: &Ctx<'_>| {
        post("/api/v1/folders/", json!({"name": format!("Made {}", c.side.tag()), "meta": {"icon": "m"}}))
    };
    let create_vars = |c: &Ctx<'_>| json!({"n": format!("Made {}", c.side.tag()), "m": {"icon": "m"}});
    t.push(row("createFolder", Anonymous, Valid, create_rest, CREATE, create_vars, anonymous()));
    t.push(row("createFolder", Pending, Valid, create_rest, CREATE, create_vars, prohibited()));
    t.push(row(
        "createFolder",
        User,
        Valid,
        create_rest,
        CREATE,
        create_vars,
        Expect::Ok(vec![Set("/id", "/id"), Is("/meta", "/meta", json!({"icon": "m"}))]),
    ));
    t.push(
        row(
            "createFolder",
            User,
            Invalid,
            |_| post("/api/v1/folders/", json!({"name": FOLDER_NAME.to_uppercase()})),
            CREATE,
            |_| json!({"n": FOLDER_NAME.to_uppercase()}),
            refused(400, "FOLDER_EXISTS", EXISTS),
        )
        .case("name taken"),
    );
    t.push(
        row(
            "createFolder",
            User,
            Invalid,
            |_| post("/api/v1/folders/", json!({"name": "M", "meta": [1]})),
            CREATE,
            |_| json!({"n": "M", "m": [1]}),
            Expect::Invalid,
        )
        .case("meta not an object"),
    );

    // updateFolder — POST /api/v1/folders/{id}/update
    let rename_rest = |c: &Ctx<'_>| {
        post(
            format!("/api/v1/folders/{}/update", c.fresh),
            json!({"name": format!("Renamed {}", c.side.tag())}),
        )
    };
    let rename_vars = |c: &Ctx<'_>| json!({"id": c.fresh, "n": format!("Renamed {}", c.side.tag())});
    t.push(
        row("updateFolder", Anonymous, Valid, rename_rest, UPDATE, rename_vars, anonymous())
            .with(Setup::Folder),
    );
    t.push(
        row(
            "updateFolder",
            User,
            Valid,
            rename_rest,
            UPDATE,
            rename_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Prefix("/name", "/name", "Renamed ")]),
        )
        .with(Setup::Folder),
    );
    t.push(
        row(
            "updateFolder",
            Other,
            Valid,
            rename_rest,
            UPDATE,
            rename_vars,
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .with(Setup::Folder)
        .case("the user's folder"),
    );
    t.push(
        row(
            "updateFolder",
            User,
            Invalid,
            |c| post(format!("/api/v1/folders/{}/update", c.fresh), json!({"name": FOLDER_NAME})),
            UPDATE,
            |c| json!({"id": c.fresh, "n": FOLDER_NAME}),
            refused(400, "FOLDER_EXISTS", EXISTS),
        )
        .with(Setup::Folder)
        .case("name taken"),
    );
    t.push(
        row(
            "updateFolder",
            User,
            Invalid,
            |c| post(format!("/api/v1/folders/{}/update", c.fresh), json!({"meta": "x"})),
            UPDATE,
            |c| json!({"id": c.fresh, "m": "x"}),
            Expect::Invalid,
        )
        .with(Setup::Folder)
        .case("meta not an object"),
    );

    // moveFolder — POST /api/v1/folders/{id}/update/parent
    let move_rest = |c: &Ctx<'_>| {
        post(format!("/api/v1/folders/{}/update/parent", c.fresh), json!({"parent_id": c.fx.folder}))
    };
    let move_vars = |c: &Ctx<'_>| json!({"id": c.fresh, "p": c.fx.folder});
    t.push(row("moveFolder", Anonymous, Valid, move_rest, MOVE, move_vars, anonymous()).with(Setup::Folder));
    t.push(
        row(
            "moveFolder",
            User,
            Valid,
            move_rest,
            MOVE,
            move_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Fixture("/parent_id", "/parentId", |f| json!(f.folder))]),
        )
        .with(Setup::Folder),
    );
    t.push(
        row(
            "moveFolder",
            User,
            Invalid,
            |c| post(format!("/api/v1/folders/{}/update/parent", c.fresh), json!({"parent_id": c.fresh})),
            MOVE,
            |c| json!({"id": c.fresh, "p": c.fresh}),
            refused(400, "FOLDER_CYCLE", CYCLE),
        )
        .with(Setup::Folder)
        .case("into itself"),
    );
    t.push(
        row("moveFolder", Other, Valid, move_rest, MOVE, move_vars, refused(404, "NOT_FOUND", NOT_FOUND))
            .with(Setup::Folder)
            .case("the user's folder"),
    );

    // expandFolder — POST /api/v1/folders/{id}/update/expanded
    let expand_rest = |c: &Ctx<'_>| {
        post(format!("/api/v1/folders/{}/update/expanded", c.fresh), json!({"is_expanded": true}))
    };
    t.push(
        row("expandFolder", Pending, Valid, expand_rest, EXPAND, fresh_vars, prohibited())
            .with(Setup::Folder),
    );
    t.push(
        row(
            "expandFolder",
            User,
            Valid,
            expand_rest,
            EXPAND,
            fresh_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/is_expanded", "/isExpanded", json!(true))]),
        )
        .with(Setup::Folder),
    );
    t.push(
        row(
            "expandFolder",
            Other,
            Valid,
            expand_rest,
            EXPAND,
            fresh_vars,
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .with(Setup::Folder)
        .case("the user's folder"),
    );

    // updateFolderAccess — POST /api/v1/folders/{id}/access/update
    let access_rest = |c: &Ctx<'_>| {
        post(format!("/api/v1/folders/{}/access/update", c.fresh), json!({"access_grants": []}))
    };
    let access_vars = |c: &Ctx<'_>| json!({"id": c.fresh, "g": []});
    t.push(
        row(
            "updateFolderAccess",
            User,
            Valid,
            access_rest,
            ACCESS,
            access_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/access_grants", "/accessGrants", json!([]))]),
        )
        .with(Setup::Folder),
    );
    t.push(
        row(
            "updateFolderAccess",
            User,
            Invalid,
            |c| {
                post(
                    format!("/api/v1/folders/{}/access/update", c.fresh),
                    json!({"access_grants": [{"principal_type": "user", "principal_id": c.fx.other.id, "permission": "read"}]}),
                )
            },
            ACCESS,
            |c| json!({"id": c.fresh, "g": [{"principal_type": "user", "principal_id": c.fx.other.id, "permission": "read"}]}),
            refused(403, "SHARING_NOT_ALLOWED", SHARING),
        )
        .with(Setup::Folder)
        .case("without sharing.folders"),
    );
    t.push(
        row(
            "updateFolderAccess",
            Other,
            Valid,
            access_rest,
            ACCESS,
            access_vars,
            refused(403, "ACCESS_PROHIBITED", ACCESS_PROHIBITED),
        )
        .with(Setup::Folder)
        .case("the user's folder"),
    );

    // deleteFolder — DELETE /api/v1/folders/{id}
    let delete_rest = |c: &Ctx<'_>| delete(format!("/api/v1/folders/{}", c.fresh));
    t.push(
        row("deleteFolder", Anonymous, Valid, delete_rest, DELETE, fresh_vars, anonymous())
            .with(Setup::Folder),
    );
    t.push(
        row(
            "deleteFolder",
            User,
            Valid,
            delete_rest,
            DELETE,
            fresh_vars,
            Expect::Ok(vec![Is("", "", json!(true))]),
        )
        .with(Setup::Folder),
    );
    t.push(
        row(
            "deleteFolder",
            Other,
            Valid,
            delete_rest,
            DELETE,
            fresh_vars,
            refused(403, "ACCESS_PROHIBITED", ACCESS_PROHIBITED),
        )
        .with(Setup::Folder)
        .case("the user's folder"),
    );
    t.push(row(
        "deleteFolder",
        User,
        Unknown,
        |_| delete("/api/v1/folders/no-such-id"),
        DELETE,
        unknown_vars,
        refused(404, "NOT_FOUND", NOT_FOUND),
    ));

    // markFolderRead — POST /api/v1/folders/{id}/read
    let read_rest = |c: &Ctx<'_>| post_empty(format!("/api/v1/folders/{}/read", c.fresh));
    t.push(
        row(
            "markFolderRead",
            User,
            Valid,
            read_rest,
            READ,
            fresh_vars,
            Expect::Ok(vec![
                Fresh("/folder_id", "/folderId"),
                Is("/updated_count", "/updatedCount", json!(1)),
            ]),
        )
        .with(Setup::Folder),
    );
    t.push(
        row(
            "markFolderRead",
            Other,
            Valid,
            read_rest,
            READ,
            fresh_vars,
            refused(403, "ACCESS_PROHIBITED", ACCESS_PROHIBITED),
        )
        .with(Setup::Folder)
        .case("the user's folder"),
    );

    // moveChat — POST /api/v1/chats/{id}/folder
    let into_rest =
        |c: &Ctx<'_>| post(format!("/api/v1/chats/{}/folder", c.fresh), json!({"folder_id": c.fx.folder}));
    let into_vars = |c: &Ctx<'_>| json!({"id": c.fresh, "f": c.fx.folder});
    t.push(row("moveChat", Anonymous, Valid, into_rest, MOVE_CHAT, into_vars, anonymous()).with(Setup::Chat));
    t.push(
        row(
            "moveChat",
            User,
            Valid,
            into_rest,
            MOVE_CHAT,
            into_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Fixture("/folder_id", "/folderId", |f| json!(f.folder))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row(
            "moveChat",
            User,
            Unknown,
            |c| post(format!("/api/v1/chats/{}/folder", c.fresh), json!({"folder_id": "no-such-id"})),
            MOVE_CHAT,
            |c| json!({"id": c.fresh, "f": "no-such-id"}),
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .with(Setup::Chat)
        .case("unknown folder"),
    );
    t.push(
        row("moveChat", Other, Valid, into_rest, MOVE_CHAT, into_vars, refused(401, "DEFAULT", DEFAULT))
            .with(Setup::Chat)
            .case("the user's chat"),
    );

    // markChatsRead — POST /api/v1/chats/read
    let all_read_rest = |_: &Ctx<'_>| post_empty("/api/v1/chats/read");
    t.push(row("markChatsRead", Pending, Valid, all_read_rest, CHATS_READ, no_vars, prohibited()));
    t.push(row(
        "markChatsRead",
        User,
        Valid,
        all_read_rest,
        CHATS_READ,
        no_vars,
        Expect::Ok(vec![Same("/updated_count", "/updatedCount")]),
    ));

    // markChatUnread — POST /api/v1/chats/{id}/unread
    let unread_rest = |c: &Ctx<'_>| post_empty(format!("/api/v1/chats/{}/unread", c.fresh));
    t.push(
        row(
            "markChatUnread",
            User,
            Valid,
            unread_rest,
            CHAT_UNREAD,
            fresh_vars,
            Expect::Ok(vec![Fresh("/chat_id", "/chatId"), Is("/last_read_at", "/lastReadAt", json!(0))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row(
            "markChatUnread",
            Other,
            Valid,
            unread_rest,
            CHAT_UNREAD,
            fresh_vars,
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .with(Setup::Chat)
        .case("the user's chat"),
    );
    t.push(row(
        "markChatUnread",
        User,
        Unknown,
        |_| post_empty("/api/v1/chats/no-such-id/unread"),
        CHAT_UNREAD,
        unknown_vars,
        refused(404, "NOT_FOUND", NOT_FOUND),
    ));
    t
}
