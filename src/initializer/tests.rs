//! The reader end to end: from Crystal text to the store chosen for an environment.

use super::*;

fn only(text: &str) -> Store {
    let init = Initializer::parse(text).expect("the test input");
    match init.select("development") {
        Selection::Store(s) => s.clone(),
        other => panic!("expected one store, got {other:?}"),
    }
}

fn lit(s: &str) -> Vec<Alt> {
    vec![Alt::Literal(vec![Part::Text(s.to_string())])]
}

#[test]
fn store_forms() {
    let cases = [
        (
            "config.store = RedisStore.new(prefix: \"a:\")",
            StoreKind::Redis,
        ),
        (
            "config.provider = Session::RedisStore(UserSession).provider(client: Redis.new)",
            StoreKind::Redis,
        ),
        (
            "c.store = Session::ClusteredRedisStore(UserSession).new(key_prefix: \"a:\")",
            StoreKind::ClusteredRedis,
        ),
        (
            "c.store = Session::DatabaseStore(UserSession).new(table_name: \"s\")",
            StoreKind::Database,
        ),
        ("c.store = MemoryStore.new", StoreKind::Memory),
        (
            "c.store = Session::CookieStore(UserSession).new",
            StoreKind::Cookie,
        ),
        (
            "c.store = RedisStore\n  .new(\n    prefix: \"a:\",\n  )",
            StoreKind::Redis,
        ),
    ];
    for (text, kind) in cases {
        assert_eq!(only(text).kind, kind, "{text}");
    }
}

#[test]
fn comments_and_strings_are_not_code() {
    let text = "# config.store = RedisStore.new(prefix: \"x:\")\nputs \"MemoryStore.new is for tests # not a comment\"\nc.store = DatabaseStore.new(table: \"t\") # RedisStore.new\n";
    let init = Initializer::parse(text).expect("the test input");
    assert_eq!(init.stores.len(), 1);
    assert_eq!(init.stores[0].kind, StoreKind::Database);
    assert_eq!(init.stores[0].line, 3);
    assert_eq!(
        init.stores[0].arg(&["table", "table_name"]),
        Some(lit("t").as_slice())
    );
}

#[test]
fn interpolation_and_escapes() {
    let store = only(
        r##"c.store = RedisStore.new(prefix: "#{ENV["APP_NAME"]}:s\"x\":#{ENV.fetch("K")}#{other}")"##,
    );
    assert_eq!(
        store.arg(&["prefix"]),
        Some(
            [Alt::Literal(vec![
                Part::Env("APP_NAME".into()),
                Part::Text(":s\"x\":".into()),
                Part::Env("K".into()),
                Part::Other("other".into()),
            ])]
            .as_slice()
        )
    );
}

