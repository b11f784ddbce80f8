//! The service layer: every rule (permission, validation, limit) lives here once and is called by
//! both the REST routes and the GraphQL resolvers.

pub mod admin_config;
pub mod auths;
pub mod channels;
pub mod chats;
pub mod completions;
pub mod connections;
pub mod events;
pub mod folders;
pub mod form;
pub mod grants;
pub mod groups;
pub mod live;
pub mod load;
pub mod models;
pub mod permissions;
pub mod policy;
pub mod system;
pub mod users;
pub mod validate;
pub mod webapp;

/// The current time in epoch seconds (as stored).
pub fn now() -> i64 {
    crate::store::now()
}
