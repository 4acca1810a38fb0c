//! Crystal snippets with every kind of literal, each checked with Crystal's own parser
//! (`crystal tool format`) and read by the initializer reader: a store named inside a literal
//! or comment must not be found, a store in code must. Then random concatenations of them.

use std::process::{Command, Stdio};

use azu_session::initializer::{Initializer, StoreKind};

use StoreKind::{Database, Memory, Redis};

/// (snippet, the stores in its code, in order)
const CORPUS: &[(&str, &[StoreKind])] = &[
    (
        "x = \"a #{\"b #{\"RedisStore.new\"} c\"} d\"\ny = \"#{\"}\"} RedisStore.new\"\n",
        &[],
    ),
    ("x = %(RedisStore.new (nested (twice)) \"q\" it's)\n", &[]),
    (
        "a = %[RedisStore.new [x]]\nb = %{RedisStore.new {y}}\nc = %<RedisStore.new <z>>\nd = %|RedisStore.new|\n",
        &[],
    ),
    (
        "a = %q(RedisStore.new #{x})\nb = %Q(it's #{1} RedisStore.new)\nc = %w(RedisStore.new MemoryStore.new)\nd = %i(RedisStore new)\ne = %r(RedisStore.new \" )i\n",
        &[],
    ),
    (
        "a = <<-A\n  RedisStore.new(prefix: \"x:\") isn't code\n  A\nb = <<-'B'\n  #{RedisStore.new} it's\n  B\n",
        &[],
    ),
    (
        "puts(<<-X, <<-Y)\n  RedisStore.new\n  X\n  MemoryStore.new\n  Y\nc.store = DatabaseStore.new(table: \"t\")\n",
        &[Database],
    ),
    (
        "c = ['a', '\\n', '\\u{41}', '\\'', '\"', '#', 'é']\nc.store = MemoryStore.new\n",
        &[Memory],
    ),
    (
        "r = /RedisStore.new\"/i\nm = \"x\" =~ /a\\/b'/\nd = 10 / 2 / 1\ne = d // 2\nputs /RedisStore.new/\nf = foo.bar /RedisStore.new/\ng = a.size / 2 / 1\n",
        &[],
    ),
    (
        "s = [:RedisStore, :\"RedisStore.new\", :+, :[]?, :<=>]\nt = {a: 1, \"b\": :c}\n",
        &[],
    ),
    (
        "# c.store = RedisStore.new\nx = 1 # c.store = MemoryStore.new\n",
        &[],
    ),
    (
        "{% if flag?(:release) %}\n  c.store = Session::RedisStore(UserSession).new(prefix: \"a:\")\n{% else %}\n  c.store = MemoryStore.new\n{% end %}\n",
        &[Redis, Memory],
    ),
    ("{{ \"RedisStore.new\".id }}\n", &[]),
    ("x = `echo RedisStore.new it's`\n", &[]),
    (
        "c.store = x ? RedisStore.new(prefix: \"p:\") : MemoryStore.new\n",
        &[Redis, Memory],
    ),
    (
        "case ENV[\"AZU_ENV\"]?\nwhen \"production\" then c.store = RedisStore.new\nelse\n  c.store = MemoryStore.new\nend\n",
        &[Redis, Memory],
    ),
    (
        "c.store = DatabaseStore.new(table: \"s\") unless ENV[\"AZU_ENV\"]? == \"test\"\n",
        &[Database],
    ),
    (
        "if x; c.store = MemoryStore.new; else c.store = RedisStore\n  .new(prefix: \"q:\"); end\n",
        &[Memory, Redis],
    ),
];

fn crystal_available() -> bool {
    let found = Command::new("crystal")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        crate::support::servers::skip(
            "corpus",
            "`crystal` is not installed (apt-get install crystal)",
        );
    }
    found
}

fn kinds(text: &str) -> Vec<StoreKind> {
    let init = Initializer::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    init.stores.iter().map(|s| s.kind).collect()
}

#[test]
fn every_literal_in_the_corpus_is_crystal_and_hides_its_store_names() {
    if !crystal_available() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    for (snippet, want) in CORPUS {
        if let Some(Err(e)) = crate::support::crystal::parses(snippet, cache.path()) {
            panic!("Crystal refuses the snippet:\n{snippet}\n{e}");
        }
        assert_eq!(kinds(snippet), *want, "{snippet}");
    }
    // The initializers the undecidable-store tests run the binary on are Crystal too.
    for (init, _) in crate::initializer::undecidable_cases() {
        if let Some(Err(e)) = crate::support::crystal::parses(init, cache.path()) {
            panic!("Crystal refuses the initializer:\n{init}\n{e}");
        }
    }
}

#[test]
fn random_concatenations_of_the_corpus_read_as_their_parts() {
    if !crystal_available() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    // A fixed linear congruential sequence: the same cases every run.
    let mut seed: u64 = 0x5eed;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let mut accepted = 0;
    for _ in 0..25 {
        let mut text = String::new();
        let mut want = Vec::new();
        for _ in 0..1 + next(6) {
            let (snippet, kinds) = CORPUS[next(CORPUS.len())];
            text.push_str(snippet);
            want.extend_from_slice(kinds);
        }
        // Only what Crystal accepts must read as its parts.
        if let Some(Ok(())) = crate::support::crystal::parses(&text, cache.path()) {
            accepted += 1;
            assert_eq!(kinds(&text), want, "{text}");
        }
    }
    // Every snippet is a run of whole statements, so their concatenations are Crystal too.
    assert_eq!(accepted, 25);
}
