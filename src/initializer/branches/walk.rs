//! The walk proper: each keyword's effect on the stack of open frames, and the loop over the
//! masked text that finds them.

use super::*;

impl Walk<'_> {
    /// Long because it is one match over Crystal's block keywords, each with its effect on the
    /// open frames.
    fn keyword(&mut self, word: &str, prev: Prev, end: usize) -> (Prev, usize) {
        let postfix = prev == Prev::Value;
        match word {
            // The statement ends with its postfix condition: the line break after it is a
            // boundary, so the next statement's postfix condition is not put on this one.
            "if" | "unless" | "while" | "until" if postfix => {
                return (Prev::Value, self.postfix(word, end));
            }
            "if" | "unless" => {
                let cond_end = clause_end(self.masked, end);
                let branch = self.cond(end, cond_end, word == "unless");
                self.push(false, Kind::If, Some(branch), end);
            }
            "case" => {
                let subject_end = clause_end(self.masked, end);
                let (orig, masked) = self.code(end, subject_end);
                let subject = cond::subject(orig, masked, env_reads(orig, masked));
                self.push(false, Kind::Case, None, end);
                if let Some(f) = self.code.last_mut() {
                    f.subject = subject;
                }
                return (Prev::Start, subject_end);
            }
            "when" | "in" => {
                let Some(subject) = self
                    .code
                    .last()
                    .filter(|f| f.kind == Kind::Case)
                    .map(|f| f.subject.clone())
                else {
                    return (Prev::Start, end);
                };
                let values_end = clause_end(self.masked, end);
                let (orig, masked) = self.code(end, values_end);
                let test = match (word, &subject) {
                    ("when", _) => cond::when(&subject, orig, masked),
                    _ => None,
                };
                let branch = match test {
                    Some(test) => Branch::Known {
                        test,
                        holds: true,
                        text: format!("{word} {orig}"),
                    },
                    None if subject == Subject::None => self.cond(end, values_end, false),
                    None => Branch::Unknown(
                        format!("{word} {orig}"),
                        match &subject {
                            Subject::Other(reads) => reads.clone(),
                            Subject::Var(names, _) => names.clone(),
                            Subject::Azu => vec![cond::CRYSTAL_ENV.to_string()],
                            Subject::None => env_reads(orig, masked),
                        },
                    ),
                };
                Self::next_arm(&mut self.code, Some(branch));
                self.boundary(values_end);
                return (Prev::Start, values_end);
            }
            "elsif" => {
                let cond_end = clause_end(self.masked, end);
                let branch = self.cond(end, cond_end, false);
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
            // A macro's body is code only where the macro is expanded: a store in it may or
            // may not be made, as under a condition that cannot be evaluated.
            "macro" => {
                let name_end = clause_end(self.masked, end);
                let name = self.text(end, name_end);
                let name = name.split(['(', ' ']).next().unwrap_or(name);
                let own = Branch::Unknown(format!("inside `macro {name}`"), Vec::new());
                self.push(false, Kind::Block, Some(own), end);
            }
            "do" | "begin" | "while" | "until" | "def" | "class" | "module" | "struct" | "enum"
            | "lib" | "annotation" | "select" | "union" => {
                self.push(false, Kind::Block, None, end);
            }
            "end" => {
                self.close_ternaries();
                if matches!(
                    self.code.last().map(|f| f.kind),
                    Some(Kind::If | Kind::Case | Kind::Block)
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

    /// Long because it is the tokenizer's one loop: the state it carries (the previous token,
    /// brackets, the statement start) is what every branch of it reads and updates.
    pub(super) fn run(&mut self) {
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
                    let branch = self.cond(self.expr, i, false);
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