#[test]
fn env_fetch_with_default() {
    let store = only(r#"c.store = RedisStore.new(prefix: ENV.fetch("P", "d:"), url: ENV["U"])"#);
    assert_eq!(
        store.arg(&["prefix"]),
        Some([Alt::Env("P".into()), lit("d:").remove(0)].as_slice())
    );
    assert_eq!(store.arg(&["url"]), Some([Alt::Env("U".into())].as_slice()));
}

/// `ENV["X"]?.presence` reads X (an empty value is unset here anyway); a `raise` gives no
/// value, so what comes before it is all there is, and a lone `raise` cannot be evaluated.
#[test]
fn presence_and_raise_in_arguments() {
    let store = only(
        r#"c.store = RedisStore.new(url: ENV["U"]?.presence || raise("U is not set, see \"docs\""), prefix: ENV["P"]? .presence || "p:")"#,
    );
    assert_eq!(store.arg(&["url"]), Some([Alt::Env("U".into())].as_slice()));
    assert_eq!(
        store.arg(&["prefix"]),
        Some([Alt::Env("P".into()), lit("p:").remove(0)].as_slice())
    );
    let store = only(r#"c.store = RedisStore.new(url: raise "no", prefix: raise_prefix)"#);
    assert_eq!(
        store.arg(&["url"]),
        Some([Alt::Other("raise \"no\"".into())].as_slice())
    );
    assert_eq!(
        store.arg(&["prefix"]),
        Some([Alt::Other("raise_prefix".into())].as_slice())
    );
    // A shard-API client's URL is read the same way.
    let store = only(
        r#"c.store = Session::RedisStore(S).new(client: Redis.new(url: ENV["U"]?.presence || raise("x")))"#,
    );
    assert_eq!(store.redis_url(), RedisUrl::Url(vec![Alt::Env("U".into())]));
}

/// The documentation's per-environment initializer (a seed of the initializer fuzz target),
/// with an `else` arm added.
fn per_env() -> String {
    let doc = include_str!("../../fuzz/seeds/initializer/per_env.cr");
    let body = doc
        .strip_suffix("end\n")
        .expect("the seed ends with its `case`");
    format!(
        "{body}else\n  Session.configure do |config|\n    config.store = DatabaseStore.new(table: \"s\")\n  end\nend\n"
    )
}

#[test]
fn case_branches_follow_azu_env() {
    let init = Initializer::parse(&per_env()).expect("the test input");
    let kind = |env| match init.select(env) {
        Selection::Store(s) => s.kind,
        other => panic!("{env}: {other:?}"),
    };
    assert_eq!(kind("production"), StoreKind::Redis);
    assert_eq!(kind("development"), StoreKind::Memory);
    assert_eq!(kind("test"), StoreKind::Memory);
    assert_eq!(kind("staging"), StoreKind::Database);
}

#[test]
fn if_branches_and_no_store_for_env() {
    let text = "if ENV[\"AZU_ENV\"]? == \"production\"\n  c.store = RedisStore.new\nelsif ENV[\"AZU_ENV\"]? == \"staging\"\n  c.store = DatabaseStore.new\nend\n";
    let init = Initializer::parse(text).expect("the test input");
    assert!(matches!(init.select("production"), Selection::Store(s) if s.kind == StoreKind::Redis));
    assert!(matches!(init.select("staging"), Selection::Store(s) if s.kind == StoreKind::Database));
    assert!(matches!(init.select("development"), Selection::NoneForEnv));

    let unless = "unless ENV[\"AZU_ENV\"]? == \"production\"\n  c.store = MemoryStore.new\nelse\n  c.store = RedisStore.new\nend\n";
    let init = Initializer::parse(unless).expect("the test input");
    assert!(matches!(init.select("production"), Selection::Store(s) if s.kind == StoreKind::Redis));
    assert!(matches!(init.select("test"), Selection::Store(s) if s.kind == StoreKind::Memory));
}

#[test]
fn undecidable_conditions_are_reported() {
    let text = "if File.exists?(\"x\")\n  c.store = RedisStore.new\nend\n";
    let init = Initializer::parse(text).expect("the test input");
    assert!(
        matches!(init.select("development"), Selection::Undecidable(u) if u.maybe_none && u.conditions == ["File.exists?(\"x\")"])
    );
}

#[test]
fn last_assignment_wins() {
    let init = Initializer::parse("c.store = MemoryStore.new\nc.store = RedisStore.new\n")
        .expect("the test input");
    assert!(matches!(init.select("x"), Selection::Store(s) if s.kind == StoreKind::Redis));
}

#[test]
fn broken_files_are_errors_not_panics() {
    assert_eq!(
        Initializer::parse("x = \"open\nRedisStore.new").unwrap_err(),
        ReadError::Unterminated {
            what: "string",
            line: 1
        }
    );
    assert_eq!(
        Initializer::parse("c = RedisStore.new(prefix: \"a\"").unwrap_err(),
        ReadError::Unbalanced { line: 1 }
    );
    assert_eq!(Initializer::parse("a\0b").unwrap_err(), ReadError::Binary);
    assert!(
        Initializer::parse("")
            .expect("the test input")
            .stores
            .is_empty()
    );
    assert!(matches!(
        Initializer::parse("").expect("the test input").select("x"),
        Selection::NoStore
    ));
}

/// The lexer alone: what each literal masks to.
mod lexing {
    use super::super::ReadError;
    use super::super::lexer::lex;

    fn masked(text: &str) -> String {
        lex(text).expect("the test input").masked
    }

    #[test]
    fn literals_become_blobs_of_the_same_length() {
        let cases = [
            ("x = \"ab\" # c", "x = \"__\"    "),
            ("x = 'a'", "x = '_'"),
            ("x = '\\''", "x = '__'"),
            ("x = '\\u{41}'", "x = '______'"),
            ("x = :sym", "x = '__'"),
            ("x = :\"a b\"", "x = '____'"),
            ("x = %(a (b) c)", "x = '________'"),
            ("x = %w[a b]", "x = '_____'"),
            ("x = /a\"/i", "x = '___'"),
            ("x = a / b / c", "x = a / b / c"),
            ("puts /x/", "puts '_'"),
            ("a /2", "a /2"),
            ("x = foo.bar /x/", "x = foo.bar '_'"),
            ("y = a.size / 2", "y = a.size / 2"),
            ("x = \"#{\"}\"}\"", "x = \"______\""),
            ("{a: 1, :b => 2}", "{a: 1, '' => 2}"),
            ("a ? b : c", "a ? b : c"),
            ("X::Y", "X::Y"),
            ("x = 'é'", "x = '__'"),
        ];
        for (text, want) in cases {
            assert_eq!(masked(text), want, "{text}");
        }
    }

    #[test]
    fn heredocs_are_blanked() {
        let text = "a = f(<<-A, <<~'B')\n  A's\n  A\n  \"b\n  B\nc = 1\n";
        let want = "a = f('__', '____')\n     \n   \n    \n   \nc = 1\n";
        assert_eq!(masked(text), want);
    }

    #[test]
    fn unterminated_literals_name_their_line() {
        for (text, what, line) in [
            ("a\n\"x", "string", 2),
            ("a = 'x", "character literal", 1),
            ("x = <<-A\nbody\n", "heredoc", 1),
            ("x = %(a (b)", "string", 1),
            ("x = \"#{a\"", "string", 1),
            ("x = 1 + /a", "regular expression", 1),
        ] {
            assert_eq!(
                lex(text).unwrap_err(),
                ReadError::Unterminated { what, line },
                "{text}"
            );
        }
        let deep = "\"#{".repeat(100);
        assert!(matches!(lex(&deep), Err(ReadError::TooDeep { line: 1 })));
    }
}

fn kinds(init: &Initializer) -> Vec<StoreKind> {
    init.stores.iter().map(|s| s.kind).collect()
}

fn chosen(init: &Initializer, env: &str) -> StoreKind {
    match init.select(env) {
        Selection::Store(s) => s.kind,
        other => panic!("{env}: {other:?}"),
    }
}

fn undecided<'a>(init: &'a Initializer, env: &str) -> Undecided<'a> {
    match init.select(env) {
        Selection::Undecidable(u) => u,
        other => panic!("{env}: expected an undecidable choice, got {other:?}"),
    }
}

