//! Tests of the `auth.db` reader on databases written byte by byte (see `tests/sqlite_fixture.rs`).

use super::fixture::{build_db, build_wal, page, Frame, Table, TokenRowSpec, Val};
use super::*;

const APP: &str = "Iv1.b507a08c87ecfe98";
const PS: usize = 1024;

fn db(rows: &[TokenRowSpec]) -> Vec<u8> {
    build_db(PS, &[Table::oauth_tokens(rows)])
}

fn tokens(db: &[u8], wal: Option<&[u8]>, authority: &str) -> Result<Option<Chosen>, String> {
    let rows = read_token_rows(db, wal)?;
    choose(&rows, authority, APP)
}

fn token_of(db: &[u8], wal: Option<&[u8]>, authority: &str) -> String {
    tokens(db, wal, authority)
        .expect("readable")
        .expect("a row")
        .token
}

/// A WAL whose one committed transaction turns `before` into `after` (every changed page).
fn wal_between(before: &[u8], after: &[u8], salt: (u32, u32), little_endian: bool) -> Vec<u8> {
    let count = (after.len() / PS) as u32;
    let mut frames: Vec<Frame> = (1..=count)
        .filter(|n| {
            before.get((*n as usize - 1) * PS..*n as usize * PS) != Some(&page(after, PS, *n)[..])
        })
        .map(|n| Frame {
            page: n,
            data: page(after, PS, n),
            commit_size: 0,
        })
        .collect();
    if let Some(last) = frames.last_mut() {
        last.commit_size = count;
    }
    build_wal(PS, salt, &frames, little_endian)
}

#[test]
fn a_plaintext_row_is_read_with_login_and_client_id() {
    let db = db(&[TokenRowSpec::plain(
        1,
        "github.com",
        APP,
        "octo",
        "ghu_only_in_db",
        10,
    )]);
    let rows = read_token_rows(&db, None).expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].token_id, 1,
        "the INTEGER PRIMARY KEY column reads as the rowid"
    );
    assert_eq!(rows[0].last_used_at, 10);
    let chosen = tokens(&db, None, "github.com").expect("ok").expect("row");
    assert_eq!(chosen.token, "ghu_only_in_db");
    assert_eq!(chosen.login.as_deref(), Some("octo"));
    assert_eq!(chosen.client_id, APP);
    assert!(
        !format!("{chosen:?} {rows:?}").contains("ghu_only_in_db"),
        "Debug redacts tokens"
    );
}

#[test]
fn newest_row_wins_and_the_copilot_app_is_preferred() {
    let db = db(&[
        TokenRowSpec::plain(1, "github.com", APP, "old", "ghu_old", 100),
        TokenRowSpec::plain(2, "github.com", APP, "new", "ghu_new", 300),
        TokenRowSpec::plain(
            3,
            "github.com",
            "Ov23liV9UpD7Rnfnskm3",
            "other",
            "gho_other_app",
            900,
        ),
        TokenRowSpec::plain(4, "github.com", APP, "tie", "ghu_tie_higher_id", 300),
    ]);
    assert_eq!(token_of(&db, None, "github.com"), "ghu_tie_higher_id");
    let only_other = build_db(
        PS,
        &[Table::oauth_tokens(&[TokenRowSpec::plain(
            3,
            "github.com",
            "Ov23x",
            "o",
            "gho_other",
            1,
        )])],
    );
    assert_eq!(token_of(&only_other, None, "github.com"), "gho_other");
}

#[test]
fn enterprise_rows_sit_next_to_github_com_rows() {
    let db = db(&[
        TokenRowSpec::plain(1, "github.com", APP, "pub", "ghu_dotcom", 100),
        TokenRowSpec::plain(2, "acme.ghe.com", APP, "emp", "ghu_acme", 50),
        TokenRowSpec::plain(3, "github.com.evil.com", APP, "evil", "ghu_evil", 999),
    ]);
    assert_eq!(token_of(&db, None, "github.com"), "ghu_dotcom");
    assert_eq!(token_of(&db, None, "ACME.ghe.com"), "ghu_acme");
    assert_eq!(tokens(&db, None, "ghe.com"), Ok(None));
}

#[test]
fn a_version_1_row_next_to_a_version_0_row_is_skipped() {
    let db = db(&[
        TokenRowSpec::encrypted(1, "github.com", APP, "enc", 500),
        TokenRowSpec::plain(2, "github.com", APP, "plain", "ghu_plain", 100),
    ]);
    assert_eq!(token_of(&db, None, "github.com"), "ghu_plain");
}

