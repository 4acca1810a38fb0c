//! Crystal snippets with every kind of literal, each checked with Crystal's own parser
//! (`crystal tool format`) and read by the initializer reader: a store named inside a literal
//! or comment must not be found, a store in code must. Then random programs made of them,
//! with Crystal as the judge of which are Crystal.

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
    // Several heredocs on one line, with code after their starts, and a heredoc as an
    // argument with a call on it.
    (
        "x = [<<-A, <<-B, \"RedisStore.new\"]; c.store = RedisStore.new(prefix: \"h:\")\n  MemoryStore.new it's\n  A\n  DatabaseStore.new(table: \"t\")\n  B\n",
        &[Redis],
    ),
    (
        "c.store = RedisStore.new(prefix: <<-P.strip)\n  p: RedisStore.new\n  P\nputs <<-X + <<-'Y' + \"MemoryStore.new\"\n  X RedisStore.new\n  X\n  Y #{MemoryStore.new}\n  Y\n",
        &[Redis],
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

/// `<<~` is Ruby's, not Crystal's: Crystal refuses it (so an app cannot use it), and the
/// reader takes its body for a literal as `<<-`'s, so that no store named there is ever
/// taken for code. Should Crystal come to accept it, these join the corpus.
const NOT_CRYSTAL: &[(&str, &[StoreKind])] = &[
    (
        "a = <<~TXT\n    RedisStore.new(prefix: \"x:\") isn't code\n      #{1 + 1} it's \"q\"\n    TXT\nc.store = MemoryStore.new\n",
        &[Memory],
    ),
    ("b = <<~'RAW'\n  #{RedisStore.new} \\n it's\n  RAW\n", &[]),
    (
        "x = [<<~A, <<-B]; c.store = RedisStore.new(prefix: \"h:\")\n  MemoryStore.new it's\n  A\n  DatabaseStore.new(table: \"t\")\n  B\n",
        &[Redis],
    ),
];

#[test]
fn squiggly_heredocs_are_refused_by_crystal_and_read_as_literals() {
    if !crystal_available() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    for (snippet, want) in NOT_CRYSTAL {
        assert!(
            matches!(
                crate::support::crystal::parses(snippet, cache.path()),
                Some(Err(_))
            ),
            "Crystal now accepts this; move it to CORPUS:\n{snippet}"
        );
        assert_eq!(kinds(snippet), *want, "{snippet}");
    }
}

/// What a random program is built of besides the corpus: (before, after) around a body.
/// Some nest where Crystal says they cannot (a `def` in a `def`): Crystal refuses those.
const WRAPPERS: &[(&str, &str)] = &[
    ("Session.configure do |c|\n", "end\n"),
    ("begin\n", "end\n"),
    ("if ENV[\"A\"]? == \"1\"\n", "else\n  nil\nend\n"),
    ("{% if flag?(:release) %}\n", "{% end %}\n"),
    ("def configure(c)\n", "end\n"),
    ("class Config\n", "end\n"),
    ("x = [1].map do |i|\n", "  i\nend\n"),
    ("module App; ", "end\n"),
];

/// Lines that name a store but hold no code, put between the corpus pieces.
const FILLERS: &[&str] = &[
    "\n",
    "# c.store = RedisStore.new(prefix: \"comment:\")\n",
    "y = \"MemoryStore.new\" # it's a string\n",
    "; z = %(DatabaseStore.new)\n",
    "w = 'R' # RedisStore.new\n",
];

/// A random program: the corpus pieces in it, indented, between fillers, inside 0 to 2
/// wrappers; and the stores placed as code, in order.
fn random_program(next: &mut impl FnMut(usize) -> usize) -> (String, Vec<StoreKind>) {
    let mut body = String::new();
    let mut want = Vec::new();
    for _ in 0..1 + next(5) {
        if next(3) == 0 {
            body.push_str(FILLERS[next(FILLERS.len())]);
        }
        let (snippet, kinds) = CORPUS[next(CORPUS.len())];
        let indent = " ".repeat(next(3) * 2);
        for line in snippet.split_inclusive('\n') {
            body.push_str(&indent);
            body.push_str(line);
        }
        want.extend_from_slice(kinds);
    }
    for _ in 0..next(3) {
        let (before, after) = WRAPPERS[next(WRAPPERS.len())];
        body = format!("{before}{body}{after}");
    }
    (body, want)
}

/// Crystal as the judge: hundreds of random programs made of the corpus, all given to
/// `crystal tool format --check` at once; every one it accepts must read, with exactly the
/// stores placed in it as code. Fails in CI without `crystal`.
#[test]
fn crystal_judges_random_programs_from_the_corpus() {
    const N: usize = 500;
    if !crystal_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut seed: u64 = 0x0c0ffee;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let programs: Vec<(String, Vec<StoreKind>)> =
        (0..N).map(|_| random_program(&mut next)).collect();
    let mut files = Vec::new();
    for (i, (text, _)) in programs.iter().enumerate() {
        let name = format!("p{i}.cr");
        std::fs::write(dir.path().join(&name), text).unwrap();
        files.push(name);
    }
    let out = Command::new("crystal")
        .args(["tool", "format", "--check"])
        .args(&files)
        .current_dir(dir.path())
        .env("CRYSTAL_CACHE_DIR", dir.path().join(".cache"))
        .output()
        .expect("crystal runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `--check` exits 1 when a file is refused or would be reformatted; nothing else.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let refused: std::collections::HashSet<usize> = regex::Regex::new(r"error in '\./p(\d+)\.cr")
        .unwrap()
        .captures_iter(&stderr)
        .map(|c| c[1].parse().unwrap())
        .collect();
    for line in stderr.lines() {
        assert!(
            line.contains("syntax error in './p") || line.contains("formatting './p"),
            "crystal said something this test cannot judge by: {line}"
        );
    }
    for (i, (text, want)) in programs.iter().enumerate() {
        if !refused.contains(&i) {
            assert_eq!(
                kinds(text),
                *want,
                "p{i}.cr, which Crystal accepts:\n{text}"
            );
        }
    }
    let accepted = N - refused.len();
    eprintln!("crystal accepted {accepted} of {N} random programs");
    // Most are Crystal: the test judges the reader on hundreds, not a handful.
    assert!(
        accepted >= N * 2 / 3,
        "only {accepted} of {N} accepted:\n{stderr}"
    );
}
