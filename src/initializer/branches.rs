//! Which conditions each point of the file lies under: `if`/`unless`/`elsif`/`else`,
//! `case`/`when`, postfix `A if cond` and `A unless cond`, ternaries `cond ? A : B`, and macro
//! `{% if %}` tags, followed token by token over the masked text (where every literal is a
//! blob and every comment blank, so the only words left are code).
//!
//! A condition on `AZU_ENV` becomes a branch that can be evaluated; any other becomes
//! [`Branch::Unknown`], so that a store under it is never taken as if it were unconditional.

use std::sync::LazyLock;

use regex::Regex;

use super::Branch;

static ENV_COMPARE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^ENV\s*(?:\[\s*"AZU_ENV"\s*\]\??|\.fetch\(\s*"AZU_ENV"\s*(?:,\s*"[^"\\]*"\s*)?\))\s*(==|!=)\s*"([^"\\]*)"$"#)
        .expect("a valid regex")
});
static STRING_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^"([^"\\]*)"$"#).expect("a valid regex"));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `if`/`unless` (and a macro `{% if %}`).
    If,
    /// `case`: whether its subject is `AZU_ENV`, and whether it has a subject at all.
    Case { on_env: bool, subject: bool },
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
        Branch::EnvIn(v) => Branch::EnvNotIn(v.clone()),
        Branch::EnvNotIn(v) => Branch::EnvIn(v.clone()),
        Branch::Unknown(c) => Branch::UnknownNot(c.clone()),
        Branch::UnknownNot(c) => Branch::Unknown(c.clone()),
    }
}

/// The branch of an `if` condition (`unless` negates it).
pub fn if_branch(cond: &str, negated: bool) -> Branch {
    let cond = cond.trim();
    let inner = cond
        .strip_prefix('(')
        .and_then(|c| c.strip_suffix(')'))
        .unwrap_or(cond)
        .trim();
    match ENV_COMPARE_RE.captures(inner) {
        Some(c) => {
            let value = c.get(2).map(|m| m.as_str().to_string()).unwrap_or_default();
            let eq = c.get(1).map(|m| m.as_str()) == Some("==");
            if eq != negated {
                Branch::EnvIn(vec![value])
            } else {
                Branch::EnvNotIn(vec![value])
            }
        }
        None if negated => Branch::UnknownNot(cond.to_string()),
        None => Branch::Unknown(cond.to_string()),
    }
}

