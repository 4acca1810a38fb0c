//! The session shard's forms of store, next to the documentation's.

use super::*;
use crate::conventions::SHARD_DEFAULT_PREFIX;

fn one(text: &str) -> Store {
    let init = Initializer::parse(text).expect("the test input");
    assert_eq!(init.stores.len(), 1, "{text}: {:?}", init.stores);
    init.stores.into_iter().next().expect("one store")
}

fn env(name: &str) -> Vec<Alt> {
    vec![Alt::Env(name.to_string())]
}

fn text(s: &str) -> Vec<Alt> {
    vec![Alt::Literal(vec![Part::Text(s.to_string())])]
}

#[test]
fn the_documentations_forms_are_the_docs_api() {
    let s =
        one("config.store = RedisStore.new(url: ENV[\"REDIS_URL\"], prefix: \"a:\", ttl: 1.hour)");
    assert_eq!(
        (s.kind, s.api, s.form),
        (StoreKind::Redis, Api::Docs, Form::New)
    );
    assert_eq!(s.redis_url(), RedisUrl::Url(env("REDIS_URL")));
    assert_eq!(s.redis_prefix(), Prefix::Given(text("a:")));
    assert_eq!(s.holder.as_deref(), Some("config.store"));
    let s = one("config.store = MemoryStore.new(ttl: 1.hour)");
    assert_eq!((s.kind, s.api), (StoreKind::Memory, Api::Docs));
    let s = one("config.store = DatabaseStore.new(table: \"sessions\", ttl: 1.hour)");
    assert_eq!((s.kind, s.api), (StoreKind::Database, Api::Docs));
    // No prefix: the shard's.
    let s = one("config.store = RedisStore.new(url: \"redis://h\")");
    assert_eq!(s.redis_prefix(), Prefix::Shard);
}

#[test]
fn shard_redis_store_with_a_client() {
    for t in [
        "config.store = Session::RedisStore(UserSession).new(client: Redis.new(url: ENV[\"REDIS_URL\"]))",
        "config.store = RedisStore(UserSession).new(client: Redis.new(url: ENV[\"REDIS_URL\"]))",
        "config.store = Session::RedisStore(App::Sessions::UserSession).new(client: Redis.new(url: ENV[\"REDIS_URL\"]))",
        "config.store = Session::RedisStore(Wrapper(UserSession)).new(client: Redis.new(url: ENV[\"REDIS_URL\"]))",
        "config.store = ::Session::RedisStore(UserSession)\n  .new(\n    client: ::Redis.new(url: ENV[\"REDIS_URL\"]),\n  )",
        "config.store = Session::RedisStore(UserSession).new(Redis.new(url: ENV[\"REDIS_URL\"]))",
    ] {
        let s = one(t);
        assert_eq!(
            (s.kind, s.api, s.form),
            (StoreKind::Redis, Api::Shard, Form::New),
            "{t}"
        );
        assert_eq!(s.redis_url(), RedisUrl::Url(env("REDIS_URL")), "{t}");
        assert_eq!(s.redis_prefix(), Prefix::Shard, "{t}");
        assert_eq!(
            s.redis_prefix().resolve(|_| Err::<String, ()>(())),
            Ok(SHARD_DEFAULT_PREFIX.to_string())
        );
    }
}

