-- Accounts: users, their credentials, API keys, revoked tokens, and the persisted admin config.
-- Times are epoch seconds; JSON columns are jsonb.

create table users (
    id text primary key not null,
    email text not null,
    username text,
    role text not null default 'pending',
    name text not null,
    profile_image_url text not null default '/user.png',
    profile_banner_image_url text,
    bio text,
    gender text,
    date_of_birth text,
    timezone text,
    presence_state text,
    status_emoji text,
    status_message text,
    status_expires_at bigint,
    info jsonb,
    settings jsonb,
    oauth jsonb,
    scim jsonb,
    last_active_at bigint not null,
    updated_at bigint not null,
    created_at bigint not null
);
-- Emails are stored lower-cased; one account per email.
create unique index users_email on users (email);
-- Default listing order and the primary-admin lookup.
create index users_created_at on users (created_at, id);
create index users_name on users (name);
create index users_last_active_at on users (last_active_at);
create index users_updated_at on users (updated_at);
create index users_role on users (role);

-- One credential row per user; `session_stamp` changes to end every session of the user.
create table auths (
    id text primary key not null references users (id) on delete cascade,
    email text not null,
    password text not null,
    active boolean not null default true,
    session_stamp text not null
);

-- One API key per user (`sk-` + 32 hex), usable wherever a bearer token is.
create table api_keys (
    id text primary key not null,
    user_id text not null unique references users (id) on delete cascade,
    key text not null unique,
    data jsonb,
    expires_at bigint,
    last_used_at bigint,
    created_at bigint not null,
    updated_at bigint not null
);

-- Tokens ended by sign-out before their expiry (`jti`), kept until they would have expired.
create table revoked_tokens (
    jti text primary key not null,
    user_id text not null,
    expires_at bigint
);
create index revoked_tokens_expires_at on revoked_tokens (expires_at);

-- Admin configuration, one JSON value per key (`ui.enable_signup`, `user.permissions`, …).
create table config (
    key text primary key not null,
    value jsonb not null,
    updated_at bigint not null
);
