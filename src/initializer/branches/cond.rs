//! The conditions this reader can evaluate, and their evaluation against the environment.
//!
//! A condition names its variable: `ENV["X"]?`, `ENV["X"]` or `ENV.fetch("X", "d")` compared
//! with `==`/`!=` to strings (or `.in?("a", "b")`), and Azu's own environment, `<App>.env`,
//! `Azu.env`, `<App>::CONFIG.env`, with its predicates (`.production?`), `==`/`!=` a member of
//! `Azu::Environment`, or `.in?(...)` of members; joined with `&&`, `||`, `!` and parentheses.
//! A `case` may also be on a chain, `case ENV["AZU_ENV"]?.presence || ENV["CRYSTAL_ENV"]?.presence
//! || "development"` (what setup writes): the first variable set, else the literal.
//! Conditions are read from the masked text (where no literal hides an operator) and their
//! strings from the original at the same offsets.

use std::sync::LazyLock;

use regex::Regex;

use super::split::{parts, trimmed, wrapped};

/// The members of `Azu::Environment`, lower-cased as their predicates are named.
pub const AZU_ENVIRONMENTS: [&str; 8] = [
    "build",
    "development",
    "test",
    "integration",
    "acceptance",
    "pipeline",
    "staging",
    "production",
];

/// The variable Azu reads its environment from.
pub const CRYSTAL_ENV: &str = "CRYSTAL_ENV";

/// The value of an environment variable, as the app would see it (`None`: unset).
pub trait Vars {
    fn var(&self, name: &str) -> Option<String>;
}

/// One environment by name: `AZU_ENV` and `CRYSTAL_ENV` both hold it, nothing else is set.
impl Vars for str {
    fn var(&self, name: &str) -> Option<String> {
        matches!(name, "AZU_ENV" | CRYSTAL_ENV).then(|| self.to_string())
    }
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// A condition on the environment that this reader evaluates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// The first of `names` that is set (`ENV["A"]? || ENV["B"]?`; most often one), else
    /// `default`, is one of `values` (`eq`), or none of them.
    Var {
        names: Vec<String>,
        default: Option<String>,
        eq: bool,
        values: Vec<String>,
    },
    /// Azu's environment (read from `CRYSTAL_ENV`) is one of these members.
    Azu(Vec<String>),
    Not(Box<Test>),
    All(Vec<Test>),
    Any(Vec<Test>),
}

/// What `CRYSTAL_ENV` says Azu's environment is, as `Azu::Environment.parse` reads it
/// (`development` when unset); `Err` with the value when it names no member.
pub fn azu_environment<V: Vars + ?Sized>(vars: &V) -> Result<&'static str, String> {
    let raw = vars
        .var(CRYSTAL_ENV)
        .unwrap_or_else(|| "development".to_string());
    // `Enum.parse` compares `camelcase.downcase`: case and underscores do not count.
    let key: String = raw.chars().filter(|&c| c != '_').collect::<String>();
    let key = key.to_lowercase();
    AZU_ENVIRONMENTS
        .iter()
        .find(|m| **m == key)
        .copied()
        .ok_or(raw)
}

impl Test {
    /// Whether it holds; `None` when it cannot be told (`CRYSTAL_ENV` names no environment:
    /// the app itself would fail to start).
    pub fn eval<V: Vars + ?Sized>(&self, vars: &V) -> Option<bool> {
        match self {
            Test::Var {
                names,
                default,
                eq,
                values,
            } => {
                let value = names
                    .iter()
                    .find_map(|n| vars.var(n))
                    .or_else(|| default.clone());
                // An unset variable is `nil`: equal to no string.
                let found = value.is_some_and(|v| values.contains(&v));
                Some(found == *eq)
            }
            Test::Azu(members) => azu_environment(vars)
                .ok()
                .map(|env| members.iter().any(|m| m == env)),
            Test::Not(t) => t.eval(vars).map(|b| !b),
            Test::All(ts) => {
                // A false part decides, even beside one that cannot be told.
                let mut open = false;
                for t in ts {
                    match t.eval(vars) {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => open = true,
                    }
                }
                (!open).then_some(true)
            }
            Test::Any(ts) => {
                let mut open = false;
                for t in ts {
                    match t.eval(vars) {
                        Some(true) => return Some(true),
                        Some(false) => {}
                        None => open = true,
                    }
                }
                (!open).then_some(false)
            }
        }
    }

