//! Integration tests: each module drives a real duet server over HTTP against SQLite and, when
//! `DUET_TEST_DATABASE_URL` is set, PostgreSQL.

mod helpers;

mod architecture;
mod auths;
mod chats;
mod cli;
mod edge;
mod graphql;
mod graphql_models;
mod groups;
mod hostile;
mod models;
mod openapi;
mod parity;
mod playground;
mod scale;
mod secrets;
mod serving;
mod store;
mod system;
mod users;
mod users_routes;