#[test]
fn an_encrypted_only_database_says_why() {
    let db = db(&[TokenRowSpec::encrypted(1, "github.com", APP, "enc", 500)]);
    let e = tokens(&db, None, "github.com").expect_err("unusable");
    assert!(e.contains("1 encrypted (token_schema_version 1"), "{e}");
    assert!(e.contains("keychain"), "{e}");
}

#[test]
fn a_plaintext_row_without_a_github_token_is_not_used() {
    let db = db(&[
        TokenRowSpec::plain(1, "github.com", APP, "x", "not-a-token", 5),
        TokenRowSpec::plain(2, "github.com", APP, "y", "ghu_bad token", 4),
    ]);
    let e = tokens(&db, None, "github.com").expect_err("unusable");
    assert!(
        e.contains("2 whose token is not a GitHub OAuth token"),
        "{e}"
    );
    assert!(!e.contains("not-a-token"));
}

#[test]
fn interior_pages_and_overflow_chains_are_followed() {
    let mut rows: Vec<TokenRowSpec> = (1..=60)
        .map(|i| {
            TokenRowSpec::plain(
                i,
                "github.com",
                "Ov23x",
                &format!("user{i}"),
                &format!("gho_filler{i:04}"),
                i,
            )
        })
        .collect();
    // A token longer than a page: its record spills into an overflow chain.
    let long = format!("ghu_{}", "L".repeat(3000));
    rows.push(TokenRowSpec::plain(61, "github.com", APP, "long", &long, 1));
    let db = build_db(1024, &[Table::oauth_tokens(&rows)]);
    assert!(db.len() > 10 * 1024, "several pages");
    let read = read_token_rows(&db, None).expect("rows");
    assert_eq!(read.len(), 61);
    assert_eq!(
        read.iter().map(|r| r.token_id).collect::<Vec<_>>(),
        (1..=61).collect::<Vec<_>>()
    );
    assert_eq!(
        choose(&read, "github.com", APP)
            .expect("ok")
            .expect("row")
            .token,
        long
    );
}

#[test]
fn columns_are_found_by_name_in_any_order() {
    let sql = "CREATE TABLE \"oauth_tokens\" (last_used_at INTEGER, [token_ciphertext] BLOB, `user_login` TEXT, oauth_client_id TEXT CHECK (length(oauth_client_id) > 0), auth_authority TEXT DEFAULT 'github.com', token_schema_version INTEGER, token_id INTEGER PRIMARY KEY, CONSTRAINT u UNIQUE (auth_authority, user_login))";
    let table = Table {
        name: "oauth_tokens".into(),
        sql: sql.into(),
        rows: vec![(
            7,
            vec![
                Val::Int(1_700_000_000_000),
                Val::Blob(b"ghu_reordered".to_vec()),
                Val::Text("me".into()),
                Val::Text(APP.into()),
                Val::Text("github.com".into()),
                Val::Int(0),
                Val::Null,
            ],
        )],
    };
    let db = build_db(
        PS,
        &[
            Table {
                name: "metadata".into(),
                sql: "CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT)".into(),
                rows: vec![(1, vec![Val::Text("k".into()), Val::Real(1.5)])],
            },
            table,
        ],
    );
    let rows = read_token_rows(&db, None).expect("rows");
    assert_eq!(rows[0].token_id, 7);
    assert_eq!(rows[0].user_login, "me");
    assert_eq!(token_of(&db, None, "github.com"), "ghu_reordered");
}

#[test]
fn missing_table_or_column_is_a_reason() {
    let db = build_db(
        PS,
        &[Table {
            name: "metadata".into(),
            sql: "CREATE TABLE metadata (key TEXT, value TEXT)".into(),
            rows: vec![],
        }],
    );
    assert_eq!(
        read_token_rows(&db, None),
        Err("no table oauth_tokens".into())
    );
    let db = build_db(
        PS,
        &[Table {
            name: "oauth_tokens".into(),
            sql: "CREATE TABLE oauth_tokens (token_id INTEGER PRIMARY KEY, auth_authority TEXT)"
                .into(),
            rows: vec![],
        }],
    );
    assert_eq!(
        read_token_rows(&db, None),
        Err("unexpected schema: oauth_tokens has no column oauth_client_id".into())
    );
}