// Long: one case per form of the shard's Redis client, kept whole so they compare.
#[test]
fn shard_redis_client_forms() {
    let url = |t: &str| one(t).redis_url();
    // No client: crystal-redis's default.
    assert_eq!(
        url("c.store = Session::RedisStore(U).new"),
        RedisUrl::Default
    );
    assert_eq!(
        url("c.store = Session::RedisStore(U).new(client: Redis.new)"),
        RedisUrl::Default
    );
    // `ENV.fetch` with a default, as authority writes it.
    assert_eq!(
        url(
            "c.store = Session::RedisStore(U).new(client: Redis.new(url: ENV.fetch(\"REDIS_URL\", \"redis://localhost:6379/1\")))"
        ),
        RedisUrl::Url(vec![
            Alt::Env("REDIS_URL".into()),
            Alt::Literal(vec![Part::Text("redis://localhost:6379/1".into())])
        ])
    );
    // Host and port.
    let RedisUrl::Parts(parts) = url(
        "c.store = Session::RedisStore(U).new(client: Redis.new(host: ENV[\"REDIS_HOST\"], port: 6380, database: 2))",
    ) else {
        panic!("parts expected");
    };
    assert_eq!(parts.host, Some(env("REDIS_HOST")));
    assert_eq!(parts.port, Some(text("6380")));
    let built = parts.url(
        |alts| match alts {
            [Alt::Env(_)] => Ok::<_, String>("cache.internal".to_string()),
            [Alt::Literal(p)] => match p.as_slice() {
                [Part::Text(t)] => Ok(t.clone()),
                _ => Err("?".into()),
            },
            _ => Err("?".into()),
        },
        |e| e,
    );
    assert_eq!(built.as_deref(), Ok("redis://cache.internal:6380/2"));
    // The pooled client of crystal-redis.
    assert_eq!(
        url(
            "c.store = Session::RedisStore(U).new(client: Redis::PooledClient.new(url: \"redis://h:1\", pool_size: 5))"
        ),
        RedisUrl::Url(text("redis://h:1"))
    );
    // The shard's own pool.
    let RedisUrl::Parts(parts) = url(
        "c.store = Session::RedisStore(U).new(pool: Session::ConnectionPool.new(Session::ConnectionPoolConfig.new(redis_host: \"r\", redis_port: 7000)))",
    ) else {
        panic!("parts expected");
    };
    assert_eq!(
        (parts.host, parts.port),
        (Some(text("r")), Some(text("7000")))
    );
    assert_eq!(
        url("c.store = Session::RedisStore(U).with_pool(Session::ConnectionPoolConfig.new)"),
        RedisUrl::Default
    );
    assert_eq!(
        url(
            "c.store = Session::PooledRedisStore(U).new(Session::ConnectionPoolConfig.new(redis_host: \"p\"))"
        ),
        RedisUrl::Parts(UrlParts {
            host: Some(text("p")),
            ..UrlParts::default()
        })
    );
    // What cannot be followed is said, not guessed.
    assert_eq!(
        url("c.store = Session::RedisStore(U).new(client: REDIS)"),
        RedisUrl::Unresolvable("REDIS".into())
    );
    assert_eq!(
        url("c.store = Session::RedisStore(U).new(client: Redis.new(unixsocket: \"/tmp/r.sock\"))"),
        RedisUrl::Unresolvable("Redis.new(unixsocket: \"/tmp/r.sock\")".into())
    );
    assert_eq!(
        url("c.store = Session::RedisStore(U).new(client: Redis.new(url: u).tap { })"),
        RedisUrl::Unresolvable("Redis.new(url: u).tap { }".into())
    );
}

#[test]
fn a_namespace_goes_before_the_shards_prefix() {
    let s = one("c.store = Session::RedisStore(U).new(client: Redis.new(namespace: \"app\"))");
    assert_eq!(s.redis_prefix(), Prefix::Namespaced(text("app")));
    let resolved = s.redis_prefix().resolve(|alts| match alts {
        [Alt::Literal(p)] => match p.as_slice() {
            [Part::Text(t)] => Ok(t.clone()),
            _ => Err(()),
        },
        _ => Err(()),
    });
    assert_eq!(resolved.as_deref(), Ok("app::session:"));
}

#[test]
fn memory_cookie_and_clustered_shard_stores() {
    let s = one("config.store = Session::MemoryStore(UserSession).new");
    assert_eq!(
        (s.kind, s.api, s.form),
        (StoreKind::Memory, Api::Shard, Form::New)
    );
    let s = one("config.store = Session::CookieStore(UserSession).new");
    assert_eq!((s.kind, s.api), (StoreKind::Cookie, Api::Shard));
    let s = one(
        "config.store = Session::ClusteredRedisStore(UserSession).new(client: Redis.new(url: \"redis://c\"))",
    );
    assert_eq!((s.kind, s.api), (StoreKind::ClusteredRedis, Api::Shard));
    assert_eq!(s.redis_url(), RedisUrl::Url(text("redis://c")));
    assert_eq!(s.redis_prefix(), Prefix::Shard);
}

#[test]
fn provider_forms_of_older_shards() {
    let s = one(
        "Session.configure do |c|\n  c.provider = Session::RedisStore(UserSession).provider(client: Redis.new(url: \"redis://p\"))\nend",
    );
    assert_eq!(
        (s.kind, s.api, s.form),
        (StoreKind::Redis, Api::Shard, Form::Provider)
    );
    assert_eq!(s.holder.as_deref(), Some("c.provider"));
    assert_eq!(s.redis_url(), RedisUrl::Url(text("redis://p")));
    let s = one("config.provider = Session::MemoryStore(UserSession).provider");
    assert_eq!((s.kind, s.form), (StoreKind::Memory, Form::Provider));
}

