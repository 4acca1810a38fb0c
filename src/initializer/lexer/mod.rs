//! The masking lexer: one linear pass over Crystal source that knows every literal the
//! language has, so that what is code can be told from what is text.
//!
//! The result has the same bytes at the same offsets as the source, except that comments and
//! heredoc bodies become spaces, and every literal becomes a *blob*: its first and last byte a
//! delimiter, everything between `_` (newlines kept). A double-quoted string keeps `"` as its
//! delimiter, so an argument's value can be recognised as one; every other literal (char,
//! symbol, regex, `%` literal, command, heredoc start) gets `'`. Interpolations are masked with
//! their literal: what runs inside `#{}` never configures the session store. Masking replaces
//! whole characters with ASCII, so the result stays UTF-8 and line numbers stay right.

mod literals;

use super::ReadError;

/// How deep literals may nest (`"#{"#{...}"}"`) before the file is refused rather than risk the
/// stack; no real initializer comes near it.
const MAX_NESTING: usize = 64;

/// The masked text, and where its lines start.
#[derive(Debug, Clone)]
pub struct Lexed {
    pub masked: String,
    line_starts: Vec<usize>,
}

impl Lexed {
    /// The 1-based line holding byte `offset` (a binary search: reading stays linear).
    pub fn line_of(&self, offset: usize) -> usize {
        line_of(&self.line_starts, offset)
    }
}

fn line_of(line_starts: &[usize], offset: usize) -> usize {
    line_starts.partition_point(|&s| s <= offset)
}

/// What came before, for the choices Crystal makes by it: whether `/` opens a regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// The start, an operator, an opening bracket or a keyword: a value may follow.
    Start,
    /// A value (literal, constant, `)`, ...): `/` divides.
    Value,
    /// A lower-case identifier: a method call (`puts /x/`) or a local variable (`a /2`).
    Ident,
    /// `.` or `def`: an operator here is a method name (`a./(b)`, `def %(o)`).
    Name,
}

struct Heredoc {
    ident: Vec<u8>,
    start: usize,
}

struct Lexer<'a> {
    src: &'a [u8],
    out: Vec<u8>,
    pos: usize,
    line_starts: Vec<usize>,
    pending: Vec<Heredoc>,
    depth: usize,
}

const VALUE_KEYWORDS: &[&str] = &[
    "end", "self", "nil", "true", "false", "__FILE__", "__LINE__", "__DIR__",
];
const KEYWORDS: &[&str] = &[
    "if", "unless", "elsif", "else", "while", "until", "case", "when", "in", "then", "do",
    "return", "and", "or", "not", "yield", "next", "break", "begin", "rescue", "ensure", "with",
    "select",
];

/// Symbol names that are operators (`:+`, `:[]=`), longest first.
const OPERATOR_SYMBOLS: &[&str] = &[
    "[]?", "[]=", "<=>", "===", "&**", "[]", "**", "==", "!=", "!~", "=~", "<<", ">>", "<=", ">=",
    "//", "&+", "&-", "&*", "+", "-", "*", "/", "%", "<", ">", "!", "~", "&", "|", "^",
];

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn closing(open: u8) -> Option<u8> {
    Some(match open {
        b'(' => b')',
        b'[' => b']',
        b'{' => b'}',
        b'<' => b'>',
        b'|' => b'|',
        _ => return None,
    })
}

/// Mask `text`; an error says which literal is never closed, and on which line.
pub fn lex(text: &str) -> Result<Lexed, ReadError> {
    let src = text.as_bytes();
    let mut line_starts = vec![0];
    line_starts.extend(memchr_all(src));
    let mut lx = Lexer {
        src,
        out: src.to_vec(),
        pos: 0,
        line_starts,
        pending: Vec::new(),
        depth: 0,
    };
    lx.code(false)?;
    if let Some(h) = lx.pending.first() {
        return Err(lx.unterminated("heredoc", h.start));
    }
    let Lexer {
        out, line_starts, ..
    } = lx;
    // Only whole characters were replaced, by ASCII; check rather than assume.
    let masked = String::from_utf8(out).map_err(|_| ReadError::Binary)?;
    Ok(Lexed {
        masked,
        line_starts,
    })
}

