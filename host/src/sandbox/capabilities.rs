//! Capability enforcement: which env names, files and HTTP hosts the guest may reach.
//!
//! Design decision: every grant is computed once at load from the manifest's `[capabilities]`
//! plus what the user configured (Copilot config dir, GitHub API URL, enterprise host, extra
//! hosts), and every check is a pure function of those grants and the request. File checks are
//! lexical first, so a path outside every grant is denied without touching the filesystem
//! (the guest cannot learn whether it exists); only then is the path canonicalised to catch a
//! symlink that escapes its grant.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::contract::host::FileError;
use crate::sandbox::hosts::{is_loopback, normalize_host, split_host_port, HostPattern, Target};
use crate::sandbox::manifest::DeclaredCapabilities;

/// The largest file the guest may read (bytes).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Setting: the Copilot config dir (granted for reading; the user chose it).
pub const SETTING_COPILOT_CONFIG_DIR: &str = "copilot_config_dir";
/// Setting: the GitHub API base URL (its host:port is granted for HTTP).
pub const SETTING_GITHUB_API_URL: &str = "github_api_url";
/// Setting: a GitHub Enterprise host (it, `api.` and `copilot-api.` of it are granted).
pub const SETTING_ENTERPRISE_URI: &str = "enterprise_uri";
/// Symlinks followed by hand when classifying a missing path (Linux's own limit).
const MAX_SYMLINK_HOPS: u32 = 40;
/// Subdomains of an enterprise host that serve the GitHub and Copilot APIs.
const ENTERPRISE_SUBDOMAINS: [&str; 2] = ["api.", "copilot-api."];

/// Where the guest's environment variables come from.
#[derive(Clone, Default)]
pub enum EnvSource {
    /// The host process's environment.
    #[default]
    Process,
    /// A fixed map (tests, the demo): the real environment is never consulted.
    Map(HashMap<String, String>),
}

/// Names only: values may be tokens.
impl std::fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvSource::Process => f.write_str("EnvSource::Process"),
            EnvSource::Map(map) => {
                let mut names: Vec<&String> = map.keys().collect();
                names.sort();
                write!(f, "EnvSource::Map({names:?})")
            }
        }
    }
}

impl EnvSource {
    /// The variable's value, `None` when unset or not valid Unicode.
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            EnvSource::Process => std::env::var(name).ok(),
            EnvSource::Map(map) => map.get(name).cloned(),
        }
    }

    /// The user's home directory as this source sees it.
    pub fn home(&self) -> Option<PathBuf> {
        let home = self.get("HOME").or_else(|| self.get("USERPROFILE"))?;
        let path = PathBuf::from(home);
        path.is_absolute().then_some(path)
    }
}

/// Everything the guest was granted, fixed at load.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Environment variable names the guest may read.
    pub env: BTreeSet<String>,
    /// Absolute, lexically normalised directories.
    pub read_dirs: Vec<PathBuf>,
    /// Hosts the guest may call.
    pub http_hosts: Vec<HostPattern>,
}

impl Grants {
    /// Combines the manifest's declarations with what the user configured.
    ///
    /// `settings` is the merged provider settings object; its Copilot config dir, GitHub API
    /// URL and enterprise URI widen the grants because the user chose them.
    pub fn build(
        declared: &DeclaredCapabilities,
        env: &EnvSource,
        settings: &serde_json::Value,
        extra_http_hosts: &[String],
    ) -> Result<Grants, String> {
        let mut grants = Grants {
            env: declared.env.iter().cloned().collect(),
            read_dirs: declared
                .read_dirs
                .iter()
                .filter_map(|d| expand_dir(d, env))
                .collect(),
            http_hosts: Vec::new(),
        };
        for host in &declared.http_hosts {
            grants.http_hosts.push(HostPattern::parse(host)?);
        }
        for host in extra_http_hosts {
            let pattern =
                HostPattern::parse(host).map_err(|e| format!("extra HTTP host `{host}`: {e}"))?;
            grants.http_hosts.push(pattern);
        }
        grants.add_user_settings(settings, env)?;
        grants.read_dirs.sort();
        grants.read_dirs.dedup();
        grants.http_hosts.sort();
        grants.http_hosts.dedup();
        Ok(grants)
    }