/// The `when` values, if they are all plain strings.
fn when_values(text: &str) -> Option<Vec<String>> {
    text.split(',')
        .map(|v| {
            STRING_RE
                .captures(v.trim())
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_string())
        })
        .collect()
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
    fn text(&self, from: usize, to: usize) -> &str {
        self.orig.get(from..to).unwrap_or("").trim()
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
        if !matches!(f.kind, Kind::If | Kind::Case { .. }) {
            return;
        }
        f.prev.extend(f.own.take());
        f.own = cond;
    }

    /// The postfix `kw cond` at `from` (just past the keyword): the statement so far lies
    /// under it.
    fn postfix(&mut self, kw: &str, from: usize) -> usize {
        let end = clause_end(self.masked, from);
        let cond = self.text(from, end);
        let branch = match kw {
            "if" => if_branch(cond, false),
            "unless" => if_branch(cond, true),
            _ => Branch::Unknown(format!("{kw} {cond}")),
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
                    Branch::Unknown(cond)
                } else {
                    Branch::UnknownNot(cond)
                };
                let at = self.expr;
                self.push(true, Kind::If, Some(own), at);
            }
            "elsif" => Self::next_arm(&mut self.macros, Some(Branch::Unknown(rest.to_string()))),
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

    fn keyword(&mut self, word: &str, prev: Prev, end: usize) -> (Prev, usize) {
        let postfix = prev == Prev::Value;
        match word {
            "if" | "unless" | "while" | "until" if postfix => {
                return (Prev::Start, self.postfix(word, end));
            }
            "if" | "unless" => {
                let cond_end = clause_end(self.masked, end);
                let branch = if_branch(self.text(end, cond_end), word == "unless");
                self.push(false, Kind::If, Some(branch), end);
            }
            "case" => {
                let subject_end = clause_end(self.masked, end);
                let subject = self.text(end, subject_end);
                let kind = Kind::Case {
                    on_env: subject.contains("AZU_ENV"),
                    subject: !subject.is_empty(),
                };
                self.push(false, kind, None, end);
                return (Prev::Start, subject_end);
            }
            "when" | "in" => {
                let Some(Kind::Case { on_env, subject }) = self.code.last().map(|f| f.kind) else {
                    return (Prev::Start, end);
                };
                let values_end = clause_end(self.masked, end);
                let text = self.text(end, values_end);
                let branch = match when_values(text) {
                    Some(v) if on_env && word == "when" => Branch::EnvIn(v),
                    _ if !subject => if_branch(text, false),
                    _ => Branch::Unknown(format!("{word} {text}")),
                };
                Self::next_arm(&mut self.code, Some(branch));
                self.boundary(values_end);
                return (Prev::Start, values_end);
            }
            "elsif" => {
                let cond_end = clause_end(self.masked, end);
                let branch = if_branch(self.text(end, cond_end), false);
                Self::next_arm(&mut self.code, Some(branch));
                self.boundary(cond_end);
                return (Prev::Start, cond_end);
            }
            "else" => {
                self.close_ternaries();
                Self::next_arm(&mut self.code, None);
                self.boundary(end);
            }
            "then" | "ensure" | "rescue" => {
                self.boundary(end);
            }
            "do" | "begin" | "while" | "until" | "def" | "class" | "module" | "struct" | "enum"
            | "lib" | "macro" | "annotation" | "select" | "union" => {
                self.push(false, Kind::Block, None, end);
            }
            "end" => {
                self.close_ternaries();
                if matches!(
                    self.code.last().map(|f| f.kind),
                    Some(Kind::If | Kind::Case { .. } | Kind::Block)
                ) {
                    self.pop();
                }
                return (Prev::Value, end);
            }
            "return" | "break" | "next" | "self" | "nil" | "true" | "false" => {
                return (Prev::Value, end);
            }
            "and" | "or" | "not" | "yield" => {}
            _ => return (Prev::Value, end),
        }
        (Prev::Start, end)
    }

    fn run(&mut self) {
        let m = self.masked;
        let mut i = 0;
        let mut prev = Prev::Start;
        let mut spaced = true;
        let mut last_word_abstract = false;
        while i < m.len() {
            while self.out.len() < self.points.len() && self.points[self.out.len()] <= i {
                self.out.push(self.current());
            }
            let b = m[i];
            let was_spaced = std::mem::replace(&mut spaced, false);
            match b {
                b'\n' => {
                    let in_paren = matches!(
                        self.code
                            .iter()
                            .rev()
                            .find(|f| !matches!(f.kind, Kind::Ternary { .. })),
                        Some(Frame {
                            kind: Kind::Paren,
                            ..
                        })
                    );
                    let next = m[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                    let leading_dot = next == Some(&b'.')
                        && m[i + 1..]
                            .iter()
                            .filter(|c| !c.is_ascii_whitespace())
                            .nth(1)
                            != Some(&b'.');
                    if !in_paren && prev == Prev::Value && !leading_dot {
                        self.boundary(i + 1);
                        prev = Prev::Start;
                    }
                    spaced = true;
                    i += 1;
                }
                b' ' | b'\t' | b'\r' => {
                    spaced = true;
                    i += 1;
                }
                b'\\' => i += 2,
                b'"' | b'\'' => {
                    let close = m[i + 1..].iter().position(|&c| c == b);
                    i += close.map_or(m.len(), |c| c + 2);
                    prev = Prev::Value;
                }
                b'{' if m.get(i + 1) == Some(&b'%') => {
                    let close = m[i + 2..].windows(2).position(|w| w == b"%}");
                    let end = close.map_or(m.len(), |c| i + 2 + c);
                    let content = self.orig.get(i + 2..end).unwrap_or("").to_string();
                    self.macro_tag(&content);
                    i = (end + 2).min(m.len());
                }
                b'{' if m.get(i + 1) == Some(&b'{') => {
                    let close = m[i + 2..].windows(2).position(|w| w == b"}}");
                    i = close.map_or(m.len(), |c| i + 2 + c + 2);
                    prev = Prev::Value;
                }
                b'(' | b'[' | b'{' => {
                    let kind = if b == b'{' { Kind::Brace } else { Kind::Paren };
                    self.push(false, kind, None, i + 1);
                    i += 1;
                    prev = Prev::Start;
                }
                b')' | b']' | b'}' => {
                    self.close_ternaries();
                    if matches!(
                        self.code.last().map(|f| f.kind),
                        Some(Kind::Paren | Kind::Brace)
                    ) {
                        self.pop();
                    }
                    i += 1;
                    prev = Prev::Value;
                }
                b'?' if was_spaced && m.get(i + 1).is_some_and(|c| c.is_ascii_whitespace()) => {
                    let cond = self.text(self.expr, i).to_string();
                    let branch = if_branch(&cond, false);
                    self.push(false, Kind::Ternary { in_else: false }, Some(branch), i + 1);
                    // A ternary is inside its statement: the statement's start stays.
                    if let Some(f) = self.code.last() {
                        self.stmt = f.saved_stmt;
                    }
                    i += 1;
                    prev = Prev::Start;
                }
                b':' if m.get(i + 1) == Some(&b':') => {
                    i += 2;
                    prev = Prev::Start;
                }
                b':' => {
                    if was_spaced
                        && let Some(f) = self.code.last_mut()
                        && f.kind == (Kind::Ternary { in_else: false })
                    {
                        f.kind = Kind::Ternary { in_else: true };
                        f.prev.extend(f.own.take());
                        self.expr = i + 1;
                    }
                    i += 1;
                    prev = Prev::Start;
                }
                b',' => {
                    self.close_ternaries();
                    self.expr = i + 1;
                    i += 1;
                    prev = Prev::Start;
                }
                b';' => {
                    self.boundary(i + 1);
                    i += 1;
                    prev = Prev::Start;
                }
                b'=' => {
                    let comparison = matches!(m.get(i + 1), Some(b'=' | b'~' | b'>'))
                        || (i > 0 && matches!(m[i - 1], b'=' | b'!' | b'<' | b'>'));
                    if !comparison {
                        self.expr = i + 1;
                    }
                    i += 1;
                    prev = Prev::Start;
                }
                b'.' => {
                    i += 1;
                    prev = Prev::Dot;
                }
                b'@' | b'$' | b'0'..=b'9' => {
                    i += 1;
                    while i < m.len() && (is_ident(m[i]) || m[i] == b'@') {
                        i += 1;
                    }
                    prev = Prev::Value;
                }
                c if is_ident(c) => {
                    let start = i;
                    while i < m.len() && is_ident(m[i]) {
                        i += 1;
                    }
                    if matches!(m.get(i), Some(b'?' | b'!')) && m.get(i + 1) != Some(&b'=') {
                        i += 1;
                    }
                    let word = std::str::from_utf8(&m[start..i]).unwrap_or("");
                    let key = m.get(i) == Some(&b':') && m.get(i + 1) != Some(&b':');
                    if prev == Prev::Dot || key || (word == "def" && last_word_abstract) {
                        prev = if key { Prev::Start } else { Prev::Value };
                        if key {
                            i += 1;
                        }
                    } else {
                        let (p, next) = self.keyword(word, prev, i);
                        prev = p;
                        i = next.max(i);
                    }
                    last_word_abstract = word == "abstract";
                }
                _ => {
                    i += 1;
                    prev = Prev::Start;
                }
            }
        }
        while self.out.len() < self.points.len() {
            self.out.push(self.current());
        }
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
