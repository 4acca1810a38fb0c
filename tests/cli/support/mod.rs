//! Test support: temporary Azu projects, running the binary, and real servers.

#![allow(dead_code)]

pub mod crystal;
pub mod project;
pub mod proxy;
pub mod redis;
pub mod redis_cluster;
pub mod run;
pub mod servers;
pub mod sql;
pub mod tls;
pub mod tmux;
pub mod transcript;
