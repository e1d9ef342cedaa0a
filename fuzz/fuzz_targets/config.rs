//! worker.toml text -> `config::parse`, as `load` calls it (with a fixed environment).
//! Any error is fine; a panic, a hang or a message showing an expanded value is not.

#![no_main]

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if common::reads_outside(text) {
        return;
    }
    match acronis_watch::config::parse(Path::new(common::CONFIG_PATH), text, &common::env) {
        Ok(config) => {
            let _ = format!("{config:?}");
        }
        Err(e) => common::assert_no_secret(text, &e.to_string()),
    }
});