    fn add_user_settings(
        &mut self,
        settings: &serde_json::Value,
        env: &EnvSource,
    ) -> Result<(), String> {
        let text = |key: &str| {
            settings
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.trim().is_empty())
        };
        if let Some(dir) = text(SETTING_COPILOT_CONFIG_DIR) {
            // The extension reads a leading `~` as the home directory: grant what it will read.
            let expanded = if dir == "~" || dir.starts_with("~/") {
                expand_dir(dir, env)
            } else {
                Some(PathBuf::from(dir)).filter(|p| p.is_absolute())
            };
            let Some(path) = expanded else {
                return Err(format!(
                    "the Copilot config dir `{dir}` must be an absolute path (or start with `~/`)"
                ));
            };
            self.read_dirs.push(normalize_lexically(&path));
        }
        if let Some(url) = text(SETTING_GITHUB_API_URL) {
            let target =
                Target::from_url(url).map_err(|e| format!("the GitHub API URL `{url}`: {e}"))?;
            let port = (target.port != target.default_port()).then_some(target.port);
            self.http_hosts.push(HostPattern {
                wildcard: false,
                host: target.host,
                port,
            });
        }
        if let Some(uri) = text(SETTING_ENTERPRISE_URI) {
            let host = enterprise_host(uri)
                .ok_or_else(|| format!("the enterprise URI `{uri}` has no host name"))?;
            for prefix in std::iter::once("").chain(ENTERPRISE_SUBDOMAINS) {
                self.http_hosts.push(HostPattern {
                    wildcard: false,
                    host: format!("{prefix}{host}"),
                    port: None,
                });
            }
        }
        Ok(())
    }

    /// Whether the guest may read this environment variable.
    pub fn env_allowed(&self, name: &str) -> bool {
        self.env.contains(name)
    }

    /// `Ok` when the URL may be fetched; `Err(host)` (the name to report) otherwise.
    pub fn check_url(&self, url: &str) -> Result<Target, String> {
        let target = Target::from_url(url).map_err(|_| url_host_for_error(url))?;
        if !target.https && !is_loopback(&target.host) {
            return Err(target.authority());
        }
        let default_port = target.default_port();
        if self
            .http_hosts
            .iter()
            .any(|p| p.matches(&target.host, target.port, default_port))
        {
            Ok(target)
        } else {
            Err(target.authority())
        }
    }

    /// Reads a file the guest asked for, within the read grants.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError> {
        let requested = Path::new(path);
        if !requested.is_absolute() {
            return Err(FileError::Denied);
        }
        let lexical = normalize_lexically(requested);
        // Lexical check first: nothing outside the grants is ever stat'ed.
        if !self.read_dirs.iter().any(|dir| lexical.starts_with(dir)) {
            return Err(FileError::Denied);
        }
        let real = match std::fs::canonicalize(&lexical) {
            Ok(real) => real,
            Err(e) => return Err(self.unresolved_path_error(&lexical, e)),
        };
        // A symlink inside a grant must not lead outside every grant.
        if !self.inside_real_grant(&real) {
            return Err(FileError::Denied);
        }
        read_limited(&real)
    }

    /// Whether a real path (see `real_location`) lies under the real location of a read
    /// grant. A grant that does not exist yet (a fresh machine's Copilot config dir) still
    /// has one, so a file asked for in it is plainly not found, not denied.
    fn inside_real_grant(&self, real: &Path) -> bool {
        self.read_dirs
            .iter()
            .filter_map(|dir| real_location(dir))
            .any(|dir| real.starts_with(dir))
    }

    /// The error for a path inside a grant that does not resolve (missing, a link loop, no
    /// permission): the real reason only when the place it names lies inside a grant. A link
    /// that dangles outside every grant is `Denied`, like a link whose target exists, so the
    /// guest cannot probe for files outside its grants through a symlink.
    fn unresolved_path_error(&self, lexical: &Path, error: std::io::Error) -> FileError {
        match self.missing_lies_inside(lexical, MAX_SYMLINK_HOPS) {
            Some(true) if error.kind() == std::io::ErrorKind::NotFound => FileError::NotFound,
            Some(true) => FileError::Io(error.to_string()),
            _ => FileError::Denied,
        }
    }

    /// Where a path that does not fully exist points once the symlinks on its existing part
    /// are followed: inside a grant or not; `None` when that cannot be told (a link loop).
    fn missing_lies_inside(&self, path: &Path, hops: u32) -> Option<bool> {
        // The deepest ancestor that exists, as a link or otherwise.
        let existing = path
            .ancestors()
            .find(|p| std::fs::symlink_metadata(p).is_ok())?;
        let rest = path.strip_prefix(existing).ok()?;
        if !std::fs::symlink_metadata(existing)
            .ok()?
            .file_type()
            .is_symlink()
        {
            return Some(self.inside_real_grant(&real_location(path)?));
        }
        // A link whose target is missing: follow it by hand from its real directory.
        let next_hops = hops.checked_sub(1)?;
        let target = std::fs::read_link(existing).ok()?;
        let base = std::fs::canonicalize(existing.parent()?).ok()?;
        let next = normalize_lexically(&base.join(target).join(rest));
        self.missing_lies_inside(&next, next_hops)
    }
}

