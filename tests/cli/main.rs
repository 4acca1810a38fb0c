//! Integration tests: the real binary, run in temporary Azu projects, against real servers.

mod support;

mod clear;
mod completions;
mod expired;
mod faults;
mod hardening;
mod output;
mod setup;
