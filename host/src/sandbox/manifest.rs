//! `extension.toml`: who the extension is, which providers it registers, and what it may touch.
//!
//! Design decision: the manifest is parsed into plain typed structs once at load; every later
//! capability decision reads these structs, never the TOML. Unknown keys are ignored so that a
//! newer manifest still loads, but the fields the host relies on are checked strictly and each
//! failure names the field and what to write instead.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// The file name looked up inside an extension directory.
pub const MANIFEST_FILE: &str = "extension.toml";
/// The manifest schema versions this host understands.
pub const SUPPORTED_SCHEMA_VERSION: u32 = 1;

/// A parsed and validated `extension.toml`.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The extension id (lowercase letters, digits, `-`, `_`); scopes its credentials.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The extension's version.
    pub version: String,
    /// The manifest schema version (see [`SUPPORTED_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// A one-line description.
    pub description: Option<String>,
    /// Providers keyed by provider id.
    pub providers: BTreeMap<String, ProviderManifest>,
    /// The most the extension may touch.
    pub capabilities: DeclaredCapabilities,
}

/// One `[language_model_providers.<id>]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ProviderManifest {
    /// The provider's display name.
    pub name: String,
    /// An SVG path relative to the extension dir.
    #[serde(default)]
    pub icon: Option<String>,
}

/// The `[capabilities]` table: the most the extension may touch.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredCapabilities {
    /// Environment variable names the extension may read.
    #[serde(default)]
    pub env: Vec<String>,
    /// Directories (with `~` and `$VAR` prefixes) the extension may read files under.
    #[serde(default)]
    pub read_dirs: Vec<String>,
    /// HTTPS hosts, optionally `*.`-prefixed or with a `:port`.
    #[serde(default)]
    pub http_hosts: Vec<String>,
}

/// Why a manifest could not be used.
#[derive(Debug)]
pub enum ManifestError {
    /// The file could not be read (missing directory, missing file, permissions).
    Read {
        /// The manifest path.
        path: String,
        /// Why reading failed.
        error: std::io::Error,
    },
    /// The TOML is malformed or a field has the wrong type.
    Syntax(String),
    /// A field is present and well-typed but its value is unusable.
    Invalid(String),
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Read { path, error } if error.kind() == std::io::ErrorKind::NotFound => {
                write!(f, "no extension manifest at {path}; pass --extension with the directory that contains {MANIFEST_FILE}")
            }
            ManifestError::Read { path, error } => write!(f, "cannot read {path}: {error}"),
            ManifestError::Syntax(msg) => write!(f, "{MANIFEST_FILE} is not valid: {msg}"),
            ManifestError::Invalid(msg) => write!(f, "{MANIFEST_FILE} is not valid: {msg}"),
        }
    }
}

impl std::error::Error for ManifestError {}

/// The TOML shape as written; validated into [`Manifest`].
#[derive(Deserialize)]
struct RawManifest {
    id: String,
    name: String,
    version: String,
    schema_version: i64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    language_model_providers: BTreeMap<String, ProviderManifest>,
    #[serde(default)]
    capabilities: DeclaredCapabilities,
}

impl Manifest {
    /// Reads `<dir>/extension.toml`.
    pub fn load(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|error| ManifestError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Manifest::parse(&text)
    }

    /// Parses and validates manifest text.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax(e.message().to_string()))?;
        validate(raw)
    }
}

fn validate(raw: RawManifest) -> Result<Manifest, ManifestError> {
    check_id("id", &raw.id)?;
    if raw.name.trim().is_empty() {
        return Err(ManifestError::Invalid("`name` is empty".into()));
    }
    let schema_version = u32::try_from(raw.schema_version)
        .ok()
        .filter(|v| *v == SUPPORTED_SCHEMA_VERSION)
        .ok_or_else(|| {
            ManifestError::Invalid(format!(
                "`schema_version` is {}, this host supports {SUPPORTED_SCHEMA_VERSION}",
                raw.schema_version
            ))
        })?;
    if raw.language_model_providers.is_empty() {
        return Err(ManifestError::Invalid(
            "no `[language_model_providers.<id>]` table: the extension registers no provider"
                .into(),
        ));
    }
    for id in raw.language_model_providers.keys() {
        check_id("language_model_providers key", id)?;
    }
    check_capabilities(&raw.capabilities)?;
    Ok(Manifest {
        id: raw.id,
        name: raw.name,
        version: raw.version,
        schema_version,
        description: raw.description,
        providers: raw.language_model_providers,
        capabilities: raw.capabilities,
    })
}

