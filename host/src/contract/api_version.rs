//! The contract version a component was built against, read from its
//! `copilot-chat:api-version` custom section (the counterpart of Zed's `zed:api-version`).
//!
//! Design decision: the section is 6 bytes, major, minor and patch as big-endian u16, equal to
//! the WIT package version (`copilot-chat:extension@0.2.0`). The guest's core module carries it,
//! nested inside the component, so the whole binary is walked with `Parser::parse_all`, which
//! descends into nested modules. While the contract is 0.x, a different minor is a different
//! contract: major and minor must match, the patch may differ. A component without the section
//! (built before it existed, or by another toolchain) still loads with a warning; instantiation
//! then remains the real type check.

use std::fmt;

use wasmparser::{Parser, Payload};

/// The custom section's name.
pub const SECTION_NAME: &str = "copilot-chat:api-version";
/// The section's exact length: three big-endian u16.
pub const SECTION_LEN: usize = 6;
/// The contract this host implements (the version in `wit/extension.wit`).
pub const HOST_CONTRACT: ApiVersion = ApiVersion {
    major: 0,
    minor: 2,
    patch: 0,
};

/// A contract version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiVersion {
    /// Incompatible changes.
    pub major: u16,
    /// While `major` is 0, also incompatible changes.
    pub minor: u16,
    /// Compatible fixes.
    pub patch: u16,
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl ApiVersion {
    /// Decodes the section's bytes.
    pub fn from_section(bytes: &[u8]) -> Option<ApiVersion> {
        let [a, b, c, d, e, f] = bytes else {
            return None;
        };
        Some(ApiVersion {
            major: u16::from_be_bytes([*a, *b]),
            minor: u16::from_be_bytes([*c, *d]),
            patch: u16::from_be_bytes([*e, *f]),
        })
    }

    /// The section's bytes.
    pub fn to_section(self) -> [u8; SECTION_LEN] {
        let [a, b] = self.major.to_be_bytes();
        let [c, d] = self.minor.to_be_bytes();
        let [e, f] = self.patch.to_be_bytes();
        [a, b, c, d, e, f]
    }

    /// Whether a component built for `self` runs on a host of `host`.
    pub fn is_compatible_with(self, host: ApiVersion) -> bool {
        self.major == host.major && self.minor == host.minor
    }
}

/// Why a component's version could not be accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum ApiVersionError {
    /// The bytes are not a WebAssembly binary.
    Unreadable(String),
    /// The section exists but is not 6 bytes.
    Malformed {
        /// Its actual length.
        len: usize,
    },
    /// Sections in nested modules disagree.
    Conflicting(ApiVersion, ApiVersion),
    /// Built for another contract.
    Incompatible {
        /// The component's contract.
        component: ApiVersion,
        /// This host's contract.
        host: ApiVersion,
    },
}

impl fmt::Display for ApiVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiVersionError::Unreadable(why) => write!(f, "the file is not a WebAssembly binary ({why})"),
            ApiVersionError::Malformed { len } => write!(
                f,
                "its `{SECTION_NAME}` section is {len} bytes, not {SECTION_LEN}; rebuild the extension"
            ),
            ApiVersionError::Conflicting(a, b) => write!(
                f,
                "it declares two contract versions ({a} and {b}); rebuild the extension"
            ),
            ApiVersionError::Incompatible { component, host } => write!(
                f,
                "the extension was built for contract {component} but this copilot-host implements {host}; \
                 rebuild the extension against this host's wit/ (or use a copilot-host that implements {}.{}.x)",
                component.major, component.minor
            ),
        }
    }
}

impl std::error::Error for ApiVersionError {}

/// The declared contract version, `None` when the component has no section.
pub fn read(wasm: &[u8]) -> Result<Option<ApiVersion>, ApiVersionError> {
    let mut found: Option<ApiVersion> = None;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| ApiVersionError::Unreadable(e.message().to_string()))?;
        let Payload::CustomSection(section) = payload else {
            continue;
        };
        if section.name() != SECTION_NAME {
            continue;
        }
        let data = section.data();
        let version =
            ApiVersion::from_section(data).ok_or(ApiVersionError::Malformed { len: data.len() })?;
        match found {
            Some(seen) if seen != version => {
                return Err(ApiVersionError::Conflicting(seen, version))
            }
            _ => found = Some(version),
        }
    }
    Ok(found)
}

/// Reads the version and refuses a component built for another contract. `Ok(None)`: no
/// section (the caller warns and loads anyway).
pub fn check(wasm: &[u8]) -> Result<Option<ApiVersion>, ApiVersionError> {
    let Some(version) = read(wasm)? else {
        return Ok(None);
    };
    if !version.is_compatible_with(HOST_CONTRACT) {
        return Err(ApiVersionError::Incompatible {
            component: version,
            host: HOST_CONTRACT,
        });
    }
    Ok(Some(version))
}

/// The load-time gate: refuses an incompatible component with a sentence naming the file,
/// warns when the section is missing.
pub(crate) fn verify_for_load(
    wasm: &[u8],
    path: &std::path::Path,
    log: &crate::log::Logger,
) -> anyhow::Result<()> {
    match check(wasm) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            log.log(
                crate::log::Level::Warn,
                "host",
                &format!(
                    "{} has no `{SECTION_NAME}` section; loading it as contract {HOST_CONTRACT}",
                    path.display()
                ),
            );
            Ok(())
        }
        Err(error) => Err(anyhow::anyhow!("cannot load {}: {error}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with one custom section (`\0asm`, version 1, section id 0).
    fn module_with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let mut body = vec![name.len() as u8];
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(data);
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(0);
        wasm.push(body.len() as u8);
        wasm.extend_from_slice(&body);
        wasm
    }

    #[test]
    fn the_host_contract_is_the_wit_package_version() {
        let wit = include_str!("../../../wit/extension.wit");
        let expected = format!("package copilot-chat:extension@{HOST_CONTRACT};");
        assert!(
            wit.lines().any(|l| l.trim() == expected),
            "wit/extension.wit must declare {expected}"
        );
    }

    #[test]
    fn reads_and_round_trips_the_section() {
        let v = ApiVersion {
            major: 1,
            minor: 2,
            patch: 258,
        };
        assert_eq!(v.to_section(), [0, 1, 0, 2, 1, 2]);
        let wasm = module_with_section(SECTION_NAME, &v.to_section());
        assert_eq!(read(&wasm), Ok(Some(v)));
        assert_eq!(read(&module_with_section("other", b"xyz")), Ok(None));
    }

    #[test]
    fn refuses_other_contracts_and_bad_sections() {
        let same_minor = ApiVersion {
            patch: 9,
            ..HOST_CONTRACT
        };
        assert_eq!(
            check(&module_with_section(SECTION_NAME, &same_minor.to_section())),
            Ok(Some(same_minor))
        );
        let newer = ApiVersion {
            minor: HOST_CONTRACT.minor + 1,
            ..HOST_CONTRACT
        };
        let err = check(&module_with_section(SECTION_NAME, &newer.to_section())).unwrap_err();
        assert!(
            err.to_string().contains("built for contract 0.3.0"),
            "{err}"
        );
        assert_eq!(
            read(&module_with_section(SECTION_NAME, &[0, 1])),
            Err(ApiVersionError::Malformed { len: 2 })
        );
        assert!(matches!(
            read(b"not wasm"),
            Err(ApiVersionError::Unreadable(_))
        ));
    }
}
