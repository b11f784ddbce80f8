//! Integration tests: each module drives a real duet server over HTTP against SQLite and, when
//! `DUET_TEST_DATABASE_URL` is set, PostgreSQL.

mod helpers;

mod architecture;
mod auths;
mod chats;
mod chats_routes;
mod cli;
mod coherence;
mod completions;
mod completions_saved;
mod connections;
mod edge;
mod fake_upstream;
mod folders;
mod frontend;
mod graphql;
mod graphql_models;
mod groups;
mod hostile;
mod migrate;
mod model_cache;
mod models;
mod models_routes;
mod openapi;
mod parity;
mod playground;
mod providers;
mod scale;
mod secrets;
mod serving;
mod socket;
mod store;
mod subscriptions;
mod system;
mod tasks;
mod users;
mod users_routes;
mod webapp;
mod webapp_routes;
