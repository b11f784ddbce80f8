-- Folders: a user's tree of chat folders (`parent_id` names the folder above, null at the root),
-- and the chat indexes the folder lists and unread counts read. JSON columns are jsonb.

create table folders (
    id text primary key not null,
    -- No foreign key: a parent that is gone (or a loop of parents) puts the folder back at the
    -- root when the owner's tree is next read, as the reference repairs it.
    parent_id text,
    user_id text not null references users (id) on delete cascade,
    name text not null,
    items jsonb,
    meta jsonb,
    data jsonb,
    is_expanded boolean not null default false,
    created_at bigint not null,
    updated_at bigint not null
);
-- A user's tree, a folder's children (the subtree walks) and the name check under one parent.
create index folders_user_parent on folders (user_id, parent_id, updated_at desc, id);
-- A folder's children whoever owns them, and the folders named by a set of grants.
create index folders_parent on folders (parent_id, user_id);

-- A folder's chats as its owner lists them (`/chats/folder/{id}/list`, `Folder.chats`).
create index chats_user_folder on chats (user_id, folder_id, archived, pinned, updated_at desc, id);
-- A folder's chats whoever owns them (a shared folder's list; emptying a deleted folder).
create index chats_folder on chats (folder_id, archived, pinned, updated_at desc, id);
-- Unread counts per folder, served from the index alone.
create index chats_user_folder_unread on chats (user_id, folder_id, archived, updated_at, last_read_at);
-- The sidebar page outside folders (the default chat list) reads only chats without a folder.
create index chats_user_root on chats (user_id, archived, pinned, updated_at desc, id) where folder_id is null;