#[test]
fn a_constant_holding_a_store() {
    let s = one("module Authority\n  STORE = Session::CookieStore(UserSession).provider\nend");
    assert_eq!(
        (s.kind, s.form, s.line),
        (StoreKind::Cookie, Form::Provider, 2)
    );
    assert_eq!(s.holder.as_deref(), Some("STORE"));
}

#[test]
fn use_store_declares_a_kind() {
    let s = one("Session.use_store(Session::RedisStore(UserSession))");
    assert_eq!(
        (s.kind, s.api, s.form),
        (StoreKind::Redis, Api::Shard, Form::Declared)
    );
    assert_eq!(s.redis_url(), RedisUrl::NotSeen);
    assert_eq!(s.redis_prefix(), Prefix::Shard);
    let s = one("Session.use_store(Session::CookieStore(UserSession))");
    assert_eq!((s.kind, s.form), (StoreKind::Cookie, Form::Declared));
    // With the construction after it, the construction is the store chosen.
    let init = Initializer::parse(
        "Session.use_store(Session::RedisStore(UserSession))\nSession.configure do |config|\n  config.store = Session::RedisStore(UserSession).new(client: Redis.new(url: \"redis://x\"))\nend",
    )
    .expect("the test input");
    assert_eq!(init.stores.len(), 2);
    match init.select("development") {
        Selection::Store(s) => assert_eq!((s.form, s.line), (Form::New, 3)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn type_mentions_are_not_stores() {
    let init = Initializer::parse(
        "@store : Session::RedisStore(UserSession)? = nil\ndef s : Session::MemoryStore(UserSession)\nend\nx = Session::RedisStore(U).new?",
    )
    .expect("the test input");
    assert!(init.stores.is_empty(), "{:?}", init.stores);
}

#[test]
fn shard_stores_in_comments_strings_and_heredocs_are_not_code() {
    let init = Initializer::parse(concat!(
        "# config.store = Session::RedisStore(UserSession).new\n",
        "s = \"Session::MemoryStore(UserSession).new\"\n",
        "h = <<-TXT\n  Session.use_store(Session::CookieStore(UserSession))\n  TXT\n",
        "r = %q(STORE = Session::CookieStore(UserSession).provider)\n",
    ))
    .expect("the test input");
    assert!(init.stores.is_empty(), "{:?}", init.stores);
}

#[test]
fn the_same_shard_store_twice_is_one_target() {
    let init = Initializer::parse(concat!(
        "if ENV[\"X\"]?\n",
        "  config.store = Session::RedisStore(U).new(client: Redis.new(url: \"redis://a\"))\n",
        "else\n",
        "  config.store = Session::RedisStore(U).new(client: Redis.new(url: \"redis://b\"))\n",
        "end\n",
    ))
    .expect("the test input");
    assert!(matches!(
        init.select("development"),
        Selection::Undecidable(_)
    ));
    let a = &init.stores[0];
    assert!(a.same_target(a));
    assert!(!a.same_target(&init.stores[1]));
}

#[test]
fn a_store_in_a_macro_body_is_not_taken_as_made() {
    let text = "macro session_store(t)\n  Session::RedisStore({{t}}).new\nend\nSession.configure do |c|\n  c.secret = \"x\"\nend\n";
    let init = Initializer::parse(text).expect("the test input");
    assert_eq!(init.stores.len(), 1);
    assert_eq!(
        init.stores[0].branches,
        vec![Branch::Unknown(
            "inside `macro session_store`".into(),
            Vec::new()
        )]
    );
    let Selection::Undecidable(u) = init.select("development") else {
        panic!("undecidable expected");
    };
    assert_eq!(u.conditions, ["inside `macro session_store`"]);
    // After the macro's `end`, code is unconditional again.
    let init = Initializer::parse(&format!("{text}c = Session::MemoryStore(U).new\n"))
        .expect("the test input");
    assert!(init.stores[1].branches.is_empty());
    assert!(
        matches!(init.select("development"), Selection::Store(s) if s.kind == StoreKind::Memory)
    );
}
