//! The lexer's promise on arbitrary text: a store name placed in a string literal (or a
//! comment) after whatever the text holds is never read as code. If the text reads, the text
//! plus such a line reads too, with the same stores.
#![no_main]

use azu_session::initializer::Initializer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(init) = Initializer::parse(text) else {
        return;
    };
    let more = format!("{text}\nNOTE = \"RedisStore.new #{{\"}}\"}}\" # MemoryStore.new\n");
    let Ok(after) = Initializer::parse(&more) else {
        panic!("a closed literal after readable text made it unreadable");
    };
    assert_eq!(init.stores.len(), after.stores.len(), "a store was found in a literal");
});
