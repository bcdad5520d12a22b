//! Unit tests of `credentials`, beside it so the module itself reads as its logic.

use super::*;
use crate::testing::FakeHost;

const APPS: &str = "/home/u/.config/github-copilot/apps.json";
const HOSTS: &str = "/home/u/.config/github-copilot/hosts.json";
const AUTHDB: &str = "/home/u/.config/github-copilot/auth.db";
const AUTHDB_WAL: &str = "/home/u/.config/github-copilot/auth.db-wal";

fn home() -> FakeHost {
    FakeHost::new().with_env("HOME", "/home/u")
}

fn found(host: &FakeHost, settings: &Settings) -> Credential {
    match discover(host, settings) {
        Ok(c) => c,
        Err(e) => panic!("expected a credential, got {e}"),
    }
}

fn searched(host: &FakeHost, settings: &Settings) -> Vec<String> {
    match discover(host, settings) {
        Err(Error::NotSignedIn { searched }) => searched,
        other => panic!("expected NotSignedIn, got {other:?}"),
    }
}

fn enterprise() -> Settings {
    Settings {
        enterprise_uri: Some("https://acme.ghe.com".into()),
        ..Settings::default()
    }
}

#[test]
fn env_precedence() {
    let host = home()
        .with_env("GH_COPILOT_TOKEN", "ghu_first")
        .with_env("GITHUB_COPILOT_TOKEN", "ghu_second")
        .with_env("GITHUB_TOKEN", "ghu_third")
        .with_env("CODESPACES", "true")
        .with_file(
            APPS,
            br#"{"github.com:Iv1.b507a08c87ecfe98":{"user":"u","oauth_token":"ghu_file"}}"#,
        );
    let c = found(&host, &Settings::default());
    assert_eq!(
        (c.token.as_str(), c.source.as_str()),
        ("ghu_first", "env GH_COPILOT_TOKEN")
    );

    let host = home()
        .with_env("GITHUB_COPILOT_TOKEN", " ghu_second\n")
        .with_env("GITHUB_TOKEN", "ghu_third");
    let (c, report) = discover_with_report(&host, &Settings::default());
    let c = c.expect("credential");
    assert_eq!(
        (c.token.as_str(), c.source.as_str()),
        ("ghu_second", "env GITHUB_COPILOT_TOKEN")
    );
    assert_eq!(report, vec!["env GH_COPILOT_TOKEN: not set".to_string()]);
}

#[test]
fn session_token_in_env_is_ignored_with_reason() {
    let host = home()
        .with_env("GH_COPILOT_TOKEN", "tid=abc;exp=123;sku=x:mac")
        .with_env("GITHUB_COPILOT_TOKEN", "ghu_ok");
    let (c, report) = discover_with_report(&host, &Settings::default());
    assert_eq!(c.expect("credential").token, "ghu_ok");
    assert_eq!(report.len(), 1);
    assert!(
        report[0].starts_with("env GH_COPILOT_TOKEN: ignored: contains '='"),
        "{report:?}"
    );
    assert!(!report[0].contains("tid=abc"));
}

#[test]
fn empty_env_is_skipped() {
    let host = home()
        .with_env("GH_COPILOT_TOKEN", "  ")
        .with_env("GITHUB_COPILOT_TOKEN", "ghu_ok");
    let (c, report) = discover_with_report(&host, &Settings::default());
    assert_eq!(c.expect("credential").token, "ghu_ok");
    assert_eq!(report, vec!["env GH_COPILOT_TOKEN: empty".to_string()]);
}

#[test]
fn github_token_only_in_codespaces() {
    let host = home().with_env("GITHUB_TOKEN", "ghp_personal");
    let reasons = searched(&host, &Settings::default());
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("GITHUB_TOKEN: used only in Codespaces")),
        "{reasons:?}"
    );
    let host = home()
        .with_env("GITHUB_TOKEN", "ghu_cs")
        .with_env("CODESPACES", "false");
    assert!(discover(&host, &Settings::default()).is_err());
    let host = home()
        .with_env("GITHUB_TOKEN", "ghu_cs")
        .with_env("CODESPACES", "true");
    let c = found(&host, &Settings::default());
    assert_eq!(
        (c.token.as_str(), c.source.as_str()),
        ("ghu_cs", "env GITHUB_TOKEN")
    );
    // Codespaces without a token falls through to the files.
    let host = home().with_env("CODESPACES", "true").with_file(
        HOSTS,
        br#"{"github.com":{"user":"u","oauth_token":"gho_file"}}"#,
    );
    assert_eq!(found(&host, &Settings::default()).token, "gho_file");
}

