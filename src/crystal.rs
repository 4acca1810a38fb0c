//! Crystal string literals decoded as Crystal decodes them, so a prefix written with escapes
//! (`"myapp\u{3a}session:"`) is the prefix the app uses.

/// The text of a string literal's body (between its quotes, with no interpolation in it), its
/// escapes decoded: `\n \t \r \v \f \b \a \e \0`, `\\ \" \' \#`, `\u{H...}` (one or more code
/// points, separated by spaces), `\uHHHH`, `\xHH`, octal `\NNN`, and a backslash before a line
/// break, which joins the lines (the next line's indentation dropped). Any other escaped character stands for itself.
///
/// Long because it is one match over Crystal's escape sequences, each a line or two.
pub fn unescape(body: &str) -> Result<String, String> {
    let mut bytes: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    let push_char = |bytes: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    while let Some((_, c)) = chars.next() {
        if c != '\\' {
            push_char(&mut bytes, c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err("it ends with a lone backslash".to_string());
        };
        match e {
            'n' => bytes.push(b'\n'),
            't' => bytes.push(b'\t'),
            'r' => bytes.push(b'\r'),
            'v' => bytes.push(0x0b),
            'f' => bytes.push(0x0c),
            'b' => bytes.push(0x08),
            'a' => bytes.push(0x07),
            'e' => bytes.push(0x1b),
            // The line break and the next line's indentation go.
            '\n' => {
                while chars.peek().is_some_and(|(_, c)| matches!(c, ' ' | '\t')) {
                    chars.next();
                }
            }
            'x' => {
                let hex: String = (0..2)
                    .filter_map(|_| chars.next().map(|(_, c)| c))
                    .collect();
                let byte = u8::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 2)
                    .ok_or_else(|| format!("`\\x{hex}` needs two hex digits"))?;
                bytes.push(byte);
            }
            'u' => {
                let code_points: Vec<u32> = if chars.peek().map(|(_, c)| *c) == Some('{') {
                    chars.next();
                    let mut inside = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, c)) => inside.push(c),
                            None => return Err("a `\\u{` is never closed".to_string()),
                        }
                    }
                    inside
                        .split_whitespace()
                        .map(|h| {
                            u32::from_str_radix(h, 16)
                                .map_err(|_| format!("`\\u{{{h}}}` is not a hex code point"))
                        })
                        .collect::<Result<_, _>>()?
                } else {
                    let hex: String = (0..4)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    let n = u32::from_str_radix(&hex, 16)
                        .ok()
                        .filter(|_| hex.len() == 4)
                        .ok_or_else(|| format!("`\\u{hex}` needs four hex digits"))?;
                    vec![n]
                };
                for n in code_points {
                    let c = char::from_u32(n)
                        .ok_or_else(|| format!("`{n:x}` is not a Unicode code point"))?;
                    push_char(&mut bytes, c);
                }
            }
            '0'..='7' => {
                let mut n = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|(_, c)| c.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                let byte =
                    u8::try_from(n).map_err(|_| format!("octal escape `{n:o}` is over 377"))?;
                bytes.push(byte);
            }
            other => push_char(&mut bytes, other),
        }
    }
    String::from_utf8(bytes).map_err(|_| "its escapes make bytes that are not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn escapes_as_crystal_reads_them() {
        let cases = [
            (r"myapp\u{3a}session:", "myapp:session:"),
            (r"myapp\u003asession:", "myapp:session:"),
            (r"myapp\x3asession:", "myapp:session:"),
            (r"myapp\072session:", "myapp:session:"),
            (r"a\u{48 49}b", "aHIb"),
            (r#"q\"\\\#{x}"#, "q\"\\#{x}"),
            (r"tab\there", "tab\there"),
            (r"\e[0m\0", "\u{1b}[0m\0"),
            ("joined \\\n   line", "joined line"),
            (r"\y", "y"),
            ("plain", "plain"),
        ];
        for (body, want) in cases {
            assert_eq!(unescape(body).as_deref(), Ok(want), "{body}");
        }
        for bad in [
            r"\x4",
            r"\u12",
            r"\u{zz}",
            r"\u{d800}",
            r"\xff",
            "\\",
            r"\u{41",
        ] {
            assert!(unescape(bad).is_err(), "{bad}");
        }
    }
}
