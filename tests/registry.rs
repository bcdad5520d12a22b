//! The package as an extension registry sees it: the rules Zed's `zed-industries/extensions`
//! CI applies to `extension.toml` and the LICENSE file, and the contract-version custom
//! section in the built component (`copilot-chat:api-version`, like Zed's `zed:api-version`).
//!
//! The checks live in the host library (`copilot_host::install::package::registry_violations`), which
//! `copilot-host package` runs before it builds an archive; they read the raw TOML (not the
//! host's parsed manifest), so a key the host would tolerate but a registry would reject still
//! fails here.

use copilot_chat_tests::*;
use copilot_host::api_version::{self, ApiVersion, HOST_CONTRACT, SECTION_NAME};
use copilot_host::install::package::{accepted_license, registry_violations};
use copilot_host::{CredentialStore, EnvSource, Extension, HostOptions, LogSink};

#[test]
fn the_manifest_passes_the_registry_rules() {
    let broken = registry_violations(&extension_dir());
    assert!(broken.is_empty(), "extension.toml breaks registry rules:\n{}", broken.join("\n"));
}

#[test]
fn the_license_is_mit() {
    let text = std::fs::read_to_string(extension_dir().join("LICENSE")).expect("LICENSE");
    assert_eq!(accepted_license(&text), Some("MIT"));
}

#[test]
fn the_checks_catch_broken_manifests() {
    let root = extension_dir();
    let good = std::fs::read_to_string(root.join("extension.toml")).expect("extension.toml");
    let cases = [
        ("id = \"copilot-chat\"", "id = \"Copilot_Chat\"", "^[a-z0-9-]+$"),
        ("id = \"copilot-chat\"", "id = \"zed-copilot\"", "must not contain"),
        ("name = \"Copilot Chat\"", "name = \"Copilot Chat Zed\"", "end with ` Zed`"),
        ("name = \"Copilot Chat\"", "name = \"Copilot extension\"", "must not contain"),
        ("schema_version = 1", "schema_version = 2", "schema_version"),
        ("version = \"0.1.0\"", "version = \"9.9.9\"", "crate's"),
        ("icon = \"icons/copilot.svg\"", "icon = \"icons/missing.svg\"", "SVG"),
    ];
    for (from, to, expected) in cases {
        assert!(good.contains(from), "extension.toml no longer contains {from}");
        let dir = TempDir::new("registry");
        dir.write("extension.toml", &good.replacen(from, to, 1));
        for file in ["Cargo.toml", "LICENSE"] {
            std::fs::copy(root.join(file), dir.path().join(file)).expect("copy");
        }
        std::fs::create_dir_all(dir.path().join("icons")).expect("icons dir");
        std::fs::copy(root.join("icons/copilot.svg"), dir.path().join("icons/copilot.svg")).expect("copy icon");
        let broken = registry_violations(dir.path()).join("\n");
        assert!(broken.contains(expected), "{to}: expected a violation mentioning {expected}, got:\n{broken}");
        std::fs::write(dir.path().join("LICENSE"), "All rights reserved.").expect("write");
        assert!(registry_violations(dir.path()).join("\n").contains("LICENSE"));
    }
}

#[test]
fn the_built_component_declares_the_host_contract() {
    let wasm = std::fs::read(component()).expect("read the component");
    let version = api_version::read(&wasm).expect("a readable component");
    assert_eq!(version, Some(ApiVersion { major: 0, minor: 2, patch: 0 }));
    assert_eq!(version, Some(HOST_CONTRACT));
}

#[test]
fn a_component_for_another_contract_is_refused_clearly() {
    let mut wasm = std::fs::read(component()).expect("read the component");
    let name = SECTION_NAME.as_bytes();
    let at = wasm
        .windows(name.len())
        .position(|w| w == name)
        .expect("the component carries the section")
        + name.len();
    // The data follows the name: bump the minor (bytes 2..4) to 0.3.0.
    wasm[at + 3] = 3;
    let dir = TempDir::new("contract");
    let path = dir.path().join("extension.wasm");
    std::fs::write(&path, &wasm).expect("write");
    let mut opts = HostOptions::new(extension_dir());
    opts.wasm = Some(path);
    opts.env = EnvSource::Map(Default::default());
    opts.credentials = CredentialStore::in_memory();
    opts.log = LogSink::Capture;
    let error = match Extension::load(opts) {
        Ok(_) => panic!("a 0.3.0 component must be refused"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("built for contract 0.3.0"), "{error}");
    assert!(error.contains("implements 0.2.0"), "{error}");
}
