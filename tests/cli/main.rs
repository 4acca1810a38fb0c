//! Integration tests: the real binary, run in temporary Azu projects, against real servers.

mod support;

mod check;
mod clear;
mod cluster;
mod cluster_refusals;
mod completions;
mod corpus;
mod database_url;
mod database_url_tools;
mod elsewhere;
mod environments;
mod expired;
mod faults;
mod hardening;
mod help;
mod initializer;
mod manifest;
mod newcomer;
mod output;
mod planted;
mod promises;
mod prompt;
mod redis_targets;
mod redis_transport;
mod rotate;
mod rotate_look;
mod schemas;
mod schemas_checks;
mod setup;
mod setup_git;
mod setup_writes;
mod shard_api;
mod sql_failures;
mod stats;
mod walks;
