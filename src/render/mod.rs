//! Turning command reports into what the user sees: text lines on stdout/stderr, or one
//! JSON document. Commands decide and act; they never print.

pub mod check;
pub mod clear;
pub mod rotate;
pub mod setup;
pub mod stats;
