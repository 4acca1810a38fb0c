//! URL masking on arbitrary text: it must never panic, masking twice changes nothing, and a
//! `scheme://user:password@host` password, or the value of any query parameter the masker
//! knows for a credential (`SECRET_PARAMS`: pass, password, user, username, passwd, pwd,
//! auth, sslpassword, token, in any case), never survives.
#![no_main]

use azu_session::url::{SECRET_PARAMS, mask};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    let masked = mask(url);
    assert_eq!(mask(&masked), masked, "masking is not idempotent");
    // The plainest form: scheme://user:password@host..., with a password of 8+ characters
    // that appears nowhere else in the text.
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
            && password.len() >= 8
            && url.matches(password).count() == 1
            // A password made of mask-like text (`****@:****`) can reappear in a correct
            // output, built from the mask and the untouched text after the host.
            && !password.contains('*')
        {
            assert!(!masked.contains(password), "{url} -> {masked}");
        }
    }
    // A credential in the query (`?pass=...`, `&token=...`, any secret name in any case),
    // 8+ characters that appear nowhere else, never survives either, whatever `@` it holds.
    // Only what follows the scheme (its first `://`, else its first `:`) is a URL's query:
    // text before it is not read as one.
    let start = url
        .find("://")
        .map(|i| i + 3)
        .or_else(|| url.find(':').map(|i| i + 1))
        .unwrap_or(0);
    for (i, _) in url.match_indices(['?', '&']).filter(|&(i, _)| i >= start) {
        let pair = &url[i + 1..];
        let Some((key, rest)) = pair.split_once('=') else {
            continue;
        };
        let value = rest.split(['&', '#']).next().unwrap_or("");
        if SECRET_PARAMS.contains(&key.to_ascii_lowercase().as_str())
            && value.len() >= 8
            && url.matches(value).count() == 1
            && !value.contains('*')
            && !value.contains('=')
        {
            assert!(!masked.contains(value), "{url} -> {masked}");
        }
    }
});