/// Where `path` lies with every symlink resolved, whether or not it exists: the canonical
/// form of its deepest existing ancestor joined with the rest, which does not exist and so
/// holds no link. `None` when that ancestor is a link that does not resolve (dangling, a
/// loop): callers then treat the path as outside every grant.
fn real_location(path: &Path) -> Option<PathBuf> {
    let existing = path
        .ancestors()
        .find(|p| std::fs::symlink_metadata(p).is_ok())?;
    let rest = path.strip_prefix(existing).ok()?;
    let real = std::fs::canonicalize(existing).ok()?;
    Some(if rest.as_os_str().is_empty() {
        real
    } else {
        real.join(rest)
    })
}

/// The host of an enterprise URI given as `https://host/...`, `host` or `host:port`.
fn enterprise_host(uri: &str) -> Option<String> {
    let rest = uri.trim();
    let rest = rest.split_once("://").map(|(_, r)| r).unwrap_or(rest);
    let authority = rest.split('/').next().unwrap_or("");
    let (host, _) = split_host_port(authority).ok()?;
    let host = normalize_host(host);
    (!host.is_empty()).then_some(host)
}

/// Best-effort host name of an unparsable URL, for the `denied` error.
fn url_host_for_error(url: &str) -> String {
    enterprise_host(url).unwrap_or_else(|| "(invalid URL)".to_string())
}

fn read_limited(path: &Path) -> Result<Vec<u8>, FileError> {
    let io = |e: std::io::Error| FileError::Io(e.to_string());
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::Io("not a regular file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(MAX_FILE_BYTES));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow between stat and read: read at most one byte past the limit.
    File::open(path)
        .map_err(io)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(MAX_FILE_BYTES));
    }
    Ok(bytes)
}

/// Expands a manifest `read_dirs` entry: `~` is the home of `env`, `$VAR` must be set to an
/// absolute path; anything else that is not absolute is dropped.
pub fn expand_dir(entry: &str, env: &EnvSource) -> Option<PathBuf> {
    let entry = entry.trim();
    let expanded = if entry == "~" {
        env.home()?
    } else if let Some(rest) = entry.strip_prefix("~/") {
        env.home()?.join(rest)
    } else if let Some(rest) = entry.strip_prefix('$') {
        let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let base = PathBuf::from(env.get(name)?);
        if !base.is_absolute() {
            return None;
        }
        if tail.is_empty() {
            base
        } else {
            base.join(tail)
        }
    } else {
        PathBuf::from(entry)
    };
    expanded
        .is_absolute()
        .then(|| normalize_lexically(&expanded))
}

