//! Which conditions each point of the file lies under: `if`/`unless`/`elsif`/`else`,
//! `case`/`when`, postfix `A if cond` and `A unless cond`, ternaries `cond ? A : B`, and macro
//! `{% if %}` tags, followed token by token over the masked text (where every literal is a
//! blob and every comment blank, so the only words left are code).
//!
//! A condition [`cond`] can read (on `ENV["X"]`, or Azu's `App.env`) becomes a branch that
//! can be evaluated; any other becomes [`Branch::Unknown`], so that a store under it is never taken as if it were unconditional.

pub mod cond;
mod split;
mod walk;

use super::Branch;
use cond::Subject;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `if`/`unless` (and a macro `{% if %}`).
    If,
    /// `case` (its subject is the frame's).
    Case,
    /// A block that selects nothing: `do`, `begin`, `def`, `class`, loops...
    Block,
    /// `(` or `[`: a newline inside does not end a statement.
    Paren,
    /// `{`: a block or a literal.
    Brace,
    /// `cond ? A : B`, and whether the `:` was seen.
    Ternary { in_else: bool },
}

struct Frame {
    kind: Kind,
    /// The conditions of the arms before the current one, as written: all false here.
    prev: Vec<Branch>,
    /// The current arm's own condition.
    own: Option<Branch>,
    /// What a `case` is on.
    subject: Subject,
    /// The enclosing statement's first point and expression start, restored at the close.
    saved_stmt: usize,
    saved_expr: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    Start,
    Value,
    Dot,
}

fn negate(b: &Branch) -> Branch {
    match b {
        Branch::Known { test, holds, text } => Branch::Known {
            test: test.clone(),
            holds: !holds,
            text: text.clone(),
        },
        Branch::Unknown(c, r) => Branch::UnknownNot(c.clone(), r.clone()),
        Branch::UnknownNot(c, r) => Branch::Unknown(c.clone(), r.clone()),
    }
}

static ENV_READ_RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"\bENV\s*(?:\[\s*"([A-Za-z_][A-Za-z0-9_]*)"|\.\s*fetch\s*\(\s*"([A-Za-z_][A-Za-z0-9_]*)")"#)
        .expect("a valid regex")
});