#[test]
fn xdg_absolute_is_used_relative_is_ignored() {
    let apps = br#"{"github.com:Iv1.b507a08c87ecfe98":{"user":"u","oauth_token":"ghu_xdg"}}"#;
    let host = home()
        .with_env("XDG_CONFIG_HOME", "/xdg")
        .with_file("/xdg/github-copilot/apps.json", apps);
    let c = found(&host, &Settings::default());
    assert_eq!(
        (c.token.as_str(), c.source.as_str()),
        ("ghu_xdg", "/xdg/github-copilot/apps.json")
    );
    assert_eq!(c.login.as_deref(), Some("u"));

    let host = home()
        .with_env("XDG_CONFIG_HOME", "rel/xdg")
        .with_file("rel/xdg/github-copilot/apps.json", apps)
        .with_file(
            APPS,
            br#"{"github.com:Iv1.b507a08c87ecfe98":{"oauth_token":"ghu_home"}}"#,
        );
    let (c, report) = discover_with_report(&host, &Settings::default());
    assert_eq!(c.expect("credential").token, "ghu_home");
    assert!(report.contains(&"env XDG_CONFIG_HOME: ignored, not an absolute path".to_string()));
}

#[test]
fn settings_dir_overrides_and_expands_home() {
    let host = home().with_env("XDG_CONFIG_HOME", "/xdg").with_file(
        "/home/u/cfg/hosts.json",
        br#"{"github.com":{"oauth_token":"gho_cfg"}}"#,
    );
    let s = Settings {
        copilot_config_dir: Some("~/cfg".into()),
        ..Settings::default()
    };
    assert_eq!(found(&host, &s).source, "/home/u/cfg/hosts.json");
    let s = Settings {
        copilot_config_dir: Some("/elsewhere/".into()),
        ..Settings::default()
    };
    let reasons = searched(&host, &s);
    assert!(
        reasons.contains(&"/elsewhere/apps.json: not found".to_string()),
        "{reasons:?}"
    );
}

#[test]
fn windows_dirs_userprofile_then_localappdata() {
    let host = FakeHost::new()
        .with_os(Os::Windows)
        .with_env("USERPROFILE", "C:\\Users\\u")
        .with_env("LOCALAPPDATA", "D:\\Local")
        .with_file(
            "D:\\Local\\github-copilot\\hosts.json",
            br#"{"github.com":{"oauth_token":"gho_win"}}"#,
        );
    let (c, report) = discover_with_report(&host, &Settings::default());
    let c = c.expect("credential");
    assert_eq!(
        (c.token.as_str(), c.source.as_str()),
        ("gho_win", "D:\\Local\\github-copilot\\hosts.json")
    );
    assert!(report.contains(
        &"C:\\Users\\u\\AppData\\Local\\github-copilot\\apps.json: not found".to_string()
    ));
    assert!(report.contains(
        &"C:\\Users\\u\\AppData\\Local\\github-copilot\\hosts.json: not found".to_string()
    ));
    assert!(report.contains(&"D:\\Local\\github-copilot\\apps.json: not found".to_string()));

    // The same folder twice is searched once; an absolute XDG dir wins on Windows too.
    let host = FakeHost::new()
        .with_os(Os::Windows)
        .with_env("USERPROFILE", "C:\\Users\\u")
        .with_env("LOCALAPPDATA", "c:\\users\\u\\AppData\\Local");
    assert_eq!(
        searched(&host, &Settings::default())
            .iter()
            .filter(|r| r.contains("apps.json"))
            .count(),
        1
    );
    let host = FakeHost::new()
        .with_os(Os::Windows)
        .with_env("XDG_CONFIG_HOME", "C:\\xdg")
        .with_file(
            "C:\\xdg\\github-copilot\\apps.json",
            br#"{"github.com:x":{"oauth_token":"ghu_x"}}"#,
        );
    assert_eq!(found(&host, &Settings::default()).token, "ghu_x");
}

