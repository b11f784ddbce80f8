-- User groups and their members. A group's `permissions` merge into its members' permission
-- tree; access grants may name a group (`principal_type` 'group'). A group may sit under a parent
-- (`parent_group_id`): members of a group count as members of every group above it.
-- JSON columns are jsonb.

create table groups (
    id text primary key not null,
    user_id text not null,
    -- Deleting a parent lifts its children one level (the service does it first; `set null`
    -- covers rows deleted behind its back).
    parent_group_id text references groups (id) on delete set null,
    name text not null,
    description text not null default '',
    data jsonb,
    meta jsonb,
    permissions jsonb,
    created_at bigint not null,
    updated_at bigint not null
);
-- Every list of groups (`GET /groups/`, a user's groups) is newest change first.
create index groups_updated on groups (updated_at desc, id);
-- A group's children: the walk down the hierarchy (members of subgroups, deleting a parent).
create index groups_parent on groups (parent_group_id);

-- One row per direct membership; deleting the user or the group deletes it.
create table group_members (
    id text primary key not null,
    group_id text not null references groups (id) on delete cascade,
    user_id text not null references users (id) on delete cascade,
    created_at bigint not null,
    updated_at bigint not null
);
-- A user is a member once; also a group's members (counts, export, the member list).
create unique index group_members_group_user on group_members (group_id, user_id);
-- A user's groups: the permission merge and the group grants of every access check.
create index group_members_user on group_members (user_id, group_id);
