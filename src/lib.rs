//! duet: an Open WebUI-compatible API server. REST (`rest`) and GraphQL share one service layer
//! (`service`) over one store (`store`).

pub mod app;
pub mod auth;
pub mod bus;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod kv;
pub mod limit;
pub mod migrate;
pub mod rest;
pub mod service;
pub mod socket;
pub mod store;
pub mod upstream;

pub use app::{App, AppState, build_router};
pub use config::Config;