#[test]
fn apps_json_matches_host_exactly() {
    let json = br#"{
        "github.com.evil.com:Iv1.b507a08c87ecfe98": {"user":"evil","oauth_token":"ghu_evil"},
        "notgithub.com:Iv1.b507a08c87ecfe98": {"user":"not","oauth_token":"ghu_not"},
        "acme.ghe.com:Iv1.b507a08c87ecfe98": {"user":"acme","oauth_token":"ghu_acme"}
    }"#;
    assert_eq!(parse_apps_json(json, "github.com"), Ok(None));
    assert_eq!(
        parse_apps_json(json, "acme.ghe.com"),
        Ok(Some(("ghu_acme".into(), Some("acme".into()))))
    );
    assert_eq!(parse_apps_json(json, "ghe.com"), Ok(None));
    assert_eq!(
        parse_apps_json(br#"{"GitHub.com:x":{"oauth_token":"ghu_c"}}"#, "github.com"),
        Ok(Some(("ghu_c".into(), None)))
    );
    // A key without a client id matches on the whole key.
    assert_eq!(
        parse_apps_json(br#"{"github.com":{"oauth_token":"ghu_k"}}"#, "github.com"),
        Ok(Some(("ghu_k".into(), None)))
    );
}

#[test]
fn enterprise_host_uses_its_entries() {
    let host = home().with_file(
        APPS,
        br#"{"github.com:Iv1.b507a08c87ecfe98":{"oauth_token":"ghu_dotcom"},
             "acme.ghe.com:Iv1.b507a08c87ecfe98":{"login":"al","access_token":"ghu_acme"}}"#,
    );
    let c = found(&host, &enterprise());
    assert_eq!(
        (c.token.as_str(), c.login.as_deref()),
        ("ghu_acme", Some("al"))
    );
    let host = home().with_file(HOSTS, br#"{"github.com":{"oauth_token":"gho_dotcom"}}"#);
    let reasons = searched(&host, &enterprise());
    assert!(
        reasons.contains(&format!("{HOSTS}: no entry for acme.ghe.com")),
        "{reasons:?}"
    );
}

#[test]
fn apps_json_prefers_copilot_app_else_file_order() {
    let json = br#"{
        "github.com:Ov23zzz": {"user":"a","oauth_token":"gho_other"},
        "github.com:Iv23aaa": {"user":"b","oauth_token":"ghu_third_party"},
        "github.com:Iv1.b507a08c87ecfe98": {"user":"c","oauth_token":"ghu_copilot"}
    }"#;
    assert_eq!(
        parse_apps_json(json, "github.com"),
        Ok(Some(("ghu_copilot".into(), Some("c".into()))))
    );
    // githubAppId marks the Copilot app too.
    let json = br#"{"github.com:Zzz":{"oauth_token":"gho_z"},"github.com:Aaa":{"oauth_token":"ghu_a","githubAppId":"Iv1.b507a08c87ecfe98"}}"#;
    assert_eq!(
        parse_apps_json(json, "github.com").map(|e| e.map(|(t, _)| t)),
        Ok(Some("ghu_a".into()))
    );
    // No Copilot app: the first usable entry in file order (not sorted order).
    let json = br#"{"github.com:Zzz":{"oauth_token":42},"github.com:Yyy":{"oauth_token":"gho_y"},"github.com:Aaa":{"oauth_token":"gho_a"}}"#;
    assert_eq!(
        parse_apps_json(json, "github.com").map(|e| e.map(|(t, _)| t)),
        Ok(Some("gho_y".into()))
    );
}