/// Ids become credential-store prefixes and file names: keep them to a safe alphabet.
fn check_id(field: &str, id: &str) -> Result<(), ManifestError> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ManifestError::Invalid(format!(
            "{field} `{id}` must be non-empty lowercase letters, digits, `-` or `_`"
        )))
    }
}

fn check_capabilities(caps: &DeclaredCapabilities) -> Result<(), ManifestError> {
    if let Some(bad) = caps.env.iter().find(|n| n.is_empty() || n.contains('=')) {
        return Err(ManifestError::Invalid(format!(
            "capabilities.env has an invalid name `{bad}`"
        )));
    }
    if let Some(bad) = caps.read_dirs.iter().find(|d| d.trim().is_empty()) {
        return Err(ManifestError::Invalid(format!(
            "capabilities.read_dirs has an empty entry `{bad}`"
        )));
    }
    for host in &caps.http_hosts {
        crate::sandbox::hosts::HostPattern::parse(host).map_err(|why| {
            ManifestError::Invalid(format!("capabilities.http_hosts entry `{host}`: {why}"))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        id = "copilot-chat"
        name = "Copilot Chat"
        version = "0.1.0"
        schema_version = 1
        [language_model_providers.copilot-chat]
        name = "GitHub Copilot Chat"
        icon = "icons/copilot.svg"
        [capabilities]
        env = ["HOME"]
        read_dirs = ["~/.config/github-copilot"]
        http_hosts = ["api.github.com", "*.githubcopilot.com"]
    "#;

    fn err(text: &str) -> String {
        Manifest::parse(text)
            .expect_err("manifest should be rejected")
            .to_string()
    }

    #[test]
    fn parses_the_good_manifest() {
        let m = Manifest::parse(GOOD).expect("valid");
        assert_eq!(m.id, "copilot-chat");
        assert_eq!(
            m.providers["copilot-chat"].icon.as_deref(),
            Some("icons/copilot.svg")
        );
        assert_eq!(m.capabilities.http_hosts.len(), 2);
    }

    #[test]
    fn the_repository_manifest_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let m = Manifest::load(&dir).expect("repository extension.toml");
        assert!(m.providers.contains_key("copilot-chat"));
    }

    #[test]
    fn missing_file_says_where_to_point() {
        let e = Manifest::load(Path::new("/nonexistent/copilot-host-test")).unwrap_err();
        assert!(e.to_string().contains("--extension"), "{e}");
    }

    #[test]
    fn rejects_syntax_errors_and_missing_fields() {
        assert!(err("id = ").contains("not valid"));
        assert!(err(r#"name = "x""#).contains("id"));
        assert!(
            err(&GOOD.replace("schema_version = 1", "schema_version = \"1\""))
                .contains("not valid")
        );
    }

    #[test]
    fn rejects_bad_values() {
        assert!(
            err(&GOOD.replace("schema_version = 1", "schema_version = 2"))
                .contains("schema_version")
        );
        assert!(err(&GOOD.replace("id = \"copilot-chat\"", "id = \"../x\"")).contains("id"));
        assert!(
            err(&GOOD.replace("\"*.githubcopilot.com\"", "\"https://x/y\"")).contains("http_hosts")
        );
        assert!(err(&GOOD.replace("env = [\"HOME\"]", "env = [\"\"]")).contains("env"));
        assert!(err(&GOOD.replace("env = [\"HOME\"]", "envs = [\"HOME\"]")).contains("not valid"));
    }

    #[test]
    fn requires_a_provider() {
        let text = "id = \"x\"\nname = \"X\"\nversion = \"1\"\nschema_version = 1\n";
        assert!(err(text).contains("language_model_providers"));
    }
}
