//! The diagnostic report behind `copilot-host doctor` and the settings view: where the
//! credential was looked for and what was found, the exchange result and the catalog size,
//! with a fix for each problem.
//!
//! Design decision: the WIT contract has no diagnostics export, so the report travels in
//! `llm-provider-settings-markdown`: a human-readable section, plus the same report as JSON in
//! an HTML comment (invisible when the markdown is rendered) that a host can parse, see
//! [`REPORT_MARKER`]. Nothing here holds a secret: the discovery reasons never quote tokens,
//! and the session info carries none.

use serde::Serialize;

use crate::catalog::select::Selection;
use crate::auth::credentials;
use crate::host_api::HostApi;
use crate::auth::session::{AuthKind, SessionInfo};
use crate::settings::Settings;

/// Starts the HTML comment that carries the JSON report; it ends at the next `-->`.
pub const REPORT_MARKER: &str = "<!-- copilot-doctor:";
/// Where users manage their Copilot plan and policies.
const COPILOT_SETTINGS_URL: &str = "https://github.com/settings/copilot";

/// The whole report.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Report {
    /// The GitHub host credentials are looked up for.
    pub github_host: String,
    /// The Copilot config directories searched, and the rule that chose them.
    pub config_dirs: Vec<String>,
    pub config_dir_rule: String,
    /// Every place tried, in order, with what was found there.
    pub sources: Vec<SourceResult>,
    /// The credential in use, if any.
    pub credential: Option<CredentialReport>,
    /// The last token exchange of this instance, if one happened.
    pub exchange: Option<ExchangeReport>,
    /// How many models the cached catalog offers, if it was fetched.
    pub models: Option<usize>,
    /// How many the server listed, and why the others are not offered.
    pub catalog: Option<Selection>,
    /// What is wrong and how to fix it.
    pub problems: Vec<Problem>,
}

/// One place searched.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SourceResult {
    pub source: String,
    pub result: String,
}

/// The chosen credential (never its token).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CredentialReport {
    pub source: String,
    pub host: String,
    pub login: Option<String>,
    /// Where the token goes and why (the scope rule, issue 12).
    pub goes_to: String,
}

/// The exchange outcome.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ExchangeReport {
    /// `session` (exchange succeeded) or `oauth-fallback` (it failed; raw token in use).
    pub status: String,
    /// `endpoints.api`, the Copilot API base in use.
    pub api: String,
    pub sku: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<u64>,
    pub refresh_at: Option<u64>,
    pub fallback_reason: Option<String>,
    /// An `endpoints.api` the exchange named that is not used, and why (issue 12).
    pub refused_api: Option<String>,
}

/// A problem and its fix.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub problem: String,
    pub fix: String,
}

/// Builds the report: discovery runs again (reads files, no network); the session and the
/// model count are what the provider has cached.
pub fn report(
    host: &dyn HostApi,
    settings: &Settings,
    session: Option<SessionInfo>,
    catalog: Option<Selection>,
) -> Report {
    let models = catalog.as_ref().map(|c| c.shown);
    let github_host = settings.github_host();
    let mut ignored = Vec::new();
    let config_dirs = credentials::config_dirs(host, settings, &mut ignored);
    let (found, searched) = credentials::discover_with_report(host, settings);
    let mut sources: Vec<SourceResult> = searched.iter().map(|line| split_reason(line)).collect();
    let credential = found.ok().map(|c| {
        let login = c
            .login
            .as_deref()
            .map(|l| format!(" for {l}"))
            .unwrap_or_default();
        sources.push(SourceResult {
            source: c.source.clone(),
            result: format!("found a token{login} (used)"),
        });
        CredentialReport {
            goes_to: credentials::scope_of(settings, &c),
            source: c.source,
            host: github_host.clone(),
            login: c.login,
        }
    });
    let exchange = session.map(exchange_report);
    let mut report = Report {
        github_host,
        config_dirs,
        config_dir_rule: credentials::config_dir_rule(host, settings),
        sources,
        credential,
        exchange,
        models,
        catalog,
        problems: Vec::new(),
    };
    report.problems = problems(&report);
    report
}

/// `place: why` → its two parts (Windows paths have `:` but never `: ` inside).
fn split_reason(line: &str) -> SourceResult {
    match line.split_once(": ") {
        Some((source, result)) => SourceResult {
            source: source.to_string(),
            result: result.to_string(),
        },
        None => SourceResult {
            source: line.to_string(),
            result: String::new(),
        },
    }
}