    /// The variables it reads, in order, each once.
    pub fn variables(&self, out: &mut Vec<String>) {
        let mut add = |name: &str| {
            if !out.iter().any(|x| x == name) {
                out.push(name.to_string());
            }
        };
        match self {
            Test::Var { names, .. } => names.iter().for_each(|n| add(n)),
            Test::Azu(_) => add(CRYSTAL_ENV),
            Test::Not(t) => t.variables(out),
            Test::All(ts) | Test::Any(ts) => ts.iter().for_each(|t| t.variables(out)),
        }
    }
}

/// A condition on the environment that a store's line lies under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Branch {
    /// A condition this reader evaluates, whether it must hold here (false in an `else`),
    /// and the condition as written.
    Known {
        test: Test,
        holds: bool,
        text: String,
    },
    /// A condition this reader cannot evaluate, as written, and the variables it reads
    /// (`ENV["X"]` in it, or in the subject of the `case` it is a `when` of).
    Unknown(String, Vec<String>),
    /// True when that condition is false (an `else`, a ternary's second value).
    UnknownNot(String, Vec<String>),
}

/// Where a branch stands in one environment.
pub enum Status<'a> {
    Holds,
    Fails,
    /// Not told: the condition as written, and whether it must be true.
    Open(&'a str, bool),
}

impl Branch {
    pub fn status<V: Vars + ?Sized>(&self, vars: &V) -> Status<'_> {
        match self {
            Branch::Known { test, holds, text } => match test.eval(vars) {
                Some(b) if b == *holds => Status::Holds,
                Some(_) => Status::Fails,
                None => Status::Open(text, *holds),
            },
            Branch::Unknown(c, _) => Status::Open(c, true),
            Branch::UnknownNot(c, _) => Status::Open(c, false),
        }
    }

    /// The condition it cannot evaluate, if it has one.
    pub fn unknown(&self) -> Option<&str> {
        match self {
            Branch::Unknown(c, _) | Branch::UnknownNot(c, _) => Some(c),
            _ => None,
        }
    }
}

/// `ENV["X"]`, `ENV["X"]?` (`.presence` after it changes nothing here: an empty value is
/// unset for this reader anyway), `ENV.fetch("X")` or `ENV.fetch("X", "default")`.
const ENV_EXPR: &str = r#"ENV\s*(?:\[\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\]\??(?:\s*\.\s*presence)?|\.fetch\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*(?:,\s*"([^"\\]*)"\s*)?\))"#;
const APP_ENV: &str = r"(?:::)?[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)*\s*\.\s*env";
const MEMBER: &str = r"(?:::)?Azu::Environment::([A-Z][A-Za-z0-9_]*)";
const STRING: &str = r#""([^"\\]*)""#;

fn re(pattern: String) -> Regex {
    Regex::new(&pattern).expect("a valid regex")
}

static ENV_ONLY_RE: LazyLock<Regex> = LazyLock::new(|| re(format!("^{ENV_EXPR}$")));
static ENV_CMP_RE: LazyLock<Regex> =
    LazyLock::new(|| re(format!(r"^{ENV_EXPR}\s*(==|!=)\s*{STRING}$")));
static ENV_CMP_REV_RE: LazyLock<Regex> =
    LazyLock::new(|| re(format!(r"^{STRING}\s*(==|!=)\s*{ENV_EXPR}$")));
static ENV_IN_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(format!(
        r"^{ENV_EXPR}\s*\.\s*in\?\s*\(\s*[\[{{]?((?:\s*{STRING}\s*,?)+)\s*[\]}}]?\s*\)$"
    ))
});
static APP_ONLY_RE: LazyLock<Regex> = LazyLock::new(|| re(format!("^{APP_ENV}$")));
static APP_PRED_RE: LazyLock<Regex> =
    LazyLock::new(|| re(format!(r"^{APP_ENV}\s*\.\s*([a-z]+)\?$")));
static APP_CMP_RE: LazyLock<Regex> =
    LazyLock::new(|| re(format!(r"^{APP_ENV}\s*(==|!=)\s*{MEMBER}$")));
