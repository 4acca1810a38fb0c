//! The output of `session:setup`.
