//! Rule-file text -> `rules::parse`, against a valid worker.toml with one channel of each
//! type. Any error is fine; a panic, a hang or a message showing an expanded value is not.

#![no_main]

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::set_process_env();
    let config = common::config();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if common::reads_outside(text) {
        return;
    }
    match acronis_watch::rules::parse(Path::new(common::RULES_PATH), text, config) {
        Ok(rules) => {
            for rule in rules.iter() {
                let _ = rule.condition_hash();
            }
        }
        Err(e) => common::assert_no_secret(text, &e.to_string()),
    }
});
