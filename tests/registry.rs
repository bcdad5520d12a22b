//! The package as an extension registry sees it: the rules Zed's `zed-industries/extensions`
//! CI applies to `extension.toml` and the LICENSE file, and the contract-version custom
//! section in the built component (`copilot-chat:api-version`, like Zed's `zed:api-version`).
//!
//! The checks read the raw TOML (not the host's parsed manifest), so a key the host would
//! tolerate but a registry would reject still fails here.

use std::path::Path;

use copilot_chat_tests::*;
use copilot_host::api_version::{self, ApiVersion, HOST_CONTRACT, SECTION_NAME};
use copilot_host::{CredentialStore, EnvSource, Extension, HostOptions, LogSink};

/// The accepted licenses (the registry's list) and phrases that identify each one's text.
const ACCEPTED_LICENSES: [(&str, &[&str]); 8] = [
    ("MIT", &["Permission is hereby granted, free of charge", "THE SOFTWARE IS PROVIDED \"AS IS\""]),
    ("Apache-2.0", &["Apache License", "Version 2.0"]),
    ("BSD", &["Redistribution and use in source and binary forms"]),
    ("CC-BY-4.0", &["Attribution 4.0 International"]),
    ("GPL-3.0", &["GNU GENERAL PUBLIC LICENSE", "Version 3"]),
    ("LGPL-3.0", &["GNU LESSER GENERAL PUBLIC LICENSE", "Version 3"]),
    ("Unlicense", &["This is free and unencumbered software released into the public domain"]),
    ("Zlib", &["This software is provided 'as-is', without any express or implied"]),
];

fn toml_file(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", path.display()))
}

fn string<'a>(table: &'a toml::Table, key: &str) -> &'a str {
    table.get(key).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("extension.toml needs a string `{key}`"))
}

/// Every rule that applies to `extension.toml` in `dir`; the broken ones, as sentences.
fn registry_violations(dir: &Path) -> Vec<String> {
    let manifest = toml_file(&dir.join("extension.toml"));
    let mut broken = Vec::new();
    let id = string(&manifest, "id");
    let name = string(&manifest, "name");
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        broken.push(format!("id `{id}` must match ^[a-z0-9-]+$"));
    }
    for (field, value) in [("id", id), ("name", name)] {
        let lower = value.to_ascii_lowercase();
        if lower.contains("zed") || lower.contains("extension") {
            broken.push(format!("{field} `{value}` must not contain `zed` or `extension`"));
        }
    }
    if name.starts_with("Zed ") || name.ends_with(" Zed") {
        broken.push(format!("name `{name}` must not start with `Zed ` or end with ` Zed`"));
    }
    if manifest.get("schema_version").and_then(|v| v.as_integer()) != Some(1) {
        broken.push("schema_version must be 1".into());
    }
    let package = toml_file(&dir.join("Cargo.toml"));
    let crate_version = package.get("package").and_then(|p| p.get("version")).and_then(|v| v.as_str());
    if crate_version != Some(string(&manifest, "version")) {
        broken.push(format!("version must equal the crate's ({crate_version:?})"));
    }
    broken.extend(provider_violations(dir, &manifest));
    broken.extend(license_violations(dir));
    broken
}

fn provider_violations(dir: &Path, manifest: &toml::Table) -> Vec<String> {
    let Some(provider) = manifest.get("language_model_providers").and_then(|p| p.get(PROVIDER)) else {
        return vec![format!("[language_model_providers.{PROVIDER}] is missing")];
    };
    let mut broken = Vec::new();
    if provider.get("name").and_then(|n| n.as_str()).is_none_or(str::is_empty) {
        broken.push("the provider needs a `name`".into());
    }
    match provider.get("icon").and_then(|i| i.as_str()) {
        None => broken.push("the provider needs an `icon`".into()),
        Some(icon) => {
            let text = std::fs::read_to_string(dir.join(icon)).unwrap_or_default();
            if Path::new(icon).is_absolute() || icon.contains("..") || !icon.ends_with(".svg") || !text.contains("<svg") {
                broken.push(format!("icon `{icon}` must be an SVG file inside the extension"));
            }
        }
    }
    broken
}

/// A LICENSE* / LICENCE* file in the extension root whose text is an accepted license.
fn license_violations(dir: &Path) -> Vec<String> {
    let licenses: Vec<String> = std::fs::read_dir(dir)
        .expect("read the extension dir")
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_uppercase();
            name.starts_with("LICENSE") || name.starts_with("LICENCE")
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    if licenses.iter().any(|text| accepted_license(text).is_some()) {
        Vec::new()
    } else {
        vec!["the extension root needs a LICENSE file with an accepted license".into()]
    }
}

fn accepted_license(text: &str) -> Option<&'static str> {
    ACCEPTED_LICENSES
        .iter()
        .find(|(_, phrases)| phrases.iter().all(|p| text.contains(p)))
        .map(|(name, _)| *name)
}

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
