//! The initializer reader on arbitrary text: it must never panic, and what it reports must
//! point inside the file.
#![no_main]

use azu_session::initializer::{Initializer, Selection};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(init) = Initializer::parse(text) else {
        return;
    };
    let lines = text.split('\n').count();
    for store in &init.stores {
        assert!(
            store.line >= 1 && store.line <= lines,
            "line {} of {lines}",
            store.line
        );
    }
    for env in ["development", "production", "test", ""] {
        if let Selection::Store(s) = init.select(env) {
            assert!(init.stores.iter().any(|t| std::ptr::eq(t, s)));
        }
    }
});
