-- Chats, their share snapshots and tags. JSON columns are jsonb.

create table chats (
    id text primary key not null,
    user_id text not null references users (id) on delete cascade,
    title text not null,
    chat jsonb not null,
    created_at bigint not null,
    updated_at bigint not null,
    share_id text unique,
    archived boolean not null default false,
    pinned boolean not null default false,
    meta jsonb not null default '{}',
    variables jsonb,
    folder_id text,
    current_message_id text,
    last_read_at bigint,
    -- Lower-cased title and message texts, for search.
    search_text text not null default ''
);
-- The sidebar page (not archived, not pinned, newest first) and the pinned list: an index range
-- in the exact order of the answer, so a page of 60 reads 60 index entries however many chats
-- the user has.
create index chats_user_list on chats (user_id, archived, pinned, updated_at desc, id asc);
-- Archived lists and counts.
create index chats_user_archived on chats (user_id, archived, updated_at desc, id asc);
-- Title sort.
create index chats_user_title on chats (user_id, archived, pinned, title, id);

-- A share link's snapshot of a chat; `id` is the share token.
create table shared_chats (
    id text primary key not null,
    chat_id text not null references chats (id) on delete cascade,
    user_id text not null,
    title text not null,
    chat jsonb not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index shared_chats_chat on shared_chats (chat_id);
create index shared_chats_user on shared_chats (user_id, updated_at desc, id);

-- A user's tags: `id` is the normalised name (spaces → `_`, lower-case).
create table tags (
    id text not null,
    user_id text not null references users (id) on delete cascade,
    name text not null,
    meta jsonb,
    primary key (id, user_id)
);

-- Which chat carries which tag (mirrors the chat's `meta.tags`), for tag filters without a scan.
create table chat_tags (
    chat_id text not null references chats (id) on delete cascade,
    user_id text not null,
    tag_id text not null,
    primary key (chat_id, tag_id)
);
create index chat_tags_user_tag on chat_tags (user_id, tag_id, chat_id);