static APP_CMP_REV_RE: LazyLock<Regex> =
    LazyLock::new(|| re(format!(r"^{MEMBER}\s*(==|!=)\s*{APP_ENV}$")));
static APP_IN_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(format!(
        r"^{APP_ENV}\s*\.\s*in\?\s*\(\s*[\[{{]?((?:\s*{MEMBER}\s*,?)+)\s*[\]}}]?\s*\)$"
    ))
});
static STRING_RE: LazyLock<Regex> = LazyLock::new(|| re(format!("^{STRING}$")));
static STRINGS_RE: LazyLock<Regex> = LazyLock::new(|| re(STRING.to_string()));
static MEMBER_RE: LazyLock<Regex> = LazyLock::new(|| re(format!("^{MEMBER}$")));
static MEMBERS_RE: LazyLock<Regex> = LazyLock::new(|| re(MEMBER.to_string()));
static PRED_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^\.\s*([a-z]+)\?$".to_string()));

/// A member's name as its predicate has it, if `Azu::Environment` has it.
fn member(name: &str) -> Option<String> {
    let lower = name.to_lowercase();
    AZU_ENVIRONMENTS.contains(&lower.as_str()).then_some(lower)
}

fn members(list: &str) -> Option<Vec<String>> {
    MEMBERS_RE
        .captures_iter(list)
        .map(|c| c.get(1).and_then(|m| member(m.as_str())))
        .collect()
}

/// The variable an `ENV` expression reads (as a chain of one), and its value when unset.
fn env_var(c: &regex::Captures, at: usize) -> Option<(Vec<String>, Option<String>)> {
    let name = c.get(at).or_else(|| c.get(at + 1))?.as_str().to_string();
    let default = match c.get(at + 2) {
        Some(d) => Some(d.as_str().to_string()),
        None if matches!(name.as_str(), "AZU_ENV" | CRYSTAL_ENV) => Some("development".into()),
        None => None,
    };
    Some((vec![name], default))
}

/// `ENV["A"]? || ENV["B"]? || "default"` (any number of reads, each as [`ENV_EXPR`] allows,
/// the literal optional): the variables in order, and the value when none is set. Without
/// a literal the last read's own default applies (`ENV.fetch`'s, or `development` for
/// `AZU_ENV`/`CRYSTAL_ENV`); a read with a default of its own ends the chain.
fn env_chain(orig: &str, masked: &[u8]) -> Option<(Vec<String>, Option<String>)> {
    if orig.len() != masked.len() {
        return None;
    }
    let items = parts(orig, masked, b"||");
    let mut names = Vec::new();
    let mut default = None;
    for (i, (o, _)) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        match ENV_ONLY_RE.captures(o) {
            Some(c) => {
                // `ENV.fetch("X", "d")` always has a value: nothing after it is ever read.
                if c.get(3).is_some() && !last {
                    return None;
                }
                let (mut name, own) = env_var(&c, 1)?;
                names.append(&mut name);
                if last {
                    default = own;
                }
            }
            None if last && i > 0 => default = Some(get(&STRING_RE.captures(o)?, 1)?.to_string()),
            None => return None,
        }
    }
    Some((names, default))
}

fn var_test(
    (names, default): (Vec<String>, Option<String>),
    op: Option<&str>,
    values: Vec<String>,
) -> Test {
    Test::Var {
        names,
        default,
        eq: op != Some("!="),
        values,
    }
}

fn get<'a>(c: &regex::Captures<'a>, i: usize) -> Option<&'a str> {
    c.get(i).map(|m| m.as_str())
}

