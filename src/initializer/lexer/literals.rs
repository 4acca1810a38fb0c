//! The literals that open with a character of their own: char literals, symbols, `%`
//! literals and heredocs. Each reader consumes its literal, leaving `self.pos` after it, and
//! says when the character was not a literal after all (the operator `%`, a ternary's `:`).

use super::{Heredoc, Lexer, OPERATOR_SYMBOLS, closing, is_ident, is_ident_start};
use crate::initializer::ReadError;

impl Lexer<'_> {
    /// `'a'`, `'\n'`, `'\u{41}'`, `'\''`: at `self.pos` the opening quote.
    pub(super) fn char_literal(&mut self) -> Result<(), ReadError> {
        let start = self.pos;
        self.pos += 1;
        match self.peek(0) {
            Some(b'\\') if self.peek(1) == Some(b'u') && self.peek(2) == Some(b'{') => {
                while self.peek(0).is_some_and(|c| c != b'}' && c != b'\n') {
                    self.pos += 1;
                }
                self.pos += 1;
            }
            Some(b'\\') => self.pos += 2,
            Some(b'\n') | None => return Err(self.unterminated("character literal", start)),
            Some(_) => {
                self.pos += 1;
                while self.peek(0).is_some_and(|c| c & 0xC0 == 0x80) {
                    self.pos += 1; // the rest of a multi-byte character
                }
            }
        }
        // `\uXXXX` and the like: up to the closing quote on this line.
        while self.peek(0).is_some_and(|c| c != b'\'' && c != b'\n') {
            self.pos += 1;
        }
        if self.peek(0) != Some(b'\'') {
            return Err(self.unterminated("character literal", start));
        }
        self.pos += 1;
        Ok(())
    }

    /// A symbol at `self.pos` (a `:` not after an identifier): consumed, or `false` when the
    /// colon is not one (a ternary's, a named argument's).
    pub(super) fn symbol(&mut self) -> Result<bool, ReadError> {
        let start = self.pos;
        match self.peek(1) {
            Some(b'"') => {
                self.pos += 2;
                self.delimited(start, None, b'"', false, "symbol")?;
                Ok(true)
            }
            Some(c) if is_ident_start(c) => {
                self.pos += 1;
                while self.peek(0).is_some_and(is_ident) {
                    self.pos += 1;
                }
                if matches!(self.peek(0), Some(b'?' | b'!' | b'='))
                    && !matches!(self.peek(1), Some(b'=' | b'~' | b'>'))
                {
                    self.pos += 1;
                }
                Ok(true)
            }
            _ => {
                let rest = &self.src[start + 1..];
                match OPERATOR_SYMBOLS
                    .iter()
                    .find(|op| rest.starts_with(op.as_bytes()))
                {
                    // `a ? b :-1` is not Crystal; an operator right after a colon is a symbol.
                    Some(op) => {
                        self.pos += 1 + op.len();
                        Ok(true)
                    }
                    None => Ok(false),
                }
            }
        }
    }

    /// `%(...)`, `%q[...]`, `%w{...}` and the rest, at `start`: consumed, or `false` for the
    /// operator `%`.
    pub(super) fn percent_literal(&mut self, start: usize) -> Result<bool, ReadError> {
        let (kind, open_at) = match self.peek(1) {
            Some(c @ (b'q' | b'Q' | b'w' | b'i' | b'r' | b'x')) => (Some(c), 2),
            _ => (None, 1),
        };
        let Some(open) = self.peek(open_at) else {
            return Ok(false);
        };
        let Some(close) = closing(open) else {
            return Ok(false);
        };
        self.pos += open_at + 1;
        let interpolates = matches!(kind, None | Some(b'Q' | b'r' | b'x'));
        let what = match kind {
            Some(b'r') => "regular expression",
            Some(b'w' | b'i') => "array literal",
            _ => "string",
        };
        self.delimited(start, Some(open), close, interpolates, what)?;
        if kind == Some(b'r') {
            while self
                .peek(0)
                .is_some_and(|c| matches!(c, b'i' | b'm' | b'x'))
            {
                self.pos += 1;
            }
        }
        Ok(true)
    }

    /// `<<-IDENT`, `<<~IDENT`, `<<-'IDENT'`, `<<-"IDENT"` at `self.pos`: the start consumed
    /// and its body queued for the end of the line, or `false` for `<<` and `<`.
    pub(super) fn heredoc_start(&mut self) -> Result<bool, ReadError> {
        let start = self.pos;
        if self.peek(1) != Some(b'<') || !matches!(self.peek(2), Some(b'-' | b'~')) {
            return Ok(false);
        }
        let ident = match self.peek(3) {
            Some(q @ (b'\'' | b'"')) => {
                let from = start + 4;
                let len = self.src[from..]
                    .iter()
                    .position(|&c| c == q || c == b'\n')
                    .unwrap_or(self.src.len() - from);
                if self.src.get(from + len) != Some(&q) || len == 0 {
                    return Err(self.unterminated("heredoc identifier", start));
                }
                self.pos = from + len + 1;
                self.src[from..from + len].to_vec()
            }
            Some(c) if is_ident_start(c) => {
                self.pos = start + 3;
                while self.peek(0).is_some_and(is_ident) {
                    self.pos += 1;
                }
                self.src[start + 3..self.pos].to_vec()
            }
            _ => return Ok(false),
        };
        self.pending.push(Heredoc { ident, start });
        Ok(true)
    }

    /// At the start of a line after heredoc starts: their bodies, one after the other, each up
    /// to a line that holds only its identifier (indentation allowed), blanked.
    pub(super) fn heredoc_bodies(&mut self) -> Result<(), ReadError> {
        for h in std::mem::take(&mut self.pending) {
            loop {
                let line_start = self.pos;
                if line_start >= self.src.len() {
                    return Err(self.unterminated("heredoc", h.start));
                }
                let rest = &self.src[line_start..];
                let len = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                let line = &rest[..len];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let content = line.trim_ascii_start();
                let end = line_start + len;
                self.blank(line_start, end);
                self.pos = (end + 1).min(self.src.len());
                if content == h.ident.as_slice() {
                    break;
                }
            }
        }
        Ok(())
    }
}