#[test]
fn a_token_only_in_the_wal_is_found() {
    let before = db(&[]);
    let after = db(&[TokenRowSpec::plain(
        1,
        "github.com",
        APP,
        "fresh",
        "ghu_fresh_in_wal",
        10,
    )]);
    assert_eq!(tokens(&before, None, "github.com"), Ok(None));
    for little_endian in [false, true] {
        let wal = wal_between(&before, &after, (0x1234, 0x5678), little_endian);
        assert_eq!(
            token_of(&before, Some(&wal), "github.com"),
            "ghu_fresh_in_wal",
            "le={little_endian}"
        );
    }
    // A newer row in the WAL beats the file's older row.
    let old = db(&[TokenRowSpec::plain(
        1,
        "github.com",
        APP,
        "u",
        "ghu_old",
        10,
    )]);
    let new = db(&[
        TokenRowSpec::plain(1, "github.com", APP, "u", "ghu_old", 10),
        TokenRowSpec::plain(2, "github.com", APP, "u", "ghu_new", 20),
    ]);
    let wal = wal_between(&old, &new, (1, 2), false);
    assert_eq!(token_of(&old, Some(&wal), "github.com"), "ghu_new");
    // An empty or missing main file with a committed WAL (a database not yet checkpointed).
    assert_eq!(
        token_of(
            &[],
            Some(&wal_between(&[], &new, (1, 2), false)),
            "github.com"
        ),
        "ghu_new"
    );
}

#[test]
fn uncommitted_broken_and_foreign_frames_are_ignored() {
    let before = db(&[TokenRowSpec::plain(
        1,
        "github.com",
        APP,
        "u",
        "ghu_committed",
        10,
    )]);
    let after = db(&[
        TokenRowSpec::plain(1, "github.com", APP, "u", "ghu_committed", 10),
        TokenRowSpec::plain(2, "github.com", APP, "u", "ghu_uncommitted", 20),
    ]);
    // No commit frame: the transaction never finished.
    let wal = build_wal(
        PS,
        (9, 9),
        &[Frame {
            page: 2,
            data: page(&after, PS, 2),
            commit_size: 0,
        }],
        false,
    );
    assert_eq!(token_of(&before, Some(&wal), "github.com"), "ghu_committed");
    // A committed frame with a broken checksum, and frames after it.
    let mut wal = wal_between(&before, &after, (9, 9), false);
    let last = wal.len() - 1;
    wal[last] ^= 0xff;
    assert_eq!(token_of(&before, Some(&wal), "github.com"), "ghu_committed");
    // Frames whose salt differs from the header's (left over from before a checkpoint).
    let mut wal = wal_between(&before, &after, (9, 9), false);
    wal[WAL_HEADER_LEN + 8] ^= 1;
    assert_eq!(token_of(&before, Some(&wal), "github.com"), "ghu_committed");
    // A bad header checksum or magic: the whole WAL is ignored.
    for at in [0, 24] {
        let mut wal = wal_between(&before, &after, (9, 9), false);
        wal[at] ^= 1;
        assert_eq!(
            token_of(&before, Some(&wal), "github.com"),
            "ghu_committed",
            "byte {at}"
        );
    }
    // An empty WAL (after a checkpoint) changes nothing.
    assert_eq!(token_of(&before, Some(&[]), "github.com"), "ghu_committed");
}

#[test]
fn a_later_commit_keeps_frames_of_earlier_commits() {
    let v1 = db(&[]);
    let v2 = db(&[TokenRowSpec::plain(1, "github.com", APP, "u", "ghu_v2", 10)]);
    let v3 = build_db(
        PS,
        &[
            Table::oauth_tokens(&[TokenRowSpec::plain(1, "github.com", APP, "u", "ghu_v2", 10)]),
            Table {
                name: "metadata".into(),
                sql: "CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT)".into(),
                rows: vec![],
            },
        ],
    );
    let frames = vec![
        Frame {
            page: 2,
            data: page(&v2, PS, 2),
            commit_size: 2,
        },
        Frame {
            page: 1,
            data: page(&v3, PS, 1),
            commit_size: 0,
        },
        Frame {
            page: 3,
            data: page(&v3, PS, 3),
            commit_size: 3,
        },
        // An unfinished third transaction that would hide the token.
        Frame {
            page: 2,
            data: page(&v1, PS, 2),
            commit_size: 0,
        },
    ];
    let wal = build_wal(PS, (5, 6), &frames, true);
    assert_eq!(token_of(&v1, Some(&wal), "github.com"), "ghu_v2");
}

