//! The HTTP face of the PSO register: routes, problem+json, configuration, and
//! the start-up shared by `main` and the black-box tests.

pub mod cb_tool;
pub mod checkpoints;
pub mod clients;
pub mod config;
pub mod contract;
pub mod csv;
pub mod expiry;
pub mod extract;
pub mod http_cache;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod pages;
pub mod paging;
pub mod panics;
pub mod payload;
pub mod problem;
pub mod rate_limit;
pub mod routes;
pub mod schema;
pub mod seed;
pub mod signed_answer;
pub mod signed_request;
pub mod signing;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod transport;
pub mod verify;
pub mod views;
pub mod webhooks;
