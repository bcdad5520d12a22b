//! The credential file parsers (`apps.json`, `hosts.json`, our stored sign-in) on arbitrary
//! bytes: never a panic.
#![no_main]

use copilot_chat::auth::credentials::{parse_apps_json, parse_hosts_json, StoredToken};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for host in ["github.com", "acme.ghe.com"] {
        let _ = parse_apps_json(data, host);
        let _ = parse_hosts_json(data, host);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = StoredToken::parse(text);
    }
});