/// The variables `orig` reads as `ENV["X"]`, `ENV["X"]?` or `ENV.fetch("X", ...)` where it
/// is code (`masked` says where: inside a literal, `ENV` is masked), in order, each once.
fn env_reads(orig: &str, masked: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in ENV_READ_RE.captures_iter(orig) {
        let Some(whole) = c.get(0) else { continue };
        if masked.get(whole.start()..whole.start() + 3) != Some(&b"ENV"[..]) {
            continue;
        }
        if let Some(name) = c.get(1).or_else(|| c.get(2))
            && !out.iter().any(|x| x == name.as_str())
        {
            out.push(name.as_str().to_string());
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Where a condition that starts at `from` ends: a newline (unless after a comma or an
/// operator that continues it), `;`, `then`, or a bracket it did not open.
fn clause_end(masked: &[u8], from: usize) -> usize {
    let mut depth = 0usize;
    let mut i = from;
    let mut last = b' ';
    while i < masked.len() {
        let b = masked[i];
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => return i,
            b')' | b']' | b'}' => depth -= 1,
            b'"' | b'\'' => {
                // A blob: its body holds no delimiter.
                let close = masked[i + 1..].iter().position(|&c| c == b);
                i += close.map_or(masked.len(), |c| c + 1);
            }
            b'\n' if depth == 0 && !matches!(last, b',' | b'|' | b'&' | b'=' | b'\\' | b'+') => {
                return i;
            }
            b';' if depth == 0 => return i,
            b't' if depth == 0
                && masked[i..].starts_with(b"then")
                && (i == 0 || !is_ident(masked[i - 1]))
                && !masked.get(i + 4).is_some_and(|&c| is_ident(c)) =>
            {
                return i;
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            last = b;
        }
        i += 1;
    }
    masked.len()
}

struct Walk<'a> {
    orig: &'a str,
    masked: &'a [u8],
    points: &'a [usize],
    out: Vec<Vec<Branch>>,
    code: Vec<Frame>,
    macros: Vec<Frame>,
    /// The first point of the current statement, and where the current expression starts.
    stmt: usize,
    expr: usize,
}

impl Walk<'_> {
    /// The code between `from` and `to` as written, without the blanks (and comments)
    /// around it, and masked.
    fn code(&self, from: usize, to: usize) -> (&str, &[u8]) {
        let (mut a, mut b) = (from.min(to), to.min(self.masked.len()));
        while a < b && self.masked[a].is_ascii_whitespace() {
            a += 1;
        }
        while b > a && self.masked[b - 1].is_ascii_whitespace() {
            b -= 1;
        }
        match self.orig.get(a..b) {
            Some(o) => (o, &self.masked[a..b]),
            None => ("", &[]),
        }
    }

    fn text(&self, from: usize, to: usize) -> &str {
        self.code(from, to).0
    }

    /// The branch of the condition between `from` and `to` (`unless` negates it).
    fn cond(&self, from: usize, to: usize, negated: bool) -> Branch {
        let (orig, masked) = self.code(from, to);
        let text = orig.to_string();
        match cond::parse(orig, masked) {
            Some(test) => Branch::Known {
                test,
                holds: !negated,
                text,
            },
            None if negated => Branch::UnknownNot(text, env_reads(orig, masked)),
            None => Branch::Unknown(text, env_reads(orig, masked)),
        }
    }

    fn current(&self) -> Vec<Branch> {
        self.macros
            .iter()
            .chain(self.code.iter())
            .flat_map(|f| f.prev.iter().map(negate).chain(f.own.iter().cloned()))
            .collect()
    }

    fn push(&mut self, stack_is_macro: bool, kind: Kind, own: Option<Branch>, at: usize) {
        let frame = Frame {
            kind,
            prev: Vec::new(),
            own,
            subject: Subject::None,
            saved_stmt: self.stmt,
            saved_expr: self.expr,
        };
        if stack_is_macro {
            self.macros.push(frame);
        } else {
            self.code.push(frame);
        }
        self.stmt = self.out.len();
        self.expr = at;
    }

    fn pop(&mut self) {
        if let Some(f) = self.code.pop() {
            self.stmt = f.saved_stmt;
            self.expr = f.saved_expr;
        }
    }

    fn close_ternaries(&mut self) {
        while matches!(self.code.last(), Some(f) if matches!(f.kind, Kind::Ternary { .. })) {
            self.pop();
        }
    }

    /// The end of a statement: ternaries end, the next point starts a new statement.
    fn boundary(&mut self, at: usize) {
        self.close_ternaries();
        self.stmt = self.out.len();
        self.expr = at;
    }

    /// A new arm of the innermost `if`/`case` of `stack`: `cond` is its own condition (none
    /// for an `else`), and every earlier arm's condition is false.
    fn next_arm(frames: &mut [Frame], cond: Option<Branch>) {
        let Some(f) = frames.last_mut() else { return };
        if !matches!(f.kind, Kind::If | Kind::Case) {
            return;
        }
        f.prev.extend(f.own.take());
        f.own = cond;
    }

    /// The postfix `kw cond` at `from` (just past the keyword): the statement so far lies
    /// under it.
    fn postfix(&mut self, kw: &str, from: usize) -> usize {
        let end = clause_end(self.masked, from);
        let branch = match kw {
            "if" => self.cond(from, end, false),
            "unless" => self.cond(from, end, true),
            _ => {
                let (orig, masked) = self.code(from, end);
                Branch::Unknown(format!("{kw} {orig}"), env_reads(orig, masked))
            }
        };
        self.close_ternaries();
        for point in &mut self.out[self.stmt..] {
            point.push(branch.clone());
        }
        end
    }

    fn macro_tag(&mut self, content: &str) {
        let content = content.trim();
        let word_len = content.bytes().take_while(|&b| is_ident(b)).count();
        let (word, rest) = content.split_at(word_len);
        let rest = rest.trim();
        match word {
            "if" | "unless" => {
                let cond = rest.to_string();
                let own = if word == "if" {
                    Branch::Unknown(cond, Vec::new())
                } else {
                    Branch::UnknownNot(cond, Vec::new())
                };
                let at = self.expr;
                self.push(true, Kind::If, Some(own), at);
            }
            "elsif" => Self::next_arm(
                &mut self.macros,
                Some(Branch::Unknown(rest.to_string(), Vec::new())),
            ),
            "else" => Self::next_arm(&mut self.macros, None),
            "for" | "begin" | "verbatim" => {
                let at = self.expr;
                self.push(true, Kind::Block, None, at);
            }
            "end" => {
                self.macros.pop();
            }
            _ => {}
        }
        // A tag stands between statements: a postfix `if` after it is not about what came
        // before it.
        self.stmt = self.out.len();
    }
}

/// The conditions each of `points` (byte offsets, ascending) lies under, outermost first.
pub fn branches_at(orig: &str, masked: &str, points: &[usize]) -> Vec<Vec<Branch>> {
    let mut walk = Walk {
        orig,
        masked: masked.as_bytes(),
        points,
        out: Vec::with_capacity(points.len()),
        code: Vec::new(),
        macros: Vec::new(),
        stmt: 0,
        expr: 0,
    };
    walk.run();
    walk.out
}
