//! The `auth.db` reader on arbitrary bytes: the first two bytes say where the database ends
//! and the WAL begins, so one input covers both files. It must never panic or hang.
#![no_main]

use copilot_chat::auth::authdb;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (split, rest) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    let split = split.min(rest.len());
    let (db, wal) = rest.split_at(split);
    let wal = (!wal.is_empty()).then_some(wal);
    if let Ok(rows) = authdb::read_token_rows(db, wal) {
        let _ = authdb::choose(&rows, "github.com", "Iv1.b507a08c87ecfe98");
    }
    let _ = authdb::read_token_rows(rest, None);
});