/// One comparison, with no `&&`, `||` or `!` around it.
fn atom(orig: &str) -> Option<Test> {
    if let Some(c) = ENV_CMP_RE.captures(orig) {
        return Some(var_test(
            env_var(&c, 1)?,
            get(&c, 4),
            vec![get(&c, 5)?.into()],
        ));
    }
    if let Some(c) = ENV_CMP_REV_RE.captures(orig) {
        return Some(var_test(
            env_var(&c, 3)?,
            get(&c, 2),
            vec![get(&c, 1)?.into()],
        ));
    }
    if let Some(c) = ENV_IN_RE.captures(orig) {
        let values = STRINGS_RE
            .captures_iter(get(&c, 4)?)
            .filter_map(|s| get(&s, 1).map(str::to_string))
            .collect();
        return Some(var_test(env_var(&c, 1)?, None, values));
    }
    if let Some(c) = APP_PRED_RE.captures(orig) {
        return member(get(&c, 1)?).map(|m| Test::Azu(vec![m]));
    }
    for (re, op, name) in [(&*APP_CMP_RE, 1, 2), (&*APP_CMP_REV_RE, 2, 1)] {
        if let Some(c) = re.captures(orig) {
            let test = Test::Azu(vec![member(get(&c, name)?)?]);
            return Some(match get(&c, op) {
                Some("!=") => Test::Not(Box::new(test)),
                _ => test,
            });
        }
    }
    if let Some(c) = APP_IN_RE.captures(orig) {
        return members(get(&c, 1)?).map(Test::Azu);
    }
    None
}

/// The condition `orig` (with `masked`, the same bytes masked), if this reader can evaluate it.
pub fn parse(orig: &str, masked: &[u8]) -> Option<Test> {
    parse_depth(orig, masked, 0)
}

fn parse_depth(orig: &str, masked: &[u8], depth: usize) -> Option<Test> {
    if depth > 32 || orig.len() != masked.len() {
        return None;
    }
    let (a, b) = trimmed(masked, 0, masked.len());
    let (orig, masked) = (orig.get(a..b)?, &masked[a..b]);
    for (op, join) in [(&b"||"[..], Test::Any as fn(_) -> _), (b"&&", Test::All)] {
        let parts = parts(orig, masked, op);
        if parts.len() > 1 {
            return parts
                .into_iter()
                .map(|(o, m)| parse_depth(o, m, depth + 1))
                .collect::<Option<Vec<_>>>()
                .map(join);
        }
    }
    if wrapped(masked) {
        return parse_depth(
            &orig[1..orig.len() - 1],
            &masked[1..masked.len() - 1],
            depth + 1,
        );
    }
    if masked.first() == Some(&b'!') && masked.get(1) != Some(&b'=') {
        return parse_depth(&orig[1..], &masked[1..], depth + 1).map(|t| Test::Not(Box::new(t)));
    }
    atom(orig)
}

/// What a `case` is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `case` alone: each `when` is a condition.
    None,
    /// `case ENV["X"]?`, or `case ENV["A"]? || ENV["B"]? || "d"`: the variables, first
    /// set first, and the value when none is.
    Var(Vec<String>, Option<String>),
    /// `case App.env`.
    Azu,
    /// Anything else, and the variables it reads.
    Other(Vec<String>),
}

/// What `case orig` is on (`masked`: the same bytes masked; `reads`: the variables `orig`
/// reads, for a subject it cannot evaluate).
pub fn subject(orig: &str, masked: &[u8], reads: Vec<String>) -> Subject {
    if orig.is_empty() {
        return Subject::None;
    }
    if let Some((names, default)) = env_chain(orig, masked) {
        return Subject::Var(names, default);
    }
    if APP_ONLY_RE.is_match(orig) {
        return Subject::Azu;
    }
    Subject::Other(reads)
}

/// The test of a `when` with these values (`orig`/`masked`) on `subject`, if it is one.
pub fn when(subject: &Subject, orig: &str, masked: &[u8]) -> Option<Test> {
    if orig.len() != masked.len() {
        return None;
    }
    let values = parts(orig, masked, b",");
    match subject {
        Subject::Var(names, default) => {
            let values = values
                .iter()
                .map(|(o, _)| {
                    STRING_RE
                        .captures(o)
                        .and_then(|c| get(&c, 1))
                        .map(String::from)
                })
                .collect::<Option<Vec<_>>>()?;
            Some(var_test((names.clone(), default.clone()), None, values))
        }
        Subject::Azu => values
            .iter()
            .map(|(o, _)| {
                let c = PRED_RE.captures(o).or_else(|| MEMBER_RE.captures(o))?;
                member(get(&c, 1)?)
            })
            .collect::<Option<Vec<_>>>()
            .map(Test::Azu),
        Subject::None | Subject::Other(_) => None,
    }
}
