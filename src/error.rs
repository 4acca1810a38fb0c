//! The one error type. Every message says what went wrong and, after a semicolon, how to fix
//! it; paths are carried in the variants so the message names the right file.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

mod impls;
pub use impls::split_fix;
use impls::{interrupted_message, progress};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("`{}` is not a directory; pass the project root with --path", .0.display())]
    NotADirectory(PathBuf),

    #[error("{}", impls::no_shard_yml(.dir, .above.as_deref()))]
    NoShardYml {
        dir: PathBuf,
        /// The nearest directory above `dir` that holds a shard.yml (missed by `--path`).
        above: Option<PathBuf>,
    },

    #[error("`{}` is not valid YAML ({reason}); fix the file and run again", .path.display())]
    ShardYmlInvalid { path: PathBuf, reason: String },

    #[error("`{}` has no `name:`; add `name: <app>` to it and run again", .0.display())]
    ShardYmlNoName(PathBuf),

    #[error(
        "`dependencies:` in `{}` is not a mapping; make it a mapping of shard names and run again",
        .0.display()
    )]
    ShardYmlDependenciesNotMapping(PathBuf),

    #[error("cannot add dependencies to `{}` without changing its meaning ({reason}); add them by hand: {wanted}", .path.display())]
    ShardYmlEdit {
        path: PathBuf,
        reason: String,
        wanted: String,
    },

    /// The line's text is never shown: it may hold a secret.
    #[error("`{}` line {line} is not `NAME=value`; fix or remove that line", .path.display())]
    DotenvInvalid { path: PathBuf, line: usize },

    #[error("`{0}` already exists; pass --force to overwrite")]
    AlreadyExists(String),

    #[error("`{}` is not UTF-8 text; fix or remove it and run again", .0.display())]
    NotUtf8(PathBuf),

    #[error(
        "`{file}` pins the session shard at {version}, older than 1.0.30, whose API `--api shard` writes; run `shards update session` and setup again, or pass --api docs (the documentation's API)"
    )]
    ShardApiTooOld { file: String, version: String },

    #[error(
        "cannot tell which session shard `{file}` pins ({reason}); pass --api shard (session 1.0.30 or later) or --api docs"
    )]
    ShardPinUnreadable { file: String, reason: String },

    #[error("cannot read `{}`: {source}; check that it exists and is readable", .path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error("cannot write `{}`: {source}; check the directory's permissions and free space (nothing was changed)", .path.display())]
    Write { path: PathBuf, source: io::Error },

    #[error("cannot write in `{}`: the directory is append-only (`chattr +a`), so a file made in it could be neither moved into place nor removed again; nothing was changed, so run `chattr -a` on it (`lsattr -d` shows it) and run again", .0.display())]
    AppendOnly(PathBuf),

    #[error("cannot move the new `{}` into place: {source}; already written: {written:?}, so check the directory and run again", .path.display())]
    Rename {
        path: PathBuf,
        source: io::Error,
        written: Vec<String>,
    },

    #[error("cannot move the new `{}` into place: {source}; nothing was changed (every file already moved was put back), so check that file and its directory (permissions, `lsattr`) and run again", .path.display())]
    RenameUndone { path: PathBuf, source: io::Error },

    #[error("cannot give `{}` the owner {uid}:{gid} of the file it replaces or the directory it is in: {source}; run as that user or as root (nothing was changed)", .path.display())]
    Owner {
        path: PathBuf,
        uid: u32,
        gid: u32,
        source: io::Error,
    },

    #[error("cannot lock `{}` against other runs: {source}; check that the directory is readable, or that its filesystem supports locks", .path.display())]
    Lock { path: PathBuf, source: io::Error },

    /// The file's text is never shown: it holds secrets.
    #[error("cannot add {key} to `{}` so that it reads back ({reason}); add `{key}=<value>` to it by hand (nothing was changed)", .path.display())]
    DotenvEdit {
        path: PathBuf,
        key: &'static str,
        reason: &'static str,
    },

    #[error(
        "cannot generate the secret: {0}; check that the operating system's random generator is available"
    )]
    Random(String),

    #[error("cannot read `{}`: {reason}; fix the file, or pass --backend (and --prefix or --table) to skip it", .path.display())]
    InitializerUnreadable { path: PathBuf, reason: String },

    #[error("`{}` configures {stores} under conditions this tool cannot evaluate ({conditions}); pass --backend (and --prefix or --table) to say which", .path.display())]
    InitializerUndecidable {
        path: PathBuf,
        /// `RedisStore (line 3) or MemoryStore (line 5)`.
        stores: String,
        /// `` `flag?(:release)` ``, each in backticks.
        conditions: String,
    },

    #[error("`{}` configures {stores} under conditions this tool cannot evaluate ({conditions}): {reason}; set {variables} or pass --backend (and --prefix or --table) to say which", .path.display())]
    InitializerUndecidableEnv {
        path: PathBuf,
        stores: String,
        conditions: String,
        /// `` CRYSTAL_ENV is `prod`, which names no Azu environment ``.
        reason: String,
        /// The variables that would decide it: `CRYSTAL_ENV`.
        variables: String,
    },

    /// The project's sources (read because the initializer configures no store) make stores
    /// that clear different sessions: which one the app uses cannot be told.
    #[error(
        "the project's sources make session stores that clear different sessions: {stores}; pass --backend (and --prefix or --table) to say which to clear"
    )]
    StoresDiffer {
        /// `RedisStore (src/app.cr:3), MemoryStore (src/dev.cr:7)`.
        stores: String,
    },

    #[error("`{}` uses CookieStore: sessions live in the users' browsers and cannot be cleared server-side; rotate SESSION_SECRET and restart the application to invalidate them all", .0.display())]
    CookieStore(PathBuf),

    /// A usage error (exit 2), as `--backend` with the same value is.
    #[error("SESSION_BACKEND is `{0}`, which is not a backend{tail}", tail = crate::backend::not_a_backend(.0, false))]
    InvalidSessionBackend(String),

    #[error(
        "the Redis key prefix uses `{name}`, which is not set; export it, add it to .env, or pass --prefix"
    )]
    PrefixEnvUnset { name: String },

    #[error("cannot evaluate `{expr}` in the store's `prefix:`; pass the prefix with --prefix")]
    PrefixUnresolvable { expr: String },

    /// The whole message: the variable, and the fix where the environment tells.
    #[error("{0}")]
    RedisUrlEnvUnset(String),

    #[error(
        "cannot evaluate `{expr}`, which gives the store's Redis server in {file}; set REDIS_URL to the server's URL"
    )]
    RedisUrlUnresolvable { expr: String, file: String },

    #[error(
        "the Redis key prefix {0:?} holds a control character (a newline, tab or the like), which no session prefix has; check the store's prefix or pass --prefix"
    )]
    PrefixControl(String),

    #[error(
        "the Redis key prefix is empty, which would match every key in the database; pass a non-empty --prefix"
    )]
    EmptyPrefix,

    #[error("cannot tell the Redis key prefix: there is no src/initializers/session.cr and no shard.yml in `{}` (nor above it); pass --prefix, or run this inside the Azu project (or pass --path)", .0.display())]
    NoPrefix(PathBuf),

    #[error("`DATABASE_URL` is not set; export it or add it to .env")]
    DatabaseUrlMissing,

    #[error(
        "`{0}` is not a database URL this tool can clear; use a postgres://, postgresql://, mysql://, mariadb:// or sqlite: URL"
    )]
    UnsupportedDatabaseUrl(String),

    #[error(
        "`{url}` is not a database URL this tool can read ({reason}); write it as postgres://user:password@host:port/database (percent-encode `@`, `/`, `?`, `#` and `:` in the password), mysql:///path/to/mysqld.sock?database=name, or sqlite3://./path/to/app.db"
    )]
    DatabaseUrlInvalid { url: String, reason: String },

    #[error(
        "the SQLite database `{}` {problem} (DATABASE_URL `{url}`; a relative path is read from the project root, as the app reads it); check DATABASE_URL, or create the database with the app's migrations (`azu db:migrate`)",
        .path.display()
    )]
    SqliteFile {
        path: PathBuf,
        url: String,
        problem: &'static str,
    },

    #[error(
        "`{0}` names no SQLite database file; use sqlite:path/to/app.sqlite3 (an in-memory database has no sessions to clear)"
    )]
    SqliteNoFile(String),

    #[error(
        "`{0}` is not a table name; use letters, digits and underscores (optionally `schema.table`)"
    )]
    InvalidTable(String),

    #[error("refusing to clear sessions without confirmation: not a terminal; pass --force")]
    NotATerminal,

    #[error("Operation cancelled; no sessions were cleared")]
    Cancelled,

    #[error(
        "`{url}` is not a valid Redis URL ({reason}); use redis://[user:password@]host[:port][/db], rediss://... for TLS, or redis+unix:///path/to/redis.sock[?db=N]"
    )]
    RedisUrlInvalid { url: String, reason: String },

    #[error("cannot connect to Redis at `{url}`: {reason}; {fix}")]
    RedisConnect {
        url: String,
        reason: String,
        fix: String,
    },

    #[error(
        "Redis at `{url}` {}; {} (redis://:password@host, or redis://user:password@host for an ACL user)",
        if *.none_given { "wants a password, and REDIS_URL gives none" } else { "refused the user or password in REDIS_URL" },
        if *.none_given { "put it in REDIS_URL" } else { "correct them in REDIS_URL" }
    )]
    RedisAuth { url: String, none_given: bool },

    #[error(
        "Redis at `{url}` failed {}: {reason}; {}",
        progress(*.cleared, *.dry_run),
        .fix.as_deref().unwrap_or(if *.dry_run { "run the command again" } else { "run the command again to clear the rest" })
    )]
    Redis {
        url: String,
        cleared: u64,
        dry_run: bool,
        /// The server's words, with key names cut out.
        reason: String,
        /// What would fix a failure that running again would not.
        fix: Option<String>,
    },

    #[error("Redis at `{url}` refused the tool's commands: {reason}; {fix}")]
    RedisRefused {
        url: String,
        reason: String,
        fix: String,
    },

    #[error(
        "{store} at `{url}` failed while measuring sessions (nothing was changed): {reason}; {}",
        .fix.as_deref().unwrap_or("run the command again")
    )]
    Measure {
        /// `Redis` or `the database`.
        store: &'static str,
        url: String,
        reason: String,
        fix: Option<String>,
    },

    #[error(
        "cannot {} at `{url}`: {reason}; {fix}",
        if *.sqlite { "open the SQLite database" } else { "connect to the database" }
    )]
    DatabaseConnect {
        url: String,
        reason: String,
        /// What would fix it, as the cause tells.
        fix: String,
        /// An SQLite file, which has no server to be running.
        sqlite: bool,
    },

    #[error(
        "table {table} does not exist in `{url}`; run `azu db:migrate`, or pass --table if the sessions live elsewhere"
    )]
    TableMissing { table: String, url: String },

    #[error(
        "table {table} in `{url}` has no `expires_at` column, so expired sessions cannot be told; run the session migration, or clear all sessions without --expired"
    )]
    NoExpiresAt { table: String, url: String },

    #[error(
        "the database at `{url}` failed {}: {reason}; {}",
        progress(*.cleared, *.dry_run),
        .fix.as_deref().unwrap_or(if *.dry_run { "run the command again" } else { "run the command again to clear the rest" })
    )]
    Database {
        url: String,
        cleared: u64,
        dry_run: bool,
        reason: String,
        /// How to fix a failure that running again would not fix.
        fix: Option<String>,
    },

    #[error(
        "table {table} in `{url}` stayed locked by another connection for {seconds} s{} ({}); {}",
        if .holder.is_empty() { String::new() } else { format!(": {}", .holder) },
        if *.dry_run { "nothing was counted".to_string() } else if *.cleared == 0 { "nothing was deleted".to_string() } else { format!("{} session(s) were cleared before it", .cleared) },
        "run the command again once the lock is released, or wait longer with --lock-timeout SECONDS"
    )]
    LockTimeout {
        table: String,
        url: String,
        seconds: f64,
        /// What the server says holds the lock (empty when it cannot tell).
        holder: String,
        cleared: u64,
        dry_run: bool,
    },

    #[error(
        "{table} in `{url}` is {kind}, not a table, so its rows cannot be cleared safely; pass --table with the name of the table that holds the sessions"
    )]
    NotATable {
        table: String,
        url: String,
        kind: &'static str,
    },

    #[error(
        "table {table} has a partition or child that is a foreign table (`{partition}`), whose rows live on another server; clear that table there, and pass --table for each local one"
    )]
    ForeignPartition { table: String, partition: String },

    #[error(
        "row-level security on {table} in `{url}` hides rows from the role `{role}`: {cleared} session(s) it could see were cleared, and rows it cannot see remain ({}); clear as the table's owner or a role with BYPASSRLS",
        match .unseen { Some(n) => format!("the server's statistics count {n}"), None => "the server keeps no count this role can read, so they may".to_string() }
    )]
    RowsHidden {
        table: String,
        url: String,
        role: String,
        cleared: u64,
        /// The rows left by the server's statistics, when it keeps them.
        unseen: Option<u64>,
    },

    #[error(
        "{left} row(s) are still in {table} in `{url}` after {cleared} session(s) were cleared: {}",
        match .policy {
            Some(role) => format!("row-level security applies to the role `{role}` on this table, and a policy may let it see rows it may not delete; clear as the table's owner or a role with BYPASSRLS"),
            None => "a trigger or rule kept them from being deleted (a last pass over them deleted none); look at the table's triggers and rules".to_string(),
        }
    )]
    RowsRemain {
        table: String,
        url: String,
        left: u64,
        cleared: u64,
        /// The role row-level security applies to, when it does (PostgreSQL).
        policy: Option<String>,
    },

    #[error("cannot render the man page: {0}; this is a bug, please report it")]
    ManPage(io::Error),

    #[error("{}", interrupted_message(*.cleared, *.dry_run))]
    Interrupted { cleared: u64, dry_run: bool },

    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),

    #[error(
        "the TLS certificate of Redis at `{url}` is not trusted ({reason}); set SSL_CERT_FILE to a PEM file holding the CA that signed it, or add that CA to the system's trusted certificates"
    )]
    RedisTlsUntrusted { url: String, reason: String },

    #[error(
        "the TLS certificate of Redis at `{url}` was refused ({reason}); the server's certificate must be current and name the host in REDIS_URL, so renew it or use a host name it lists"
    )]
    RedisTlsRefused { url: String, reason: String },

    #[error(
        "cannot load the trusted TLS certificates from {var} (`{path}`): {reason}; point {var} at a readable PEM file, or unset it to use the system's certificates"
    )]
    RedisTlsRoots {
        var: &'static str,
        path: String,
        reason: String,
    },

    #[error(
        "{set} is set but {unset} is not; a client certificate needs both, so set {unset} too (or unset {set})"
    )]
    RedisTlsPair {
        set: &'static str,
        unset: &'static str,
    },

    #[error(
        "cannot use the file {var} names (`{path}`): {reason}; point {var} at a readable PEM file, or unset it"
    )]
    RedisTlsFile {
        var: &'static str,
        path: String,
        reason: String,
    },

    #[error(
        "Redis at `{url}` wants a TLS client certificate ({reason}); set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE to the PEM files of a certificate and key signed by a CA the server trusts"
    )]
    RedisTlsClientCertWanted { url: String, reason: String },

    #[error(
        "Redis at `{url}` refused the TLS client certificate in REDIS_TLS_CERT_FILE ({reason}); use a certificate and key signed by a CA the server trusts (its tls-ca-cert-file)"
    )]
    RedisTlsClientCertRefused { url: String, reason: String },

    #[error(
        "Redis at `{url}` does not speak TLS on that port (it answers in plain text); use redis:// instead of rediss://, or the port where the server listens for TLS"
    )]
    RedisNotTls { url: String },

    #[error(
        "cannot connect to any Redis node in REDIS_URL ({tried}); check that the servers are running and REDIS_URL is right"
    )]
    RedisSeeds { tried: String },

    #[error(
        "REDIS_URL names {count} Redis nodes, but `{url}` is not in cluster mode (cluster_enabled:0); give the URL of one standalone server, or nodes of one Redis Cluster"
    )]
    RedisNotCluster { url: String, count: usize },

    #[error(
        "Redis at `{url}` is a replica of `{primary}`: the sessions live on the primary, and a write here would not reach it; point REDIS_URL at the primary (`{primary}`)"
    )]
    RedisReplica { url: String, primary: String },

    #[error(
        "cannot tell whether Redis at `{url}` is a cluster node: INFO failed ({reason}); allow the Redis user the INFO command (ACL SETUSER <user> +info)"
    )]
    RedisInfo { url: String, reason: String },

    #[error(
        "cannot read the Redis Cluster layout from `{url}`: {reason}; check that the cluster is up and that the Redis user may run CLUSTER NODES"
    )]
    RedisTopology { url: String, reason: String },

    #[error(
        "cannot connect to the Redis Cluster primary `{url}` (nothing was cleared): {reason}; every primary must be reachable from here, so check that it is up and that the address the cluster announces for it can be reached"
    )]
    RedisPrimaryConnect { url: String, reason: String },

    #[error(
        "the slots of the Redis Cluster at `{url}` moved between shards while {cleared} session(s) were cleared (a resharding), so keys that moved may have been missed; run the command again to clear the rest"
    )]
    RedisResharded { url: String, cleared: u64 },

    #[error(
        "`{}` is tracked by git, so a secret written there would be committed; untrack it with `git rm --cached .env` (and commit that), then run session:setup again",
        .0.display()
    )]
    DotenvTracked(PathBuf),

    #[error(
        "`{}` is tracked by git, so a new secret written there would be committed; untrack it with `git rm --cached .env` (and commit that), then run the command again (nothing was changed)",
        .0.display()
    )]
    DotenvTrackedRotate(PathBuf),

    #[error("cannot read `{}` as git would: {reason}; fix the file", .path.display())]
    GitignoreInvalid { path: PathBuf, reason: String },

    #[error(
        "the Redis Cluster at `{url}` failed over {rounds} times in a row while {cleared} session(s) were cleared, so keys may have been missed; run the command again once its primaries are stable to clear the rest"
    )]
    RedisFailovers {
        url: String,
        cleared: u64,
        rounds: usize,
    },

    #[error(
        "SESSION_SECRET comes from this process's environment, not from `{}`, so it was not rotated ({}); change it where it is set (the deploy's environment or secrets manager) and restart the application",
        .dotenv.display(),
        if *.cleared { "the sessions were cleared" } else { "nothing was changed" }
    )]
    SecretInProcess { dotenv: PathBuf, cleared: bool },

    #[error("cannot render `{template}`: {reason}; this is a bug, please report it")]
    Template {
        template: &'static str,
        reason: String,
    },
}