#[test]
fn stores_named_inside_literals_are_not_code() {
    let heredoc = "Session.configure do |c|\n  c.store = DatabaseStore.new(table: \"sessions\")\nend\nHELP = <<-T\n  Example: RedisStore.new(prefix: \"example:\") isn't it\n  T\n";
    let init = Initializer::parse(heredoc).expect("the test input");
    assert_eq!(kinds(&init), [StoreKind::Database]);
    assert_eq!(init.stores[0].line, 2);

    let percent = "c.store = MemoryStore.new\nOLD = %(it's RedisStore.new(prefix: \"old:\") (once))\nc.store = CookieStore.new if false\n";
    let init = Initializer::parse(percent).expect("the test input");
    assert_eq!(kinds(&init), [StoreKind::Memory, StoreKind::Cookie]);
    assert_eq!(init.stores[1].line, 3);

    for text in [
        "QUOTE = /\"/\nc.store = MemoryStore.new\nR = %r{RedisStore.new}i\n",
        "X = 'R'\nY = :\"RedisStore.new\"\nZ = %w(RedisStore.new)\nc.store = MemoryStore.new\n",
        "A = <<-'A'\n  #{RedisStore.new}\n  A\nB = \"#{\"}\" + RedisStore.new.to_s}\"\nc.store = MemoryStore.new\n",
        "x = `echo RedisStore.new`\nc.store = MemoryStore.new # RedisStore.new\n",
    ] {
        let init = Initializer::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(kinds(&init), [StoreKind::Memory], "{text}");
    }
}

