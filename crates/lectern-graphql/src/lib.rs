//! `lectern-graphql` is Lectern's API as an async-graphql schema: queries
//! over the read models (`lectern-projections`), mutations through the
//! write path (`lectern-app`), authorization by role and unit scope,
//! bearer tokens and limits.
//!
//! It deliberately does not depend on a web framework: the server
//! (`lectern-server`) authenticates the bearer token, passes the caller in
//! and serves the schema over HTTP.
//!
//! # Layout
//! - `api`: `Api`, what resolvers reach (the write path, the tokens, the
//!   replica), and helpers every area shares.
//! - `schema`: the merged schema, its limits, and `execute`
//!   (read-your-writes via `extensions.waitForPosition`).
//! - `appraisal_log`: the appraisal stream in memory (`AppraisalLog`).
//! - `auth`: principals and the token register.
//! - `access`: the access table (who may call every root field), the
//!   extension that holds each request to it, scopes and refusals.
//! - `input`: text no backend may hold, refused naming its argument.
//! - `org`, `people`, `sessions`, `programmes`, `study`, `awards`,
//!   `monthly`, `appraisal`, `disputes`: each area's queries and
//!   mutations.
//! - `exports`: signed download links for reports (`exportLink`).
//! - `ops`: projection status and the raw event log.
//! - `live`: subscriptions (a session's attendance, the event feed).
//! - `page`: filters and cursor pages.
//! - `error`: `ApiError` and the client codes.

pub mod access;
mod api;
mod appraisal;
mod appraisal_log;
mod auth;
mod awards;
mod disputes;
mod enums;
mod error;
mod exports;
mod flags;
mod input;
mod live;
mod monthly;
mod ops;
mod org;
mod page;
mod people;
mod programmes;
mod schema;
mod sessions;
mod study;

pub use api::{Api, REPLICA_WAIT};
pub use auth::{Caller, Principal, TOKEN_TTL, TokenInfo, Tokens, parse_principal};
pub use error::{ApiError, Code};
pub use exports::{FORMATS, REPORTS, check_link};
pub use page::{DEFAULT_PAGE, MAX_PAGE};
pub use schema::{
    LecternSchema, MAX_COMPLEXITY, MAX_DEPTH, MAX_WAIT, Mutation, Query, SchemaExecutor,
    Subscription, build_schema, execute, sdl,
};
