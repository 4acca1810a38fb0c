//! Conditions on any variable and on Azu's environment, evaluated from a lookup.

use super::super::*;

/// A lookup holding exactly `pairs`.
fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn pick(text: &str, env: &[(&str, &str)]) -> Option<StoreKind> {
    let init = Initializer::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    match init.select(&vars(env)) {
        Selection::Store(s) => Some(s.kind),
        Selection::NoneForEnv => None,
        other => panic!("{text}\n{env:?}: {other:?}"),
    }
}

/// `if COND` / `else`: Redis when it holds, Memory when not.
fn if_else(cond: &str) -> String {
    format!(
        "if {cond}\n  c.store = RedisStore.new(prefix: \"r:\")\nelse\n  c.store = MemoryStore.new\nend\n"
    )
}

const R: Option<StoreKind> = Some(StoreKind::Redis);
const M: Option<StoreKind> = Some(StoreKind::Memory);

// Long: one table of conditions and environments, kept whole so it reads as a list.
#[test]
fn any_variable_in_if_conditions() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<StoreKind>);
    let cases: &[Case] = &[
        (
            r#"ENV["CRYSTAL_ENV"]? == "production""#,
            &[("CRYSTAL_ENV", "production")],
            R,
        ),
        (r#"ENV["CRYSTAL_ENV"]? == "production""#, &[], M),
        (r#"ENV["CRYSTAL_ENV"]? != "development""#, &[], M),
        (
            r#"ENV["CRYSTAL_ENV"] != "development""#,
            &[("CRYSTAL_ENV", "test")],
            R,
        ),
        (
            r#""production" == ENV["APP_ENV"]?"#,
            &[("APP_ENV", "production")],
            R,
        ),
        // An unset variable is nil: unequal to every string.
        (r#"ENV["APP_ENV"]? != "production""#, &[], R),
        (r#"ENV["APP_ENV"]? == "development""#, &[], M),
        (
            r#"ENV.fetch("APP_ENV", "production") == "production""#,
            &[],
            R,
        ),
        (
            r#"ENV.fetch("APP_ENV", "production") == "production""#,
            &[("APP_ENV", "dev")],
            M,
        ),
        (
            r#"ENV["A"]? == "1" && ENV["B"]? == "2""#,
            &[("A", "1"), ("B", "2")],
            R,
        ),
        (r#"ENV["A"]? == "1" && ENV["B"]? == "2""#, &[("A", "1")], M),
        (r#"ENV["A"]? == "1" || ENV["B"]? == "2""#, &[("B", "2")], R),
        (
            r#"(ENV["A"]? == "1" || ENV["B"]? == "2") && ENV["C"]? != "x""#,
            &[("A", "1"), ("C", "x")],
            M,
        ),
        (r#"!(ENV["A"]? == "1")"#, &[], R),
        (
            r#"ENV["CRYSTAL_ENV"]?.in?("production", "staging")"#,
            &[("CRYSTAL_ENV", "staging")],
            R,
        ),
        (
            r#"ENV["CRYSTAL_ENV"]?.in?(["production", "staging"])"#,
            &[],
            M,
        ),
    ];
    for (cond, env, want) in cases {
        assert_eq!(pick(&if_else(cond), env), *want, "{cond} with {env:?}");
    }
    // `unless`, `elsif` and postfix forms take the same conditions.
    let unless = "unless ENV[\"CRYSTAL_ENV\"]? == \"production\"\n  c.store = MemoryStore.new\nelse\n  c.store = RedisStore.new\nend\n";
    assert_eq!(pick(unless, &[("CRYSTAL_ENV", "production")]), R);
    assert_eq!(pick(unless, &[]), M);
    let postfix = "c.store = MemoryStore.new\nc.store = RedisStore.new if ENV[\"DEPLOY\"]? == \"yes\" || Blog.env.production?\n";
    assert_eq!(pick(postfix, &[("DEPLOY", "yes")]), R);
    assert_eq!(pick(postfix, &[("CRYSTAL_ENV", "production")]), R);
    assert_eq!(pick(postfix, &[("AZU_ENV", "production")]), M);
}

#[test]
fn case_on_any_variable() {
    let text = "case ENV[\"CRYSTAL_ENV\"]?\nwhen \"production\", \"staging\"\n  Session.configure { |c| c.store = RedisStore.new(prefix: \"r:\") }\nelse\n  Session.configure { |c| c.store = MemoryStore.new }\nend\n";
    assert_eq!(pick(text, &[("CRYSTAL_ENV", "production")]), R);
    assert_eq!(pick(text, &[("CRYSTAL_ENV", "staging")]), R);
    assert_eq!(pick(text, &[("AZU_ENV", "production")]), M);
    assert_eq!(pick(text, &[]), M);
    let fetch = "case ENV.fetch(\"APP_ENV\", \"staging\")\nwhen \"staging\" then c.store = RedisStore.new\nwhen \"dev\" then c.store = MemoryStore.new\nend\n";
    assert_eq!(pick(fetch, &[]), R);
    assert_eq!(pick(fetch, &[("APP_ENV", "dev")]), M);
    assert_eq!(pick(fetch, &[("APP_ENV", "other")]), None);
}

/// `case ENV["A"]? || ENV["B"]? || "d"`: the first variable set, else the literal (what setup
/// writes); any other chain is a condition this reader cannot evaluate.
#[test]
fn case_on_a_chain_of_variables() {
    let text = "case ENV[\"AZU_ENV\"]? || ENV[\"CRYSTAL_ENV\"]? || \"development\"\nwhen \"development\", \"test\"\n  c.store = MemoryStore.new\nelse\n  c.store = RedisStore.new(prefix: \"r:\")\nend\n";
    assert_eq!(pick(text, &[]), M);
    assert_eq!(pick(text, &[("CRYSTAL_ENV", "test")]), M);
    assert_eq!(pick(text, &[("CRYSTAL_ENV", "production")]), R);
    assert_eq!(pick(text, &[("AZU_ENV", "production")]), R);
    assert_eq!(
        pick(
            text,
            &[("AZU_ENV", "development"), ("CRYSTAL_ENV", "production")]
        ),
        M
    );
    assert_eq!(
        pick(text, &[("AZU_ENV", "staging"), ("CRYSTAL_ENV", "test")]),
        R
    );
    let init = Initializer::parse(text).expect("parses");
    assert_eq!(init.variables(), ["AZU_ENV", "CRYSTAL_ENV"]);
    // `.presence` (an empty value as unset, as the tool's environment has it) reads the same.
    let presence = text.replace("]?", "]?.presence");
    assert_eq!(pick(&presence, &[("AZU_ENV", "staging")]), R);
    assert_eq!(pick(&presence, &[("CRYSTAL_ENV", "test")]), M);

    // Without a literal the last variable's own default applies: CRYSTAL_ENV's is development.
    let bare = text.replace(" || \"development\"", "");
    assert_eq!(pick(&bare, &[]), M);
    let other = text
        .replace("CRYSTAL_ENV", "APP_ENV")
        .replace(" || \"development\"", "");
    assert_eq!(pick(&other, &[]), R, "APP_ENV unset is nil");
    // A fetch with a default always has a value: a chain that goes on after one is not read.
    let fetch = text.replace("ENV[\"AZU_ENV\"]?", "ENV.fetch(\"AZU_ENV\", \"x\")");
    let init = Initializer::parse(&fetch).expect("parses");
    assert!(
        matches!(init.select(&vars(&[])), Selection::Undecidable(_)),
        "{fetch}"
    );
    let last = "case ENV[\"A\"]? || ENV.fetch(\"B\", \"test\")\nwhen \"test\"\n  c.store = MemoryStore.new\nend\n";
    assert_eq!(pick(last, &[]), M);
    assert_eq!(pick(last, &[("A", "x")]), None);
    // A literal first, or a method call in the chain: not evaluated.
    for subject in [
        "\"development\" || ENV[\"A\"]?",
        "ENV[\"A\"]? || ENV[\"B\"]?.try(&.downcase)",
        "ENV[\"A\"]? || \"a\" || \"b\"",
    ] {
        let t = format!(
            "case {subject}\nwhen \"a\"\n  c.store = MemoryStore.new\nelse\n  c.store = RedisStore.new\nend\n"
        );
        let init = Initializer::parse(&t).expect("parses");
        assert!(
            matches!(init.select(&vars(&[])), Selection::Undecidable(_)),
            "{t}"
        );
    }
}

#[test]
fn azu_environment_forms() {
    let conds = [
        "Blog.env.production?",
        "Azu.env.production?",
        "Azu::CONFIG.env.production?",
        "Blog::CONFIG.env.production?",
        "Blog.env == Azu::Environment::Production",
        "Azu::Environment::Production == Blog.env",
        "Blog.env.in?(Azu::Environment::Production, Azu::Environment::Staging)",
        "Blog.env.in?([Azu::Environment::Production, Azu::Environment::Staging])",
        "!Blog.env.development? && !Blog.env.test? && !Blog.env.build?",
    ];
    for cond in conds {
        let text = if_else(cond);
        assert_eq!(pick(&text, &[("CRYSTAL_ENV", "production")]), R, "{cond}");
        // Azu::Environment.parse ignores case.
        assert_eq!(pick(&text, &[("CRYSTAL_ENV", "PRODUCTION")]), R, "{cond}");
        assert_eq!(pick(&text, &[]), M, "{cond}");
        assert_eq!(pick(&text, &[("CRYSTAL_ENV", "test")]), M, "{cond}");
        // AZU_ENV is not what Azu reads.
        assert_eq!(pick(&text, &[("AZU_ENV", "production")]), M, "{cond}");
    }
    let ne = if_else("Blog.env != Azu::Environment::Development");
    assert_eq!(pick(&ne, &[]), M);
    assert_eq!(pick(&ne, &[("CRYSTAL_ENV", "pipeline")]), R);
}

#[test]
fn case_on_the_app_environment_as_a_statement_and_a_value() {
    let statement = "case Blog.env\nwhen .production?, .staging?\n  c.store = RedisStore.new(prefix: \"r:\")\nwhen .test?\n  c.store = MemoryStore.new\nelse\n  c.store = DatabaseStore.new\nend\n";
    let value = "Session.configure do |c|\n  c.store = case Blog.env\n            when .production?, .staging?\n              RedisStore.new(prefix: \"r:\")\n            when Azu::Environment::Test then MemoryStore.new\n            else DatabaseStore.new\n            end\nend\n";
    for text in [statement, value] {
        assert_eq!(pick(text, &[("CRYSTAL_ENV", "staging")]), R, "{text}");
        assert_eq!(pick(text, &[("CRYSTAL_ENV", "test")]), M, "{text}");
        assert_eq!(pick(text, &[]), Some(StoreKind::Database), "{text}");
    }
}

#[test]
fn a_crystal_env_naming_no_environment_is_undecidable_and_named() {
    let text = if_else("Blog.env.production?");
    let init = Initializer::parse(&text).expect("the test input");
    match init.select(&vars(&[("CRYSTAL_ENV", "prod")])) {
        Selection::Undecidable(u) => {
            assert_eq!(u.conditions, ["Blog.env.production?"]);
            assert_eq!(u.variables, ["CRYSTAL_ENV"]);
        }
        other => panic!("{other:?}"),
    }
    // A string comparison on it is still told.
    let text = if_else("ENV[\"CRYSTAL_ENV\"]? == \"prod\"");
    assert_eq!(pick(&text, &[("CRYSTAL_ENV", "prod")]), R);
}

#[test]
fn conditions_are_quoted_as_written() {
    // The note quotes the original text, never the masked one; comments are left out.
    let text = "case ENV[\"REGION\"]?.try(&.downcase)\nwhen \"eu\", \"us\" # regions\n  c.store = RedisStore.new(prefix: \"r:\")\nelse\n  c.store = MemoryStore.new\nend\n";
    let init = Initializer::parse(text).expect("the test input");
    match init.select("production") {
        Selection::Undecidable(u) => {
            assert_eq!(u.conditions, ["when \"eu\", \"us\""]);
            assert!(u.variables.is_empty());
            // The subject reads REGION: it decides which `when` applies.
            assert_eq!(u.reads, ["REGION"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(init.variables(), Vec::<String>::new());
    let init = Initializer::parse(&if_else("Blog.env.test? || ENV[\"X\"]? == \"1\""))
        .expect("the test input");
    assert_eq!(init.variables(), ["CRYSTAL_ENV", "X"]);
}

/// Each postfix condition is its own statement's: two on consecutive lines do not stack.
#[test]
fn postfix_conditions_on_consecutive_lines_are_each_their_own() {
    let text = "c.store = MemoryStore.new\nc.store = RedisStore.new(prefix: \"p:\") if ENV[\"APP_ENV\"]? == \"production\"\nc.store = CookieStore.new unless ENV[\"APP_ENV\"]? != \"staging\"\n";
    assert_eq!(pick(text, &[("APP_ENV", "production")]), R);
    assert_eq!(
        pick(text, &[("APP_ENV", "staging")]),
        Some(StoreKind::Cookie)
    );
    assert_eq!(pick(text, &[]), M);
}

/// A condition it cannot evaluate is quoted as written and names the variables it reads,
/// not those named inside a string.
#[test]
fn a_condition_it_cannot_evaluate_names_the_variables_it_reads() {
    let cond = r#"ENV["REGION"]?.try(&.starts_with?("eu")) && ENV.fetch("TIER", "x").size > 1 && log("ENV[\"NOT\"]")"#;
    let init = Initializer::parse(&if_else(cond)).expect("the test input");
    match init.select("production") {
        Selection::Undecidable(u) => {
            assert_eq!(u.conditions, [cond]);
            assert_eq!(u.reads, ["REGION", "TIER"]);
            assert!(u.variables.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

/// Many distinct conditions it cannot evaluate are gathered in linear time (they were
/// de-duplicated by a linear search each: 20,000 took 13 s, 50,000 80 s).
#[test]
fn many_distinct_open_conditions_are_gathered_in_linear_time() {
    const N: usize = 20_000;
    let mut text = String::from("Session.configure do |c|\n");
    for i in 0..N {
        text.push_str(&format!(
            "  c.store = RedisStore.new(prefix: \"p{}:\") if ENV[\"V{i}\"]?.try(&.empty?)\n",
            i % 3
        ));
    }
    text.push_str("end\n");
    let init = Initializer::parse(&text).expect("the test input");
    let start = std::time::Instant::now();
    let selection = init.select("production");
    let took = start.elapsed();
    match selection {
        Selection::Undecidable(u) => {
            assert_eq!(u.conditions.len(), N);
            assert_eq!(u.reads.len(), N);
        }
        other => panic!("{other:?}"),
    }
    assert!(took.as_secs_f64() < 1.0, "select took {took:?}");
}