#[test]
fn conditions_it_cannot_evaluate_make_the_choice_undecidable() {
    let flag = "{% if flag?(:release) %}\n  c.store = RedisStore.new(prefix: \"a:\")\n{% else %}\n  c.store = MemoryStore.new\n{% end %}\n";
    let init = Initializer::parse(flag).expect("the test input");
    let u = undecided(&init, "production");
    assert_eq!(
        u.candidates.iter().map(|s| s.line).collect::<Vec<_>>(),
        [2, 4]
    );
    assert_eq!(u.conditions, ["flag?(:release)"]);
    assert!(!u.maybe_none);

    let ternary = "c.store = fast? ? RedisStore.new(prefix: \"a:\") : MemoryStore.new\n";
    let init = Initializer::parse(ternary).expect("the test input");
    let u = undecided(&init, "development");
    assert_eq!(u.candidates.len(), 2);
    assert_eq!(u.conditions, ["fast?"]);

    let one_line =
        "if File.exists?(\"x\") then c.store = RedisStore.new else c.store = MemoryStore.new end\n";
    let init = Initializer::parse(one_line).expect("the test input");
    let u = undecided(&init, "production");
    assert_eq!(u.candidates.len(), 2);

    let postfix = "c.store = RedisStore.new\nc.store = MemoryStore.new unless ready?\n";
    let init = Initializer::parse(postfix).expect("the test input");
    let u = undecided(&init, "production");
    assert_eq!(u.conditions, ["ready?"]);

    // A postfix condition after a macro tag is about its own statement only.
    let after_tag =
        "{% if flag?(:release) %}\n  c.store = MemoryStore.new\n{% end %}\nx = 1 if y\n";
    let init = Initializer::parse(after_tag).expect("the test input");
    assert_eq!(
        init.stores[0].branches,
        [Branch::Unknown("flag?(:release)".into(), Vec::new())]
    );

    // `unless X` is `if !X`: with `if X` the two cover every case.
    let both = "if ready?\n  c.store = RedisStore.new(prefix: \"a:\")\nend\nc.store = RedisStore.new(prefix: \"a:\") unless ready?\n";
    assert_eq!(
        chosen(&Initializer::parse(both).expect("the test input"), "x"),
        StoreKind::Redis
    );
    let macros = "{% unless flag?(:release) %}\n  c.store = MemoryStore.new\n{% end %}\n{% if flag?(:release) %}\n  c.store = MemoryStore.new\n{% end %}\n";
    assert_eq!(
        chosen(&Initializer::parse(macros).expect("the test input"), "x"),
        StoreKind::Memory
    );

    // Candidates that clear the same sessions leave nothing to decide.
    let same = "{% if flag?(:release) %}\n  c.store = RedisStore.new(prefix: \"a:\", ttl: 1.day)\n{% else %}\n  c.store = RedisStore.new(prefix: \"a:\")\n{% end %}\n";
    assert_eq!(
        chosen(&Initializer::parse(same).expect("the test input"), "x"),
        StoreKind::Redis
    );
}

#[test]
fn conditions_on_azu_env_are_followed_in_every_form() {
    let postfix = "c.store = RedisStore.new\nc.store = MemoryStore.new unless ENV[\"AZU_ENV\"]? == \"production\"\n";
    let init = Initializer::parse(postfix).expect("the test input");
    assert_eq!(chosen(&init, "production"), StoreKind::Redis);
    assert_eq!(chosen(&init, "development"), StoreKind::Memory);

    let one_line = "if ENV[\"AZU_ENV\"]? == \"production\" then c.store = RedisStore.new else c.store = MemoryStore.new end\n";
    let init = Initializer::parse(one_line).expect("the test input");
    assert_eq!(chosen(&init, "production"), StoreKind::Redis);
    assert_eq!(chosen(&init, "development"), StoreKind::Memory);

    let semicolons = "if ENV[\"AZU_ENV\"]? == \"production\"; c.store = RedisStore.new; else c.store = MemoryStore.new; end\n";
    let init = Initializer::parse(semicolons).expect("the test input");
    assert_eq!(chosen(&init, "production"), StoreKind::Redis);
    assert_eq!(chosen(&init, "development"), StoreKind::Memory);

    let ternary =
        "c.store = ENV[\"AZU_ENV\"]? == \"production\" ? RedisStore.new : MemoryStore.new\n";
    let init = Initializer::parse(ternary).expect("the test input");
    assert_eq!(chosen(&init, "production"), StoreKind::Redis);
    assert_eq!(chosen(&init, "test"), StoreKind::Memory);

    // An `elsif` holds only when the `if` before it does not.
    let elsif = "if ENV[\"AZU_ENV\"]? != \"test\"\n  c.store = RedisStore.new\nelsif ENV[\"AZU_ENV\"]? != \"production\"\n  c.store = MemoryStore.new\nend\n";
    let init = Initializer::parse(elsif).expect("the test input");
    assert_eq!(chosen(&init, "development"), StoreKind::Redis);
    assert_eq!(chosen(&init, "test"), StoreKind::Memory);
}

