//! Groups over GraphQL: `groups`, `group(id)` and the admin's mutations (create, update, delete,
//! add and remove members). Each resolver calls the service function its REST twin
//! (`/api/v1/groups/…`) calls, so rules and texts are the REST ones.

use async_graphql::{Context, ErrorExtensions, InputObject, Json, MaybeUndefined, Object};
use serde_json::{Map, Value, json};

use super::error::Gql;
use super::types::{Group, caller, state};
use crate::error::ErrorCode;
use crate::service::groups::{self as groups_svc, GroupForm, UserIdsForm};

#[derive(Default)]
pub struct GroupQuery;

#[derive(Default)]
pub struct GroupMutation;

/// `GroupForm`, the body of `POST /groups/create` and `/groups/id/{id}/update`, checked by the
/// service's form logic (locations read `body.…`). On update an omitted `parentGroupId` keeps the
/// parent (`null` detaches), omitted `permissions` keep the stored ones and `data` merges.
#[derive(InputObject)]
pub struct GroupInput {
    pub name: String,
    pub description: String,
    pub parent_group_id: MaybeUndefined<String>,
    pub permissions: Option<Json<Value>>,
    pub data: Option<Json<Value>>,
}

impl GroupInput {
    fn form(self) -> async_graphql::Result<GroupForm> {
        let mut body = Map::new();
        body.insert("name".into(), json!(self.name));
        body.insert("description".into(), json!(self.description));
        match self.parent_group_id {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                body.insert("parent_group_id".into(), Value::Null);
            }
            MaybeUndefined::Value(p) => {
                body.insert("parent_group_id".into(), json!(p));
            }
        }
        if let Some(p) = self.permissions {
            body.insert("permissions".into(), p.0);
        }
        if let Some(d) = self.data {
            body.insert("data".into(), d.0);
        }
        GroupForm::from_json(&Value::Object(body)).gql()
    }
}

fn members_form(ids: Vec<String>) -> async_graphql::Result<UserIdsForm> {
    UserIdsForm::from_json(&json!({ "user_ids": ids })).gql()
}

#[Object]
impl GroupQuery {
    /// Every group for an admin; for anyone else their groups, or with `share` the groups they
    /// may (`true`) or may not (`false`) share with (`GET /api/v1/groups/`).
    async fn groups(&self, ctx: &Context<'_>, share: Option<bool>) -> async_graphql::Result<Vec<Group>> {
        let list = groups_svc::list(state(ctx), caller(ctx), share).await.gql()?;
        Ok(list.into_iter().map(Group).collect())
    }

    /// One group (admin; `GET /api/v1/groups/id/{id}`); `null` for an unknown id (REST's 404
    /// `Group not found.`).
    async fn group(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Option<Group>> {
        match groups_svc::get(state(ctx), caller(ctx), &id).await {
            Ok(g) => Ok(Some(Group(g))),
            Err(e) if e.code == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.extend()),
        }
    }
}

#[Object]
impl GroupMutation {
    /// Creates a group (admin).
    async fn create_group(&self, ctx: &Context<'_>, input: GroupInput) -> async_graphql::Result<Group> {
        let form = input.form()?;
        Ok(Group(groups_svc::create(state(ctx), caller(ctx), form).await.gql()?))
    }

    /// Updates a group (admin).
    async fn update_group(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: GroupInput,
    ) -> async_graphql::Result<Group> {
        let form = input.form()?;
        Ok(Group(groups_svc::update(state(ctx), caller(ctx), &id, form).await.gql()?))
    }

    /// Deletes a group (admin): subgroups move up, memberships and grants naming it go.
    async fn delete_group(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<bool> {
        groups_svc::delete(state(ctx), caller(ctx), &id).await.gql()
    }

    /// Adds the ids that name users to a group (admin); the group with its new member count.
    async fn add_group_members(
        &self,
        ctx: &Context<'_>,
        id: String,
        user_ids: Vec<String>,
    ) -> async_graphql::Result<Group> {
        let form = members_form(user_ids)?;
        Ok(Group(groups_svc::add_users(state(ctx), caller(ctx), &id, form).await.gql()?))
    }

    /// Removes users from a group (admin).
    async fn remove_group_members(
        &self,
        ctx: &Context<'_>,
        id: String,
        user_ids: Vec<String>,
    ) -> async_graphql::Result<Group> {
        let form = members_form(user_ids)?;
        Ok(Group(groups_svc::remove_users(state(ctx), caller(ctx), &id, form).await.gql()?))
    }
}