#[test]
fn not_a_database_and_bad_headers_are_reasons() {
    assert_eq!(read_token_rows(b"", None), Err("empty file".into()));
    assert_eq!(
        read_token_rows(b"{\"json\": true}", None),
        Err("not a SQLite database".into())
    );
    let mut d = db(&[]);
    d[16] = 0;
    d[17] = 100;
    assert_eq!(
        read_token_rows(&d, None),
        Err("corrupt header: page size 100".into())
    );
    let mut d = db(&[]);
    d[59] = 2;
    assert_eq!(
        read_token_rows(&d, None),
        Err("unsupported: UTF-16 text encoding".into())
    );
}

#[test]
fn a_cycle_in_the_tree_is_an_error_not_a_hang() {
    let rows: Vec<TokenRowSpec> = (1..=40)
        .map(|i| TokenRowSpec::plain(i, "github.com", APP, "u", &format!("ghu_{i:030}"), i))
        .collect();
    let mut d = build_db(PS, &[Table::oauth_tokens(&rows)]);
    let root = 2usize; // the interior root comes right after page 1
    assert_eq!(d[(root - 1) * PS], 0x05, "fixture has an interior root");
    // Point the right-most child back at the root.
    d[(root - 1) * PS + 8..(root - 1) * PS + 12].copy_from_slice(&(root as u32).to_be_bytes());
    let e = read_token_rows(&d, None).expect_err("cycle");
    assert!(e.contains("linked twice"), "{e}");
}

#[test]
fn truncation_at_every_offset_never_panics() {
    let long = format!("ghu_{}", "x".repeat(1500));
    let d = build_db(
        PS,
        &[Table::oauth_tokens(&[
            TokenRowSpec::plain(1, "github.com", APP, "u", &long, 1),
            TokenRowSpec::encrypted(2, "github.com", APP, "u", 2),
        ])],
    );
    for end in 0..d.len() {
        let _ = read_token_rows(&d[..end], None);
    }
    let before = db(&[]);
    let after = db(&[TokenRowSpec::plain(1, "github.com", APP, "u", "ghu_w", 1)]);
    let wal = wal_between(&before, &after, (3, 4), false);
    for end in 0..wal.len() {
        let r = tokens(&before, Some(&wal[..end]), "github.com");
        assert_eq!(r, Ok(None), "a cut WAL has no complete commit (end {end})");
    }
    for end in (0..before.len()).step_by(7) {
        let _ = read_token_rows(&before[..end], Some(&wal));
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let d = build_db(
        PS,
        &[Table::oauth_tokens(
            &(1..=30)
                .map(|i| TokenRowSpec::plain(i, "github.com", APP, "u", &format!("ghu_{i:040}"), i))
                .collect::<Vec<_>>(),
        )],
    );
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut copy = d.clone();
        let at = (seed as usize) % copy.len();
        copy[at] = (seed >> 32) as u8;
        let _ = read_token_rows(&copy, None);
    }
}

#[test]
fn varints_and_serial_types_decode() {
    use super::fixture::{record, varint as encode};
    for v in [
        0u64,
        1,
        127,
        128,
        16_383,
        16_384,
        1 << 40,
        u64::MAX >> 8,
        u64::MAX,
    ] {
        let bytes = encode(v);
        assert_eq!(varint(&bytes, 0), Some((v, bytes.len())), "{v}");
    }
    assert_eq!(varint(&[0x81], 0), None);
    let rec = record(&[
        Val::Int(-2),
        Val::Int(0),
        Val::Int(1),
        Val::Real(2.5),
        Val::Text("t".into()),
        Val::Blob(vec![1]),
        Val::Null,
    ]);
    assert_eq!(
        decode_record(&rec),
        Ok(vec![
            Value::Int(-2),
            Value::Int(0),
            Value::Int(1),
            Value::Real(2.5),
            Value::Text(b"t".to_vec()),
            Value::Blob(vec![1]),
            Value::Null
        ])
    );
    assert_eq!(be_int(&[0xff, 0xfe]), -2);
    assert_eq!(be_int(&[0x01, 0x00, 0x00]), 65536);
    assert!(decode_record(&[0x02, 10]).is_err(), "reserved serial type");
    assert!(
        decode_record(&[0x05, 0x01]).is_err(),
        "header longer than the record"
    );
}
