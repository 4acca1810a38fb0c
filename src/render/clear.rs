//! The output of `session:clear`.