/// Resolves `.` and `..` without touching the filesystem (`..` never climbs above the root).
pub fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir | Component::Normal(_) => out.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                if out.parent().is_some() {
                    out.pop();
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> EnvSource {
        EnvSource::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn grants_with_hosts(hosts: &[&str]) -> Grants {
        let declared = DeclaredCapabilities {
            http_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        Grants::build(&declared, &env(&[]), &json!({}), &[]).expect("grants")
    }

    #[test]
    fn wildcard_matches_subdomains_only() {
        let g = grants_with_hosts(&["*.githubcopilot.com", "api.github.com"]);
        assert!(g.check_url("https://api.githubcopilot.com/chat").is_ok());
        assert!(g
            .check_url("https://api.individual.githubcopilot.com/x")
            .is_ok());
        assert!(g.check_url("https://API.GitHubCopilot.com./x").is_ok());
        assert_eq!(
            g.check_url("https://githubcopilot.com/").unwrap_err(),
            "githubcopilot.com"
        );
        assert!(g.check_url("https://evilgithubcopilot.com/").is_err());
        assert!(g.check_url("https://githubcopilot.com.evil.net/").is_err());
        assert!(g.check_url("https://api.github.com/user").is_ok());
        assert!(g.check_url("https://x.api.github.com/user").is_err());
    }

    #[test]
    fn ports_must_match() {
        let g = grants_with_hosts(&["api.github.com", "127.0.0.1:8080", "localhost:9000"]);
        assert!(g.check_url("https://api.github.com:443/").is_ok());
        assert_eq!(
            g.check_url("https://api.github.com:8443/").unwrap_err(),
            "api.github.com:8443"
        );
        assert!(g.check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(g.check_url("http://127.0.0.1:8081/x").is_err());
        assert!(g.check_url("http://localhost:9000/").is_ok());
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let g = grants_with_hosts(&["api.github.com", "127.0.0.1:8080", "example.com:8080"]);
        assert_eq!(
            g.check_url("http://api.github.com/").unwrap_err(),
            "api.github.com"
        );
        assert!(g.check_url("http://example.com:8080/").is_err());
        assert!(g.check_url("https://example.com:8080/").is_ok());
        assert!(g.check_url("http://127.0.0.1:8080/").is_ok());
        assert!(g.check_url("ftp://api.github.com/").is_err());
        assert!(g.check_url("not a url").is_err());
        assert!(is_loopback("[::1]") && is_loopback("127.9.9.9") && is_loopback("LOCALHOST"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("localhost.evil.com"));
    }

    #[test]
    fn user_settings_widen_http_and_files() {
        let settings = json!({
            "github_api_url": "http://127.0.0.1:4567",
            "enterprise_uri": "https://ghe.example.com/",
            "copilot_config_dir": "/tmp/cfg/../cfg2",
        });
        let g = Grants::build(
            &DeclaredCapabilities::default(),
            &env(&[]),
            &settings,
            &["extra.example:444".into()],
        )
        .expect("grants");
        assert!(g
            .check_url("http://127.0.0.1:4567/copilot_internal/v2/token")
            .is_ok());
        assert!(g.check_url("http://127.0.0.1:4568/").is_err());
        for host in [
            "ghe.example.com",
            "api.ghe.example.com",
            "copilot-api.ghe.example.com",
        ] {
            assert!(g.check_url(&format!("https://{host}/x")).is_ok(), "{host}");
        }
        assert!(g.check_url("https://other.ghe.example.com/").is_err());
        assert!(g.check_url("https://extra.example:444/").is_ok());
        assert_eq!(g.read_dirs, vec![PathBuf::from("/tmp/cfg2")]);
        let bad = Grants::build(
            &DeclaredCapabilities::default(),
            &env(&[]),
            &json!({"copilot_config_dir": "rel"}),
            &[],
        );
        assert!(bad.is_err());
    }

    #[test]
    fn a_config_dir_under_home_is_granted_as_the_extension_reads_it() {
        let declared = DeclaredCapabilities::default();
        let settings = json!({"copilot_config_dir": "~/.config/github-copilot"});
        let g =
            Grants::build(&declared, &env(&[("HOME", "/home/u")]), &settings, &[]).expect("grants");
        assert_eq!(
            g.read_dirs,
            vec![PathBuf::from("/home/u/.config/github-copilot")]
        );
        // Without a home there is nothing to expand `~` to.
        assert!(Grants::build(&declared, &env(&[]), &settings, &[]).is_err());
        let other_user = json!({"copilot_config_dir": "~root/x"});
        assert!(Grants::build(&declared, &env(&[("HOME", "/home/u")]), &other_user, &[]).is_err());
    }

    #[test]
    fn env_debug_shows_names_not_values() {
        let shown = format!("{:?}", env(&[("GH_COPILOT_TOKEN", "gho_secret_value")]));
        assert!(
            shown.contains("GH_COPILOT_TOKEN") && !shown.contains("gho_secret_value"),
            "{shown}"
        );
    }

    #[test]
    fn env_names_are_filtered_by_the_manifest() {
        let declared = DeclaredCapabilities {
            env: vec!["GITHUB_TOKEN".into()],
            ..Default::default()
        };
        let g = Grants::build(&declared, &env(&[]), &json!({}), &[]).unwrap();
        assert!(g.env_allowed("GITHUB_TOKEN"));
        assert!(!g.env_allowed("AWS_SECRET_ACCESS_KEY"));
        assert!(!g.env_allowed("github_token"));
    }

    #[test]
    fn read_dirs_expand_home_and_absolute_vars_only() {
        let e = env(&[
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", "/xdg"),
            ("LOCALAPPDATA", "relative"),
        ]);
        assert_eq!(
            expand_dir("~/.config/github-copilot", &e),
            Some(PathBuf::from("/home/u/.config/github-copilot"))
        );
        assert_eq!(
            expand_dir("$XDG_CONFIG_HOME/github-copilot", &e),
            Some(PathBuf::from("/xdg/github-copilot"))
        );
        assert_eq!(expand_dir("$LOCALAPPDATA/github-copilot", &e), None);
        assert_eq!(expand_dir("$UNSET/x", &e), None);
        assert_eq!(expand_dir("~/x", &env(&[])), None);
        assert_eq!(expand_dir("relative/dir", &e), None);
        assert_eq!(
            expand_dir("/abs/./a/../b", &e),
            Some(PathBuf::from("/abs/b"))
        );
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir()
                .join(format!("copilot-host-{tag}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(std::fs::canonicalize(&dir).unwrap())
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn file_grants(dir: &Path) -> Grants {
        Grants {
            read_dirs: vec![dir.to_path_buf()],
            ..Default::default()
        }
    }

    #[test]
    fn read_file_inside_grant() {
        let tmp = TempDir::new("read");
        let granted = tmp.0.join("granted");
        std::fs::create_dir_all(&granted).unwrap();
        std::fs::write(granted.join("apps.json"), b"{}").unwrap();
        let g = file_grants(&granted);
        assert_eq!(
            g.read_file(granted.join("apps.json").to_str().unwrap()),
            Ok(b"{}".to_vec())
        );
        assert_eq!(
            g.read_file(granted.join("missing.json").to_str().unwrap()),
            Err(FileError::NotFound)
        );
        assert!(matches!(
            g.read_file(granted.to_str().unwrap()),
            Err(FileError::Io(_))
        ));
    }

    #[test]
    fn a_granted_directory_that_does_not_exist_is_not_found_not_denied() {
        let tmp = TempDir::new("fresh");
        // A fresh machine: the grant's parent exists, the grant itself does not (yet).
        let granted = tmp.0.join(".config").join("github-copilot");
        std::fs::create_dir_all(tmp.0.join(".config")).unwrap();
        let g = file_grants(&granted);
        let read = |p: &Path| g.read_file(p.to_str().unwrap());
        assert_eq!(read(&granted.join("apps.json")), Err(FileError::NotFound));
        assert_eq!(
            read(&granted.join("deeper/hosts.json")),
            Err(FileError::NotFound)
        );
        // Neither the grant's missing parent nor a sibling is granted: denied, existing or not.
        std::fs::write(tmp.0.join(".config/other.json"), b"{}").unwrap();
        assert_eq!(
            read(&tmp.0.join(".config/other.json")),
            Err(FileError::Denied)
        );
        assert_eq!(
            read(&tmp.0.join(".config/missing.json")),
            Err(FileError::Denied)
        );
        assert_eq!(
            read(&tmp.0.join(".config/github-copilot-evil/apps.json")),
            Err(FileError::Denied)
        );
        // Once the directory appears, its files are read; an unreadable entry is `Io`.
        std::fs::create_dir_all(&granted).unwrap();
        std::fs::write(granted.join("apps.json"), b"{}").unwrap();
        assert_eq!(read(&granted.join("apps.json")), Ok(b"{}".to_vec()));
        std::fs::create_dir_all(granted.join("dir.json")).unwrap();
        assert!(matches!(
            read(&granted.join("dir.json")),
            Err(FileError::Io(_))
        ));
    }

    #[test]
    fn a_grant_whose_parents_are_missing_too_is_not_found() {
        let tmp = TempDir::new("fresh-deep");
        let granted = tmp.0.join("a").join("b").join("github-copilot");
        let g = file_grants(&granted);
        assert_eq!(
            g.read_file(granted.join("apps.json").to_str().unwrap()),
            Err(FileError::NotFound)
        );
        assert_eq!(
            g.read_file(tmp.0.join("a/other.json").to_str().unwrap()),
            Err(FileError::Denied)
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_grant_under_a_link_is_found_through_the_link() {
        use std::os::unix::fs::symlink;
        let tmp = TempDir::new("fresh-link");
        std::fs::create_dir_all(tmp.0.join("real-config")).unwrap();
        symlink(tmp.0.join("real-config"), tmp.0.join("config")).unwrap();
        let granted = tmp.0.join("config").join("github-copilot");
        let g = file_grants(&granted);
        assert_eq!(
            g.read_file(granted.join("apps.json").to_str().unwrap()),
            Err(FileError::NotFound)
        );
    }

    #[test]
    fn denial_does_not_leak_existence() {
        let tmp = TempDir::new("deny");
        let granted = tmp.0.join("granted");
        std::fs::create_dir_all(&granted).unwrap();
        std::fs::write(tmp.0.join("secret.txt"), b"s").unwrap();
        let g = file_grants(&granted);
        let existing = tmp.0.join("secret.txt");
        let missing = tmp.0.join("nothing-here.txt");
        let escape = format!("{}/../secret.txt", granted.display());
        let escape_missing = format!("{}/../nothing-here.txt", granted.display());
        for path in [
            existing.to_str().unwrap(),
            missing.to_str().unwrap(),
            &escape,
            &escape_missing,
            "relative.txt",
        ] {
            assert_eq!(g.read_file(path), Err(FileError::Denied), "{path}");
        }
        // A sibling whose name merely starts with the grant's name is outside it.
        let sibling = tmp.0.join("granted-evil");
        std::fs::create_dir_all(&sibling).unwrap();
        std::fs::write(sibling.join("f"), b"x").unwrap();
        assert_eq!(
            g.read_file(sibling.join("f").to_str().unwrap()),
            Err(FileError::Denied)
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlink_escape_is_denied() {
        let tmp = TempDir::new("link");
        let granted = tmp.0.join("granted");
        std::fs::create_dir_all(&granted).unwrap();
        std::fs::write(tmp.0.join("secret.txt"), b"s").unwrap();
        std::os::unix::fs::symlink(tmp.0.join("secret.txt"), granted.join("link")).unwrap();
        let g = file_grants(&granted);
        assert_eq!(
            g.read_file(granted.join("link").to_str().unwrap()),
            Err(FileError::Denied)
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_link_out_of_the_grant_is_as_denied_as_a_live_one() {
        use std::os::unix::fs::symlink;
        let tmp = TempDir::new("dangling");
        let granted = tmp.0.join("granted");
        let outside = tmp.0.join("outside");
        std::fs::create_dir_all(granted.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("exists.txt"), b"s").unwrap();
        symlink(outside.join("exists.txt"), granted.join("live")).unwrap();
        symlink(outside.join("missing.txt"), granted.join("dangling")).unwrap();
        // A link to an outside directory, through which a missing file is asked for.
        symlink(&outside, granted.join("outdir")).unwrap();
        // Links that stay inside the grant: a missing target is plainly not found.
        symlink(granted.join("sub/missing.txt"), granted.join("inner")).unwrap();
        symlink("sub/missing.txt", granted.join("relative")).unwrap();
        // A loop never resolves: denied, not a hang.
        symlink(granted.join("loop-b"), granted.join("loop-a")).unwrap();
        symlink(granted.join("loop-a"), granted.join("loop-b")).unwrap();
        let g = file_grants(&granted);
        let read = |name: &str| g.read_file(granted.join(name).to_str().unwrap());
        assert_eq!(read("live"), Err(FileError::Denied));
        assert_eq!(read("dangling"), Err(FileError::Denied));
        assert_eq!(read("outdir/missing.txt"), Err(FileError::Denied));
        assert_eq!(read("outdir/exists.txt"), Err(FileError::Denied));
        assert_eq!(read("inner"), Err(FileError::NotFound));
        assert_eq!(read("relative"), Err(FileError::NotFound));
        assert_eq!(read("sub/missing.txt"), Err(FileError::NotFound));
        assert_eq!(read("loop-a"), Err(FileError::Denied));
    }
}
