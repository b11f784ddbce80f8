-- Workspace models, their version history, and access grants. JSON columns are jsonb.

-- A model row: a preset wrapping another model (`base_model_id` set) or, with `base_model_id`
-- null, settings for the upstream model with the same id.
create table models (
    id text primary key not null,
    user_id text not null,
    base_model_id text,
    name text not null,
    params jsonb not null default '{}',
    meta jsonb not null default '{}',
    version_id text,
    is_active boolean not null default true,
    updated_at bigint not null,
    created_at bigint not null
);
-- The workspace list holds presets only; one index per order it offers, so a page of 30 reads
-- 30 index entries.
create index models_presets_created on models (created_at desc, id) where base_model_id is not null;
create index models_presets_updated on models (updated_at desc, id) where base_model_id is not null;
create index models_presets_name on models (name, id) where base_model_id is not null;
-- A caller's own models (access filter, "created" view).
create index models_user on models (user_id, created_at desc);
-- Base-model rows (`/models/base`) and presets of one base.
create index models_base_model on models (base_model_id);

-- Snapshots of a model's configuration; `models.version_id` names the live one.
create table model_history (
    id text primary key not null,
    model_id text not null,
    parent_id text,
    snapshot jsonb not null,
    user_id text,
    commit_message text,
    created_at bigint not null
);
create index model_history_model on model_history (model_id, created_at desc);

-- Who may read or write a resource: `principal_type` `user` (id or `*` for every signed-in
-- user), `group` or `anyone`.
create table access_grants (
    id text primary key not null,
    resource_type text not null,
    resource_id text not null,
    principal_type text not null,
    principal_id text not null,
    permission text not null,
    created_at bigint not null
);
-- One grant per audience and permission; also the per-resource lookup of the access checks.
create unique index access_grants_grant
    on access_grants (resource_type, resource_id, principal_type, principal_id, permission);
-- What a principal may read or write.
create index access_grants_principal
    on access_grants (principal_type, principal_id, resource_type, permission, resource_id);