fn exchange_report(info: SessionInfo) -> ExchangeReport {
    ExchangeReport {
        status: match info.kind {
            AuthKind::Session => "session".to_string(),
            AuthKind::RawOAuth => "oauth-fallback".to_string(),
        },
        api: info.api_base,
        sku: info.sku,
        expires_at: info.expires_at,
        refresh_at: info.refresh_at,
        fallback_reason: info.fallback_reason,
        refused_api: info.refused_api,
    }
}

/// What needs fixing. A place that holds nothing (a file or a whole Copilot config dir that
/// does not exist, as on a machine signed in only with `copilot-host sign-in`) is not a
/// problem; nor is a directory the host does not let the extension read while another source
/// works: the missing credential then says what to do.
fn problems(r: &Report) -> Vec<Problem> {
    let mut out = Vec::new();
    for s in &r.sources {
        let fix = if s.result.contains("encrypted") {
            "sign in again with a current Copilot language server (it stores the token in plaintext), or run `copilot-host sign-in`"
        } else if s.result.starts_with("malformed")
            || s.result.starts_with("corrupt")
            || s.result.starts_with("truncated")
            || s.result.starts_with("not a SQLite")
            || s.result.starts_with("unreadable")
        {
            "the file is damaged: sign in again with the client that wrote it, or run `copilot-host sign-in`"
        } else if s.result.starts_with("not readable: the host did not grant")
            && r.credential.is_none()
        {
            "grant the extension read access to this directory, or set copilot_config_dir"
        } else {
            continue;
        };
        out.push(Problem {
            problem: format!("{}: {}", s.source, s.result),
            fix: fix.to_string(),
        });
    }
    if r.credential.is_none() {
        let dir = r
            .config_dirs
            .first()
            .map(String::as_str)
            .unwrap_or("the Copilot config directory");
        out.push(Problem {
            problem: format!("no GitHub credential for {} in any place above", r.github_host),
            fix: format!(
                "run `copilot-host sign-in`, or sign in with another Copilot client (it writes {dir}), or set GH_COPILOT_TOKEN"
            ),
        });
    }
    if let Some(e) = &r.exchange {
        if let Some(reason) = &e.fallback_reason {
            out.push(Problem {
                problem: format!("the token exchange failed ({reason}); the raw OAuth token is used and the catalog may be reduced"),
                fix: "make sure the account has Copilot, and that the token comes from the Copilot app (`copilot-host sign-in` gets one)".to_string(),
            });
        }
    }
    if r.models == Some(0) {
        out.push(Problem {
            problem: "the catalog offers no models".to_string(),
            fix: format!("check the Copilot plan and model policies at {COPILOT_SETTINGS_URL}"),
        });
    }
    out
}

impl Report {
    /// The markdown section: readable text, then the JSON in a hidden comment.
    pub fn markdown(&self) -> String {
        let mut md = String::from("\n## Diagnostics\n\n");
        md.push_str(&format!(
            "* Config directory: {} (chosen by {})\n",
            code_list(&self.config_dirs),
            self.config_dir_rule
        ));
        md.push_str("* Looked for a GitHub credential in:\n");
        for s in &self.sources {
            md.push_str(&format!("  * `{}`: {}\n", s.source, s.result));
        }
        match &self.credential {
            Some(c) => {
                let login = c
                    .login
                    .as_deref()
                    .map(|l| format!(" as `{l}`"))
                    .unwrap_or_default();
                md.push_str(&format!(
                    "* Signed in to `{}`{login} with the token from `{}` ({})\n",
                    c.host, c.source, c.goes_to
                ));
            }
            None => md.push_str(&format!("* Not signed in to `{}`\n", self.github_host)),
        }
        match &self.exchange {
            Some(e) => {
                md.push_str(&format!("* Token exchange: {} (API `{}`", e.status, e.api));
                if let Some(sku) = &e.sku {
                    md.push_str(&format!(", SKU `{sku}`"));
                }
                if let Some(exp) = e.expires_at {
                    md.push_str(&format!(", expires at {exp}"));
                }
                md.push_str(")\n");
                if let Some(refused) = &e.refused_api {
                    md.push_str(&format!(
                        "  * Warning: the exchange named the Copilot API {refused}; the default base is used instead\n"
                    ));
                }
            }
            None => md.push_str("* Token exchange: not done yet in this session\n"),
        }
        if let Some(c) = &self.catalog {
            md.push_str(&format!("* Models offered: {} of {} listed\n", c.shown, c.listed));
            for group in &c.hidden {
                md.push_str(&format!("  * not offered, {}: {}\n", group.reason, code_list(&group.ids)));
            }
        }
        for p in &self.problems {
            md.push_str(&format!("* Problem: {}. Fix: {}\n", p.problem, p.fix));
        }
        let json = serde_json::to_string(self).unwrap_or_default();
        // `-->` can only occur inside a JSON string, where `\u003e` means the same.
        md.push_str(&format!(
            "\n{REPORT_MARKER} {} -->\n",
            json.replace("-->", "--\\u003e")
        ));
        md
    }
}

fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The JSON report inside a settings markdown, if there is one.
pub fn extract(markdown: &str) -> Option<serde_json::Value> {
    let start = markdown.find(REPORT_MARKER)? + REPORT_MARKER.len();
    let end = markdown[start..].find("-->")? + start;
    serde_json::from_str(markdown[start..end].trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_api::FileError;
    use crate::testing::FakeHost;

    #[test]
    fn doctor_says_where_the_credential_goes_and_which_were_withheld() {
        let host = FakeHost::new().with_env("HOME", "/home/u").with_file(
            "/home/u/.config/github-copilot/apps.json",
            br#"{"github.com:Iv1.b507a08c87ecfe98":{"user":"u","oauth_token":"ghu_home_secret"}}"#,
        );
        let sim = Settings {
            github_api_url: Some("http://127.0.0.1:8787".into()),
            ..Settings::default()
        };
        let md = report(&host, &sim, None, None).markdown();
        assert!(
            md.contains("`/home/u/.config/github-copilot`: withheld: a default place")
                && md.contains("not 127.0.0.1:8787"),
            "{md}"
        );
        assert!(!md.contains("ghu_home_secret"));
        let md = report(&host, &Settings::default(), None, None).markdown();
        assert!(md.contains("goes to its API api.github.com"), "{md}");
    }

    #[test]
    fn no_credential_names_every_place_and_the_fix() {
        let host = FakeHost::new().with_env("HOME", "/home/u");
        let r = report(&host, &Settings::default(), None, None);
        assert_eq!(r.config_dirs, ["/home/u/.config/github-copilot"]);
        assert!(r.config_dir_rule.contains("$HOME/.config"));
        let places: Vec<&str> = r.sources.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(
            places,
            [
                "env GH_COPILOT_TOKEN",
                "env GITHUB_COPILOT_TOKEN",
                "env GITHUB_TOKEN",
                "/home/u/.config/github-copilot/apps.json",
                "/home/u/.config/github-copilot/hosts.json",
                "/home/u/.config/github-copilot/auth.db",
                credentials::STORED_SOURCE,
            ]
        );
        assert!(r
            .problems
            .last()
            .is_some_and(|p| p.fix.contains("copilot-host sign-in")));
        let md = r.markdown();
        assert!(md.contains("Not signed in to `github.com`"), "{md}");
        let json = extract(&md).expect("json");
        assert_eq!(json["credential"], serde_json::Value::Null);
        assert_eq!(json["sources"].as_array().map(Vec::len), Some(7));
    }

    #[test]
    fn a_found_credential_and_session_are_reported_without_secrets() {
        let host = FakeHost::new()
            .with_env("HOME", "/home/u")
            .with_env("GH_COPILOT_TOKEN", "ghu_secretvalue")
            .with_file(
                "/home/u/.config/github-copilot/apps.json",
                b"{ broken --> json",
            );
        let info = SessionInfo {
            kind: AuthKind::Session,
            api_base: "https://api.individual.githubcopilot.com".into(),
            received_at: Some(1),
            refresh_at: Some(2),
            expires_at: Some(3),
            sku: Some("plus_monthly_subscriber".into()),
            fallback_reason: None,
            refused_api: None,
        };
        let catalog = Selection {
            listed: 15,
            shown: 12,
            hidden: vec![crate::catalog::select::HiddenGroup {
                reason: "not a chat model (embeddings or completions)".into(),
                ids: vec!["text-embedding-3-small".into()],
            }],
        };
        let r = report(&host, &Settings::default(), Some(info), Some(catalog));
        let c = r.credential.clone().expect("credential");
        assert_eq!(
            (c.source.as_str(), c.host.as_str()),
            ("env GH_COPILOT_TOKEN", "github.com")
        );
        let md = r.markdown();
        assert!(!md.contains("ghu_secretvalue"), "{md}");
        let json = extract(&md).expect("json");
        assert_eq!(json["exchange"]["sku"], "plus_monthly_subscriber");
        assert_eq!(json["models"], 12);
        assert_eq!(json["catalog"]["listed"], 15);
        assert!(md.contains("Models offered: 12 of 15 listed"), "{md}");
        assert!(md.contains("not offered, not a chat model (embeddings or completions): `text-embedding-3-small`"), "{md}");
        // Discovery stops at the env token, so the broken file is not even read.
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    fn signed_in_with_copilot_host(host: &FakeHost) {
        let json = credentials::StoredToken {
            host: "github.com".into(),
            token: "ghu_stored_secret".into(),
            login: Some("me".into()),
            api: None,
        }
        .to_json();
        host.credentials
            .borrow_mut()
            .insert(credentials::STORED_TOKEN_KEY.to_string(), json);
    }

    #[test]
    fn a_missing_config_dir_is_nothing_to_fix_once_signed_in() {
        // A fresh machine: no Copilot config dir (every file not found), a stored sign-in.
        let host = FakeHost::new().with_env("HOME", "/home/u");
        signed_in_with_copilot_host(&host);
        let r = report(&host, &Settings::default(), None, None);
        assert_eq!(
            r.credential.as_ref().map(|c| c.source.as_str()),
            Some(credentials::STORED_SOURCE)
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        // Without the sign-in, the one problem says how to sign in.
        let host = FakeHost::new().with_env("HOME", "/home/u");
        let r = report(&host, &Settings::default(), None, None);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].fix.contains("copilot-host sign-in"));
    }

    #[test]
    fn an_unreadable_dir_matters_only_when_nothing_else_works() {
        let dir = "/home/u/.config/github-copilot";
        let denied = || {
            ["apps.json", "hosts.json", "auth.db"]
                .iter()
                .fold(FakeHost::new().with_env("HOME", "/home/u"), |h, f| {
                    h.with_file_error(&format!("{dir}/{f}"), FileError::Denied)
                })
        };
        let r = report(&denied(), &Settings::default(), None, None);
        let grants = r
            .problems
            .iter()
            .filter(|p| p.fix.starts_with("grant the extension read access"))
            .count();
        assert_eq!(grants, 3, "{:?}", r.problems);
        let host = denied();
        signed_in_with_copilot_host(&host);
        let r = report(&host, &Settings::default(), None, None);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert!(r
            .sources
            .iter()
            .any(|s| s.result.starts_with("not readable: the host did not grant")));
    }

    #[test]
    fn damaged_files_and_fallbacks_are_problems_with_fixes() {
        let host = FakeHost::new()
            .with_env("HOME", "/home/u")
            .with_file(
                "/home/u/.config/github-copilot/apps.json",
                b"{ not json -->",
            )
            .with_file(
                "/home/u/.config/github-copilot/auth.db",
                b"SQLite format 3\0 but short",
            );
        let info = SessionInfo {
            kind: AuthKind::RawOAuth,
            api_base: "https://api.githubcopilot.com".into(),
            received_at: None,
            refresh_at: None,
            expires_at: None,
            sku: None,
            fallback_reason: Some("404 --> Not Found".into()),
            refused_api: None,
        };
        let empty = Selection { listed: 3, shown: 0, hidden: vec![] };
        let r = report(&host, &Settings::default(), Some(info), Some(empty));
        let text: Vec<String> = r.problems.iter().map(|p| p.problem.clone()).collect();
        assert!(
            text.iter().any(|p| p.contains("apps.json: malformed JSON")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|p| p.contains("auth.db: not a SQLite database")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|p| p.contains("token exchange failed")),
            "{text:?}"
        );
        assert!(text.iter().any(|p| p.contains("no models")), "{text:?}");
        let json = extract(&r.markdown()).expect("a `-->` in a value does not end the comment");
        assert_eq!(json["exchange"]["fallback_reason"], "404 --> Not Found");
    }
}
