//! The conventions of an Azu project's sessions that `session:setup` writes and
//! `session:clear` reads back: the Redis URL and key prefixes, and the table. They live below
//! both commands so neither has to import the other to agree with it.

/// The Redis server the generated initializer falls back to, and the one `.env` is given;
/// also where clear looks when neither REDIS_URL nor the initializer names one.
pub const DEFAULT_REDIS_URL: &str = "redis://localhost:6379";

/// The session shard's own prefix, used by a Redis store given no `prefix:`.
pub const SHARD_DEFAULT_PREFIX: &str = "session:";

/// The table the generated initializer and migration use, and the one clear falls back to.
pub const DEFAULT_TABLE: &str = "sessions";

/// The Redis key prefix setup writes for an app: `<app>:session:`.
pub fn default_prefix(app_name: &str) -> String {
    format!("{app_name}:{SHARD_DEFAULT_PREFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_prefix_ends_in_the_shards() {
        assert_eq!(default_prefix("myapp"), "myapp:session:");
        assert!(default_prefix("myapp").ends_with(SHARD_DEFAULT_PREFIX));
    }

    /// `--help` names the default in a `&'static str` table, where the constant cannot be
    /// spliced in: this keeps the two in step.
    #[test]
    fn help_names_the_default_redis_url() {
        let (_, meaning) = crate::cli::ENVIRONMENT
            .iter()
            .find(|(name, _)| *name == "REDIS_URL")
            .expect("REDIS_URL is listed");
        assert!(meaning.contains(DEFAULT_REDIS_URL), "{meaning}");
    }
}
