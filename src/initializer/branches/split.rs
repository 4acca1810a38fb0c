//! Splitting a condition's text at the operators outside brackets, on the masked text (where
//! no literal hides an operator or a bracket).

/// `(from, to)` of `masked` without the whitespace (and blanked comments) around it.
pub fn trimmed(masked: &[u8], mut from: usize, mut to: usize) -> (usize, usize) {
    while from < to && masked[from].is_ascii_whitespace() {
        from += 1;
    }
    while to > from && masked[to - 1].is_ascii_whitespace() {
        to -= 1;
    }
    (from, to)
}

/// Where `op` (`||`, `&&` or `,`) occurs outside brackets.
fn split_at(masked: &[u8], op: &[u8]) -> Vec<usize> {
    let mut depth = 0usize;
    let mut at = Vec::new();
    let mut i = 0;
    while i < masked.len() {
        match masked[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ if depth == 0 && masked[i..].starts_with(op) => {
                at.push(i);
                i += op.len();
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    at
}

/// The parts of `orig`/`masked` between top-level `op`s, trimmed.
pub fn parts<'a>(orig: &'a str, masked: &'a [u8], op: &[u8]) -> Vec<(&'a str, &'a [u8])> {
    let mut out = Vec::new();
    let mut start = 0;
    let cuts = split_at(masked, op);
    for end in cuts.into_iter().chain([masked.len()]) {
        let (a, b) = trimmed(masked, start, end);
        out.push((orig.get(a..b).unwrap_or(""), &masked[a..b]));
        start = end + op.len();
    }
    out
}

/// Whether the brackets at both ends of `masked` are one pair.
pub fn wrapped(masked: &[u8]) -> bool {
    if masked.first() != Some(&b'(') || masked.last() != Some(&b')') {
        return false;
    }
    let mut depth = 0usize;
    for (i, &b) in masked.iter().enumerate() {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i == masked.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}