#[test]
fn unusable_entries_and_shapes_give_reasons() {
    let e = parse_apps_json(
        br#"{"github.com:Iv1.b507a08c87ecfe98":{"user":"u","oauth_token":""}}"#,
        "github.com",
    );
    assert_eq!(
        e,
        Err(
            "1 entry for github.com but no usable token in it (needs a string \"oauth_token\")"
                .into()
        )
    );
    assert_eq!(parse_apps_json(b"", "github.com"), Err("empty file".into()));
    assert_eq!(
        parse_apps_json(b" \n", "github.com"),
        Err("empty file".into())
    );
    assert_eq!(
        parse_apps_json(b"\xff\xfe{}", "github.com"),
        Err("not UTF-8 text".into())
    );
    assert_eq!(
        parse_hosts_json(b"{\"a", "github.com"),
        Err("malformed JSON at line 1 column 3".into())
    );
    assert_eq!(
        parse_hosts_json(br#"["ghu_secret"]"#, "github.com"),
        Err("not a JSON object".into())
    );
    assert_eq!(
        parse_hosts_json(br#""ghu_secret""#, "github.com"),
        Err("not a JSON object".into())
    );
    assert_eq!(
        parse_hosts_json(br#"{"github.com":"ghu_secret"}"#, "github.com").map(|_| ()),
        Err(
            "1 entry for github.com but no usable token in it (needs a string \"oauth_token\")"
                .into()
        )
    );
    assert_eq!(
        parse_hosts_json("\u{FEFF}{}".as_bytes(), "github.com"),
        Ok(None)
    );
}

#[test]
fn hosts_json_is_exact_and_is_the_fallback() {
    let json = br#"{"github.com.evil.com":{"oauth_token":"gho_evil"},"github.com:Iv1":{"oauth_token":"gho_colon"}}"#;
    assert_eq!(parse_hosts_json(json, "github.com"), Ok(None));
    let host = home()
        .with_file(
            APPS,
            br#"{"acme.ghe.com:Iv1.b507a08c87ecfe98":{"oauth_token":"ghu_acme"}}"#,
        )
        .with_file(
            HOSTS,
            br#"{"github.com":{"user":"u","oauth_token":"gho_hosts"}}"#,
        );
    let (c, report) = discover_with_report(&host, &Settings::default());
    let c = c.expect("credential");
    assert_eq!(
        (c.token.as_str(), c.source.as_str(), c.login.as_deref()),
        ("gho_hosts", HOSTS, Some("u"))
    );
    assert!(
        report.contains(&format!("{APPS}: no entry for github.com")),
        "{report:?}"
    );
}

#[test]
fn malformed_earlier_file_loses_to_valid_later_file() {
    let host = home()
        .with_file(
            APPS,
            br#"{"github.com:Iv1.b507a08c87ecfe98": {"oauth_token": "ghu_trunc"#,
        )
        .with_file(HOSTS, br#"{"github.com":{"oauth_token":"gho_valid"}}"#);
    let (c, report) = discover_with_report(&host, &Settings::default());
    assert_eq!(c.expect("credential").token, "gho_valid");
    let apps_reason = report
        .iter()
        .find(|r| r.starts_with(APPS))
        .expect("apps reason");
    assert!(
        apps_reason.contains("malformed JSON at line 1"),
        "{apps_reason}"
    );
    assert!(!apps_reason.contains("ghu_trunc"));
}

#[test]
fn not_signed_in_lists_every_place_and_no_token() {
    let host = home()
        .with_env("GH_COPILOT_TOKEN", "tid=secret-session;exp=1:mac")
        .with_env("GITHUB_TOKEN", "ghp_secretpat")
        .with_file(
            APPS,
            br#"{"github.com:Iv1.b507a08c87ecfe98":{"oauth_token":"ghu_sec"#,
        )
        .with_file(
            HOSTS,
            br#"{"acme.ghe.com":{"oauth_token":"gho_secret_other"}}"#,
        );
    let reasons = searched(&host, &Settings::default());
    assert_eq!(
        reasons,
        vec![
            "env GH_COPILOT_TOKEN: ignored: contains '=', so it looks like a Copilot session token, not a GitHub OAuth token".to_string(),
            "env GITHUB_COPILOT_TOKEN: not set".to_string(),
            "env GITHUB_TOKEN: used only in Codespaces (CODESPACES is not \"true\")".to_string(),
            format!("{APPS}: malformed JSON at line 1 column 58"),
            format!("{HOSTS}: no entry for github.com"),
            format!("{AUTHDB}: not found"),
            format!("{STORED_SOURCE}: none (sign in with `copilot-host sign-in`)"),
        ]
    );
    let err = discover(&host, &Settings::default()).expect_err("not signed in");
    let text = format!("{err} {err:?}");
    for secret in [
        "secret-session",
        "ghp_secretpat",
        "ghu_sec",
        "gho_secret_other",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn file_errors_are_reasons() {
    let host = home()
        .with_file_error(APPS, FileError::Denied)
        .with_file_error(HOSTS, FileError::Io("disk says ghu_leaky".into()));
    let reasons = searched(&host, &Settings::default());
    assert!(reasons.contains(&format!(
        "{APPS}: not readable: the host did not grant access to this directory"
    )));
    assert!(
        reasons.contains(&format!("{HOSTS}: unreadable: disk says [redacted]")),
        "{reasons:?}"
    );
    let host = FakeHost::new();
    let reasons = searched(&host, &Settings::default());
    assert!(
        reasons.contains(&"env HOME: not set, so no Copilot config directory".to_string()),
        "{reasons:?}"
    );
}

#[test]
fn debug_redacts_token() {
    let c = Credential {
        token: "ghu_visible".into(),
        source: "env X".into(),
        login: Some("u".into()),
        api: None,
    };
    let d = format!("{c:?}");
    assert!(!d.contains("ghu_visible") && d.contains("[redacted]") && d.contains("env X"));
}

use crate::auth::authdb::fixture::{build_db, build_wal, page, Frame, Table, TokenRowSpec};

fn auth_db(rows: &[TokenRowSpec]) -> Vec<u8> {
    build_db(1024, &[Table::oauth_tokens(rows)])
}

#[test]
fn auth_db_is_read_after_the_json_files() {
    let db = auth_db(&[
        TokenRowSpec::plain(
            1,
            "github.com",
            COPILOT_APP_CLIENT_ID,
            "dbuser",
            "ghu_from_db",
            5,
        ),
        TokenRowSpec::plain(
            2,
            "acme.ghe.com",
            COPILOT_APP_CLIENT_ID,
            "emp",
            "ghu_acme_db",
            9,
        ),
    ]);
    let host = home()
        .with_file(
            APPS,
            br#"{"github.com:Iv1.b507a08c87ecfe98": {"oauth_token": "ghu_trunc"#,
        )
        .with_file(AUTHDB, &db);
    let (c, report) = discover_with_report(&host, &Settings::default());
    let c = c.expect("credential");
    assert_eq!(c.token, "ghu_from_db");
    assert_eq!(c.login.as_deref(), Some("dbuser"));
    assert_eq!(c.source, format!("{AUTHDB} (app {COPILOT_APP_CLIENT_ID})"));
    assert!(report.iter().any(|r| r.starts_with(APPS)), "{report:?}");
    assert!(
        report.contains(&format!("{HOSTS}: not found")),
        "{report:?}"
    );
    assert_eq!(found(&host, &enterprise()).token, "ghu_acme_db");
    // The JSON files still come first.
    let host = host.with_file(HOSTS, br#"{"github.com":{"oauth_token":"gho_hosts"}}"#);
    assert_eq!(found(&host, &Settings::default()).token, "gho_hosts");
}

#[test]
fn a_token_only_in_the_wal_is_found() {
    let before = auth_db(&[]);
    let after = auth_db(&[TokenRowSpec::plain(
        1,
        "github.com",
        COPILOT_APP_CLIENT_ID,
        "w",
        "ghu_wal_only",
        5,
    )]);
    let wal = build_wal(
        1024,
        (1, 2),
        &[Frame {
            page: 2,
            data: page(&after, 1024, 2),
            commit_size: 2,
        }],
        false,
    );
    let host = home().with_file(AUTHDB, &before);
    assert_eq!(
        searched(&host, &Settings::default()),
        [
            "env GH_COPILOT_TOKEN: not set",
            "env GITHUB_COPILOT_TOKEN: not set",
            "env GITHUB_TOKEN: used only in Codespaces (CODESPACES is not \"true\")",
            &format!("{APPS}: not found"),
            &format!("{HOSTS}: not found"),
            &format!("{AUTHDB}: no entry for github.com"),
            &format!("{STORED_SOURCE}: none (sign in with `copilot-host sign-in`)"),
        ]
    );
    let host = host.with_file(AUTHDB_WAL, &wal);
    assert_eq!(found(&host, &Settings::default()).token, "ghu_wal_only");
    // An unreadable WAL is reported and the main file is still read.
    let host = home()
        .with_file(AUTHDB, &after)
        .with_file_error(AUTHDB_WAL, FileError::Denied);
    let (c, report) = discover_with_report(&host, &Settings::default());
    assert_eq!(c.expect("credential").token, "ghu_wal_only");
    assert!(report.iter().any(|r| r.starts_with(AUTHDB_WAL) && r.contains("without its most recent changes")), "{report:?}");
}

#[test]
fn encrypted_and_corrupt_databases_are_reasons() {
    let host = home().with_file(
        AUTHDB,
        &auth_db(&[TokenRowSpec::encrypted(
            1,
            "github.com",
            COPILOT_APP_CLIENT_ID,
            "e",
            1,
        )]),
    );
    let reasons = searched(&host, &Settings::default());
    let reason = reasons
        .iter()
        .find(|r| r.starts_with(AUTHDB))
        .expect("auth.db reason");
    assert!(reason.contains("encrypted"), "{reason}");
    let mut corrupt = auth_db(&[TokenRowSpec::plain(
        1,
        "github.com",
        COPILOT_APP_CLIENT_ID,
        "u",
        "ghu_secret_in_db",
        1,
    )]);
    corrupt.truncate(1500);
    let host = home().with_file(AUTHDB, &corrupt);
    let reasons = searched(&host, &Settings::default());
    assert!(
        reasons.contains(&format!("{AUTHDB}: truncated: page 2 is missing")),
        "{reasons:?}"
    );
    assert!(!reasons.join(" ").contains("ghu_secret_in_db"));
}

fn stored(host: &FakeHost, for_host: &str, token: &str) {
    let json = StoredToken {
        host: for_host.into(),
        token: token.into(),
        login: Some("me".into()),
        api: None,
    }
    .to_json();
    host.credentials
        .borrow_mut()
        .insert(STORED_TOKEN_KEY.to_string(), json);
}

#[test]
fn the_stored_sign_in_is_the_last_source() {
    let host = home();
    stored(&host, "github.com", "ghu_stored");
    let c = found(&host, &Settings::default());
    assert_eq!(
        (c.token.as_str(), c.source.as_str(), c.login.as_deref()),
        ("ghu_stored", STORED_SOURCE, Some("me"))
    );
    // Any file source wins over it.
    let host = host.with_file(HOSTS, br#"{"github.com":{"oauth_token":"gho_file"}}"#);
    assert_eq!(found(&host, &Settings::default()).token, "gho_file");
    // A sign-in for github.com is never used for an enterprise host.
    let host = home();
    stored(&host, "github.com", "ghu_stored");
    let reasons = searched(&host, &enterprise());
    assert!(
        reasons.contains(&format!(
            "{STORED_SOURCE}: it is for github.com, not acme.ghe.com"
        )),
        "{reasons:?}"
    );
    // Garbage or an unavailable store are reasons, not failures.
    let host = home();
    host.credentials
        .borrow_mut()
        .insert(STORED_TOKEN_KEY.into(), "ghu_raw_secret".into());
    let reasons = searched(&host, &Settings::default());
    assert!(
        reasons.last().is_some_and(|r| r.contains("unreadable"))
            && !reasons.join(" ").contains("ghu_raw_secret"),
        "{reasons:?}"
    );
    let mut host = home();
    host.credential_error = Some(CredentialError::Unavailable("no keyring".into()));
    assert_eq!(
        searched(&host, &Settings::default())
            .last()
            .map(String::as_str),
        Some(&*format!(
            "{STORED_SOURCE}: secret store unavailable: no keyring"
        ))
    );
    assert!(!format!(
        "{:?}",
        StoredToken::parse(
            &StoredToken {
                host: "h".into(),
                token: "ghu_dbg".into(),
                login: None,
                api: None,
            }
            .to_json()
        )
    )
    .contains("ghu_dbg"));
}

// ---- Scope (issue 12): a credential belongs to a host. ----

const SIM: &str = "http://127.0.0.1:8787";

fn loopback_api() -> Settings {
    Settings {
        github_api_url: Some(SIM.into()),
        ..Settings::default()
    }
}

fn stored_made_against(host: &FakeHost, api: Option<&str>, token: &str) {
    let json = StoredToken {
        host: "github.com".into(),
        token: token.into(),
        login: None,
        api: api.map(str::to_string),
    }
    .to_json();
    host.credentials
        .borrow_mut()
        .insert(STORED_TOKEN_KEY.to_string(), json);
}

#[test]
fn a_default_dir_credential_is_withheld_from_an_api_elsewhere() {
    let host = home().with_file(
        APPS,
        br#"{"github.com:Iv1.b507a08c87ecfe98":{"user":"u","oauth_token":"ghu_home"}}"#,
    );
    assert_eq!(found(&host, &Settings::default()).token, "ghu_home");
    let reasons = searched(&host, &loopback_api());
    let joined = reasons.join("\n");
    assert!(
        joined.contains("/home/u/.config/github-copilot: withheld: a default place")
            && joined.contains("not 127.0.0.1:8787"),
        "{reasons:?}"
    );
    assert!(!joined.contains("ghu_home"));
    // In the clear, or on a look-alike host, is elsewhere too.
    for api in ["http://api.github.com", "https://api.github.com.evil.example"] {
        let settings = Settings { github_api_url: Some(api.into()), ..Settings::default() };
        assert!(discover(&host, &settings).is_err(), "{api}");
    }
    // The host's own API by URL is home.
    let settings = Settings {
        github_api_url: Some("https://api.github.com/".into()),
        ..Settings::default()
    };
    assert_eq!(found(&host, &settings).token, "ghu_home");
}

#[test]
fn an_explicit_config_dir_goes_to_the_api_given() {
    let host = FakeHost::new().with_file(
        "/cfg/apps.json",
        br#"{"github.com:Iv1.b507a08c87ecfe98":{"user":"u","oauth_token":"ghu_explicit"}}"#,
    );
    let settings = Settings {
        copilot_config_dir: Some("/cfg".into()),
        ..loopback_api()
    };
    let c = found(&host, &settings);
    assert_eq!(c.token, "ghu_explicit");
    assert!(scope_of(&settings, &c).contains("given for this run"));
}

#[test]
fn an_env_token_goes_to_the_api_given() {
    let host = home()
        .with_env("GH_COPILOT_TOKEN", "ghu_env")
        .with_file(APPS, br#"{"github.com:Iv1.b507a08c87ecfe98":{"oauth_token":"ghu_home"}}"#);
    let c = found(&host, &loopback_api());
    assert_eq!(c.token, "ghu_env");
    assert!(scope_of(&loopback_api(), &c).contains("127.0.0.1:8787"));
}

#[test]
fn a_stored_sign_in_goes_only_to_the_api_it_was_made_against() {
    // Made for github.com (recorded, or written before the API was recorded).
    for made in [Some("https://api.github.com"), None] {
        let host = home();
        stored_made_against(&host, made, "ghu_real");
        assert_eq!(found(&host, &Settings::default()).token, "ghu_real");
        let reasons = searched(&host, &loopback_api());
        assert!(
            reasons.last().is_some_and(|r| r.starts_with(STORED_SOURCE) && r.contains("withheld")),
            "{reasons:?}"
        );
    }
    // Made against the simulator: used there, and never sent to github.com.
    let host = home();
    stored_made_against(&host, Some(SIM), "ghu_sim");
    let c = found(&host, &loopback_api());
    assert_eq!(c.token, "ghu_sim");
    assert!(scope_of(&loopback_api(), &c).contains("made against 127.0.0.1:8787"));
    let reasons = searched(&host, &Settings::default());
    assert!(
        reasons.last().is_some_and(|r| r.contains("made against 127.0.0.1:8787, not api.github.com")),
        "{reasons:?}"
    );
    // Another simulator port is another place.
    let elsewhere = Settings { github_api_url: Some("http://127.0.0.1:9999".into()), ..Settings::default() };
    assert!(discover(&host, &elsewhere).is_err());
}

#[test]
fn scope_reasons_never_show_url_userinfo() {
    let settings = Settings {
        github_api_url: Some("https://user:hunter2@proxy.example/api".into()),
        ..Settings::default()
    };
    for source in [Source::Env, Source::ExplicitConfigDir, Source::DefaultConfigDir, Source::Stored] {
        let why = match scope(&settings, source, Some("https://me:pw@other.example")) {
            Ok(why) | Err(why) => why,
        };
        assert!(!why.contains("hunter2") && !why.contains("pw@"), "{why}");
    }
}