fn memchr_all(src: &[u8]) -> impl Iterator<Item = usize> + '_ {
    src.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    fn unterminated(&self, what: &'static str, start: usize) -> ReadError {
        ReadError::Unterminated {
            what,
            line: line_of(&self.line_starts, start),
        }
    }

    /// Mask `start..end` as a blob delimited by `delim`.
    fn blob(&mut self, start: usize, end: usize, delim: u8) {
        for b in &mut self.out[start..end] {
            if *b != b'\n' {
                *b = b'_';
            }
        }
        self.out[start] = delim;
        self.out[end - 1] = delim;
    }

    fn blank(&mut self, start: usize, end: usize) {
        for b in &mut self.out[start..end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }

    /// Code, up to the end of the text or, in an interpolation, the `}` that closes it (left
    /// at `self.pos`).
    ///
    /// Long because it is the lexer's one loop over Crystal code: each literal kind is a short
    /// arm, and the state between them (the previous token, nesting) must stay in one place.
    fn code(&mut self, interpolation: bool) -> Result<(), ReadError> {
        let mut prev = Prev::Start;
        let mut spaced = false; // whitespace since the previous token
        let mut braces = 0usize;
        while let Some(b) = self.peek(0) {
            let start = self.pos;
            let was_spaced = std::mem::replace(&mut spaced, false);
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.heredoc_bodies()?;
                    prev = Prev::Start;
                    spaced = true;
                    continue;
                }
                b' ' | b'\t' | b'\r' => {
                    self.pos += 1;
                    spaced = true;
                    continue;
                }
                b'\\' => {
                    // A line continuation, or an escaped macro delimiter.
                    self.pos += 2;
                    spaced = true;
                    continue;
                }
                b'#' => {
                    while self.peek(0).is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                    self.blank(start, self.pos);
                    spaced = true;
                    continue;
                }
                b'"' | b'`' => {
                    self.pos += 1;
                    self.delimited(start, None, b, true, "string")?;
                    let delim = if b == b'"' { b'"' } else { b'\'' };
                    self.blob(start, self.pos, delim);
                    prev = Prev::Value;
                }
                b'\'' => {
                    self.char_literal()?;
                    self.blob(start, self.pos, b'\'');
                    prev = Prev::Value;
                }
                b':' => {
                    if self.peek(1) == Some(b':') {
                        self.pos += 2;
                        prev = Prev::Start;
                        continue;
                    }
                    let after_ident = start > 0 && is_ident(self.src[start - 1]);
                    if !after_ident && self.symbol()? {
                        self.blob(start, self.pos, b'\'');
                        prev = Prev::Value;
                    } else {
                        self.pos += 1;
                        prev = Prev::Start;
                    }
                }
                b'/' if prev != Prev::Name && self.regex_here(prev, was_spaced) => {
                    self.pos += 1;
                    self.delimited(start, None, b'/', true, "regular expression")?;
                    while self
                        .peek(0)
                        .is_some_and(|c| matches!(c, b'i' | b'm' | b'x'))
                    {
                        self.pos += 1;
                    }
                    self.blob(start, self.pos, b'\'');
                    prev = Prev::Value;
                }
                b'%' if prev != Prev::Name && self.percent_literal(start)? => {
                    self.blob(start, self.pos, b'\'');
                    prev = Prev::Value;
                }
                b'<' if self.heredoc_start()? => {
                    self.blob(start, self.pos, b'\'');
                    prev = Prev::Value;
                }
                b'{' => {
                    braces += 1;
                    self.pos += 1;
                    prev = Prev::Start;
                }
                b'}' => {
                    if interpolation && braces == 0 {
                        return Ok(());
                    }
                    braces = braces.saturating_sub(1);
                    self.pos += 1;
                    prev = Prev::Value;
                }
                b')' | b']' => {
                    self.pos += 1;
                    prev = Prev::Value;
                }
                b'.' => {
                    self.pos += 1;
                    prev = if self.peek(0) == Some(b'.') {
                        Prev::Start
                    } else {
                        Prev::Name
                    };
                    while self.peek(0) == Some(b'.') {
                        self.pos += 1;
                    }
                }
                b'@' | b'$' => {
                    self.pos += 1;
                    while self.peek(0).is_some_and(|c| c == b'@' || is_ident(c)) {
                        self.pos += 1;
                    }
                    if self.pos == start + 1 && b == b'$' {
                        self.pos += 1; // `$~`, `$?`
                    }
                    prev = Prev::Value;
                }
                b'0'..=b'9' => {
                    while let Some(c) = self.peek(0) {
                        let decimal = c == b'.' && self.peek(1).is_some_and(|d| d.is_ascii_digit());
                        if !(is_ident(c) || decimal) {
                            break;
                        }
                        self.pos += 1;
                    }
                    prev = Prev::Value;
                }
                c if is_ident_start(c) => {
                    while self.peek(0).is_some_and(is_ident) {
                        self.pos += 1;
                    }
                    if matches!(self.peek(0), Some(b'?' | b'!')) && self.peek(1) != Some(b'=') {
                        self.pos += 1;
                    }
                    let word = &self.src[start..self.pos];
                    prev = if prev == Prev::Name {
                        // A method name: a call, which may take a regex (`foo.bar /x/`).
                        Prev::Ident
                    } else if word == b"def" {
                        Prev::Name
                    } else if c.is_ascii_uppercase()
                        || VALUE_KEYWORDS.iter().any(|k| k.as_bytes() == word)
                    {
                        Prev::Value
                    } else if KEYWORDS.iter().any(|k| k.as_bytes() == word) {
                        Prev::Start
                    } else {
                        Prev::Ident
                    };
                }
                _ => {
                    self.pos += 1;
                    prev = Prev::Start;
                }
            }
        }
        if interpolation {
            // The caller names the literal that is never closed.
            return Err(ReadError::Unterminated { what: "", line: 0 });
        }
        Ok(())
    }

    /// Whether a `/` at `self.pos` opens a regex rather than dividing, as Crystal decides:
    /// after a value it divides; after an identifier it opens one only when written like an
    /// argument (`puts /x/`: a space before, none after, closed on the same line).
    fn regex_here(&self, prev: Prev, spaced: bool) -> bool {
        match prev {
            Prev::Start => true,
            Prev::Value | Prev::Name => false,
            Prev::Ident => {
                if !spaced || matches!(self.peek(1), Some(b' ' | b'\t' | b'=' | b'\n') | None) {
                    return false;
                }
                let rest = &self.src[self.pos + 1..];
                let line = &rest[..rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())];
                let mut i = 0;
                while i < line.len() {
                    match line[i] {
                        b'\\' => i += 1,
                        b'/' => return true,
                        _ => {}
                    }
                    i += 1;
                }
                false
            }
        }
    }

    /// The body of a literal opened just before `self.pos`, up to and past its closing
    /// delimiter. `open` is the opening bracket when brackets nest (`%(a (b) c)`).
    fn delimited(
        &mut self,
        start: usize,
        open: Option<u8>,
        close: u8,
        interpolates: bool,
        what: &'static str,
    ) -> Result<(), ReadError> {
        let mut nesting = 0usize;
        loop {
            let Some(b) = self.peek(0) else {
                return Err(self.unterminated(what, start));
            };
            match b {
                b'\\' => self.pos += 2,
                b'#' if interpolates && self.peek(1) == Some(b'{') => {
                    self.pos += 2;
                    self.depth += 1;
                    if self.depth > MAX_NESTING {
                        return Err(ReadError::TooDeep {
                            line: line_of(&self.line_starts, start),
                        });
                    }
                    let inner = self.code(true);
                    self.depth -= 1;
                    match inner {
                        Ok(()) => self.pos += 1, // the closing `}`
                        Err(ReadError::Unterminated { what: "", .. }) => {
                            return Err(self.unterminated(what, start));
                        }
                        Err(e) => return Err(e),
                    }
                }
                _ if Some(b) == open && open != Some(close) => {
                    nesting += 1;
                    self.pos += 1;
                }
                _ if b == close => {
                    self.pos += 1;
                    if nesting == 0 {
                        return Ok(());
                    }
                    nesting -= 1;
                }
                _ => self.pos += 1,
            }
        }
    }
}