#[test]
fn required_project_files_are_read_once_each() {
    let dir = tempfile::tempdir().expect("the test input");
    let init_dir = dir.path().join("src/initializers");
    std::fs::create_dir_all(init_dir.join("stores")).expect("the test input");
    let write =
        |rel: &str, text: &str| std::fs::write(init_dir.join(rel), text).expect("the test input");
    write(
        "session_store.cr",
        "require \"./session\"\nrequire \"./stores/*\"\nSTORE = RedisStore.new(prefix: \"r:\")\n",
    );
    write(
        "stores/a.cr",
        "require \"../session_store\"\n# MemoryStore.new\n",
    );
    let main = "require \"./session_store\"\nrequire \"json\"\nSession.configure { |c| c.store = STORE }\n";
    write("session.cr", main);
    let path = init_dir.join("session.cr");
    let init = Initializer::parse_file(main, &path).expect("the test input");
    assert_eq!(kinds(&init), [StoreKind::Redis]);
    assert_eq!(init.stores[0].line, 3);
    assert_eq!(
        init.stores[0].place(dir.path()),
        "line 3 of src/initializers/session_store.cr"
    );

    let missing = "require \"./nowhere\"\n";
    match Initializer::parse_file(missing, &path).unwrap_err() {
        ReadError::Require { file, .. } => assert!(file.ends_with("src/initializers/nowhere.cr")),
        other => panic!("{other:?}"),
    }
    write("broken.cr", "x = \"open\n");
    let err = Initializer::parse_file("require \"./broken\"\n", &path).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("broken.cr`, the string on line 1 is never closed"),
        "{err}"
    );
}

#[test]
fn reading_is_linear() {
    // 10 MB of store lines, strings, comments and branches: the old reader took minutes on
    // a quarter of this. The bound is loose for debug builds; bench/ has the real figure.
    let chunk = "if ENV[\"AZU_ENV\"]? == \"production\"\n  c.store = RedisStore.new(prefix: \"a:#{ENV[\"X\"]}\") # note\nelse\n  c.store = MemoryStore.new unless x ? y : z\nend\n";
    let text = chunk.repeat(10 * 1024 * 1024 / chunk.len());
    let start = std::time::Instant::now();
    let init = Initializer::parse(&text).expect("the test input");
    assert_eq!(init.stores.len(), 2 * (10 * 1024 * 1024 / chunk.len()));
    let took = start.elapsed();
    // Quadratic reading took over a thousand times longer than this; a loaded debug build
    // takes seconds (bench/initializer_bench.py measures the release build).
    let bound = if cfg!(debug_assertions) { 90 } else { 5 };
    assert!(took.as_secs() < bound, "10 MB read in {took:?}");
}

#[test]
fn every_cut_of_a_file_reads_or_fails_cleanly_and_hides_literals_after_it() {
    // The fuzz target `lexer`'s property, on every prefix of the seeds: a text that reads
    // still reads, with the same stores, when a closed literal naming a store follows it.
    let seeds = [
        include_str!("../../fuzz/seeds/initializer/literals.cr"),
        include_str!("../../fuzz/seeds/initializer/forms.cr"),
        include_str!("../../fuzz/seeds/initializer/per_env.cr"),
    ];
    for seed in seeds {
        for cut in (0..=seed.len()).filter(|&i| seed.is_char_boundary(i)) {
            let text = &seed[..cut];
            let Ok(init) = Initializer::parse(text) else {
                continue;
            };
            let more = format!("{text}\nNOTE = \"RedisStore.new #{{\"}}\"}}\" # MemoryStore.new\n");
            let after = Initializer::parse(&more)
                .unwrap_or_else(|e| panic!("{e} after a readable text:\n{text}"));
            assert_eq!(init.stores.len(), after.stores.len(), "{text}");
            for env in ["production", "development"] {
                let _ = init.select(env);
            }
        }
    }
}

mod discover;
mod environments;
mod shard;
