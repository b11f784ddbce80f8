//! `AppError` as a GraphQL error: the REST `detail` text as `message`, the code name as
//! `extensions.code` (and `extensions.status`, the REST status). The cause of an internal error
//! is logged here, when it is rendered, and never becomes part of the answer.
//!
//! Resolvers return `async_graphql::Result` and convert service errors with `.gql()`; a plain `?`
//! on an `AppError` would go through async-graphql's `Display` conversion and drop the code.

use async_graphql::{Error, ErrorExtensions};

use crate::error::AppError;

impl ErrorExtensions for AppError {
    fn extend(&self) -> Error {
        self.log_cause();
        Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code.name());
            e.set("status", self.status.as_u16());
        })
    }
}

/// Converts a service result for a resolver.
pub trait Gql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> Gql<T> for Result<T, AppError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}
