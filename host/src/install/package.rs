//! `copilot-host package`: the extension as a registry ships it — built from source in release
//! for `wasm32-wasip2`, checked against the registry's rules, and written as `archive.tar.gz`
//! (what an installed extension needs) plus `manifest.json` (what the archive holds).
//!
//! Design decisions:
//! * One definition of "what an installed extension needs" ([`payload_files`],
//!   [`is_payload_path`]): `install` copies exactly that set from a directory, `package` archives
//!   it, and archive install extracts nothing else.
//! * The archive is reproducible: entries sorted by path, directories derived from the file
//!   paths, every header with mtime 0, uid/gid 0, no user or group names, modes 0644/0755; the
//!   gzip header has no timestamp and no file name, and the compression level is fixed. The same
//!   tree therefore gives the same bytes, whatever the files' mtimes or owner.
//! * The registry rules ([`registry_violations`]) read the raw TOML rather than the host's
//!   parsed [`Manifest`], so a key the host tolerates but a registry rejects still fails.
//! * `manifest.json` carries the archive's size and SHA-256, so a manifest found next to an
//!   archive can be tied to it at install time.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use crate::contract::api_version::ApiVersion;
use crate::install::devbuild::{Profile, COMPONENT_FILE};
use crate::sandbox::manifest::{Manifest, MANIFEST_FILE};

/// The archive's file name in the output directory.
pub const ARCHIVE_FILE: &str = "archive.tar.gz";
/// The manifest's file name in the output directory (and next to an archive being installed).
pub const MANIFEST_JSON: &str = "manifest.json";
/// Where `package` writes by default, relative to the extension directory.
pub const DEFAULT_OUTPUT_DIR: &str = "target/package";
/// The directory of icons shipped along.
pub const ICONS_DIR: &str = "icons";
/// Deepest directory level shipped under `icons/`.
pub const MAX_ICON_DEPTH: usize = 4;
/// Every archive entry's modification time (the epoch): mtimes never change the bytes.
const ARCHIVE_MTIME: u64 = 0;
/// Mode of every file entry.
const FILE_MODE: u32 = 0o644;
/// Mode of every directory entry.
const DIR_MODE: u32 = 0o755;
/// The gzip level: fixed, so the same tar gives the same gzip bytes.
const GZIP_LEVEL: u32 = 9;
/// The gzip header's OS byte: "unknown", the same on every machine.
const GZIP_OS_UNKNOWN: u8 = 255;

/// The accepted licenses (the registry's list) and phrases that identify each one's text.
const ACCEPTED_LICENSES: [(&str, &[&str]); 8] = [
    (
        "MIT",
        &[
            "Permission is hereby granted, free of charge",
            "THE SOFTWARE IS PROVIDED \"AS IS\"",
        ],
    ),
    ("Apache-2.0", &["Apache License", "Version 2.0"]),
    ("BSD", &["Redistribution and use in source and binary forms"]),
    ("CC-BY-4.0", &["Attribution 4.0 International"]),
    ("GPL-3.0", &["GNU GENERAL PUBLIC LICENSE", "Version 3"]),
    ("LGPL-3.0", &["GNU LESSER GENERAL PUBLIC LICENSE", "Version 3"]),
    (
        "Unlicense",
        &["This is free and unencumbered software released into the public domain"],
    ),
    (
        "Zlib",
        &["This software is provided 'as-is', without any express or implied"],
    ),
];

/// What `package` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packaged {
    /// The extension id.
    pub id: String,
    /// The extension version.
    pub version: String,
    /// The contract version the component declares.
    pub api_version: ApiVersion,
    /// The component's size in bytes.
    pub component_bytes: u64,
    /// The archive file and its size and SHA-256 (hex).
    pub archive: Written,
    /// The manifest file and its size and SHA-256 (hex).
    pub manifest: Written,
}

/// One written file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// The default output directory of `package` for the extension in `dir`.
pub fn default_output(dir: &Path) -> PathBuf {
    dir.join(DEFAULT_OUTPUT_DIR)
}

/// Builds the extension in `dir` as a registry does and writes `archive.tar.gz` and
/// `manifest.json` into `output`.
pub fn package(dir: &Path, output: &Path) -> anyhow::Result<Packaged> {
    let broken = registry_violations(dir);
    if !broken.is_empty() {
        bail!(
            "{} breaks the extension registry's rules: {}",
            dir.display(),
            broken.join("; ")
        );
    }
    let manifest = Manifest::load(dir).map_err(|e| anyhow!("{e}"))?;
    let built = crate::install::devbuild::build(dir, Profile::Release)?;
    let wasm = std::fs::read(&built)
        .with_context(|| format!("cargo succeeded but {} is missing", built.display()))?;
    let api_version = crate::contract::api_version::check(&wasm)
        .map_err(|e| anyhow!("cannot package {}: {e}", built.display()))?
        .ok_or_else(|| {
            anyhow!(
                "cannot package {}: it has no `{}` section, so a host cannot tell which contract it needs; build it with this repository's wit/",
                built.display(),
                crate::contract::api_version::SECTION_NAME
            )
        })?;

    let mut files = Vec::new();
    for rel in payload_files(dir)? {
        let bytes = std::fs::read(dir.join(&rel))
            .with_context(|| format!("cannot read {}", dir.join(&rel).display()))?;
        files.push((rel, bytes));
    }
    files.push((COMPONENT_FILE.to_string(), wasm.clone()));
    let archive = archive_bytes(&files)?;
    let toml_text = std::fs::read_to_string(dir.join(MANIFEST_FILE))
        .with_context(|| format!("cannot read {}", dir.join(MANIFEST_FILE).display()))?;
    let mut description = manifest_json(&toml_text, Some(api_version))?;
    description["archive"] = json!({
        "file": ARCHIVE_FILE,
        "bytes": archive.len(),
        "sha256": crate::digest::sha256_hex(&archive),
    });
    let mut manifest_text = serde_json::to_string_pretty(&description)?;
    manifest_text.push('\n');

    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    Ok(Packaged {
        id: manifest.id,
        version: manifest.version,
        api_version,
        component_bytes: wasm.len() as u64,
        archive: write_atomically(&output.join(ARCHIVE_FILE), &archive)?,
        manifest: write_atomically(&output.join(MANIFEST_JSON), manifest_text.as_bytes())?,
    })
}

/// Writes through a temp file and a rename, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<Written> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(error).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(Written {
        path: path.to_path_buf(),
        bytes: bytes.len() as u64,
        sha256: crate::digest::sha256_hex(bytes),
    })
}

/// The files of `dir` an installed extension needs besides its component, as sorted
/// `/`-separated relative paths: `extension.toml`, `LICENSE*`/`LICENCE*`, and the regular
/// files under `icons/` (symlinks are skipped so nothing outside the extension is pulled in).
pub fn payload_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = vec![MANIFEST_FILE.to_string()];
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if is_license_name(&name) && entry.file_type()?.is_file() {
            files.push(name);
        }
    }
    let icons = dir.join(ICONS_DIR);
    if icons.is_dir() {
        icon_files(&icons, ICONS_DIR, MAX_ICON_DEPTH, &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn icon_files(dir: &Path, rel: &str, depth: usize, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let kind = entry.file_type()?;
        let path = format!("{rel}/{name}");
        if kind.is_file() {
            out.push(path);
        } else if kind.is_dir() && depth > 0 {
            icon_files(&entry.path(), &path, depth - 1, out)?;
        }
    }
    Ok(())
}

fn is_license_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("LICENSE") || upper.starts_with("LICENCE")
}

/// Whether a `/`-separated relative path is part of an installed extension (see
/// [`payload_files`]; the component included).
pub fn is_payload_path(rel: &str) -> bool {
    if rel == MANIFEST_FILE || rel == COMPONENT_FILE {
        return true;
    }
    if !rel.contains('/') {
        return is_license_name(rel);
    }
    let mut parts = rel.split('/');
    parts.next() == Some(ICONS_DIR) && rel.matches('/').count() <= MAX_ICON_DEPTH + 1
}

/// A reproducible `.tar.gz` of `files` (relative `/`-separated path, contents): see the
/// module doc for what is fixed.
pub fn archive_bytes(files: &[(String, Vec<u8>)]) -> anyhow::Result<Vec<u8>> {
    let mut entries: Vec<(String, Option<&[u8]>)> = Vec::new();
    for (path, bytes) in files {
        for (at, _) in path.match_indices('/') {
            let dir = &path[..=at];
            if !entries.iter().any(|(p, _)| p == dir) {
                entries.push((dir.to_string(), None));
            }
        }
        entries.push((path.clone(), Some(bytes.as_slice())));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let gzip = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
    let mut tar = tar::Builder::new(gzip);
    for (path, contents) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(ARCHIVE_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        match contents {
            Some(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(FILE_MODE);
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, &path, bytes)
            }
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(DIR_MODE);
                header.set_size(0);
                tar.append_data(&mut header, &path, std::io::empty())
            }
        }
        .with_context(|| format!("cannot add {path} to the archive"))?;
    }
    let gzip = tar.into_inner().context("cannot finish the archive")?;
    gzip.finish().context("cannot finish the archive's compression")
}

/// What `manifest.json` says about a package, from its `extension.toml` text and the contract
/// version its component declares (`null` when it declares none). The archive's own fields
/// are added by [`package`].
pub fn manifest_json(extension_toml: &str, api_version: Option<ApiVersion>) -> anyhow::Result<Value> {
    let manifest = Manifest::parse(extension_toml).map_err(|e| anyhow!("{e}"))?;
    let raw: toml::Table = toml::from_str(extension_toml)
        .map_err(|e| anyhow!("{MANIFEST_FILE} is not valid: {}", e.message()))?;
    let field = |key: &str| {
        raw.get(key)
            .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
            .unwrap_or(Value::Null)
    };
    Ok(json!({
        "id": manifest.id,
        "name": manifest.name,
        "version": manifest.version,
        "schema_version": manifest.schema_version,
        "description": field("description"),
        "repository": field("repository"),
        "authors": field("authors"),
        "language_model_providers": field("language_model_providers"),
        "api_version": api_version.map(|v| v.to_string()),
    }))
}

/// Every registry rule `dir`'s `extension.toml`, `Cargo.toml` and LICENSE break, as sentences
/// (empty when the package is acceptable). The rules are those of Zed's
/// `zed-industries/extensions` CI, plus "the provider icon ships" (it must be under `icons/`).
pub fn registry_violations(dir: &Path) -> Vec<String> {
    let manifest = match read_toml(&dir.join(MANIFEST_FILE)) {
        Ok(table) => table,
        Err(why) => return vec![why],
    };
    let mut broken = Vec::new();
    let string = |key: &str| manifest.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let (id, name) = (string("id"), string("name"));
    let id_ok = id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if id.is_empty() || !id_ok {
        broken.push(format!("id `{id}` must match ^[a-z0-9-]+$"));
    }
    if name.is_empty() {
        broken.push("name must be a non-empty string".into());
    }
    for (field, value) in [("id", id), ("name", name)] {
        let lower = value.to_ascii_lowercase();
        if lower.contains("zed") || lower.contains("extension") {
            broken.push(format!(
                "{field} `{value}` must not contain `zed` or `extension`"
            ));
        }
    }
    if name.starts_with("Zed ") || name.ends_with(" Zed") {
        broken.push(format!(
            "name `{name}` must not start with `Zed ` or end with ` Zed`"
        ));
    }
    if manifest.get("schema_version").and_then(|v| v.as_integer()) != Some(1) {
        broken.push("schema_version must be 1".into());
    }
    broken.extend(version_violations(dir, string("version")));
    broken.extend(provider_violations(dir, &manifest));
    broken.extend(license_violations(dir));
    broken
}

fn read_toml(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{} is not valid TOML: {}", path.display(), e.message()))
}

fn version_violations(dir: &Path, version: &str) -> Vec<String> {
    let crate_version = read_toml(&dir.join("Cargo.toml")).ok().and_then(|package| {
        package
            .get("package")
            .and_then(|p| p.get("version"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    if crate_version.as_deref() == Some(version) && !version.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "version `{version}` must equal the crate's ({})",
        crate_version.as_deref().unwrap_or("not found in Cargo.toml")
    )]
}

fn provider_violations(dir: &Path, manifest: &toml::Table) -> Vec<String> {
    let providers = manifest
        .get("language_model_providers")
        .and_then(|p| p.as_table())
        .filter(|p| !p.is_empty());
    let Some(providers) = providers else {
        return vec!["a [language_model_providers.<id>] table is missing".into()];
    };
    let mut broken = Vec::new();
    for (id, provider) in providers {
        if provider
            .get("name")
            .and_then(|n| n.as_str())
            .is_none_or(str::is_empty)
        {
            broken.push(format!("provider `{id}` needs a `name`"));
        }
        match provider.get("icon").and_then(|i| i.as_str()) {
            None => broken.push(format!("provider `{id}` needs an `icon`")),
            Some(icon) if !icon_ok(dir, icon) => broken.push(format!(
                "icon `{icon}` must be an SVG file inside the extension's icons/ directory"
            )),
            Some(_) => {}
        }
    }
    broken
}

fn icon_ok(dir: &Path, icon: &str) -> bool {
    let inside = !Path::new(icon).is_absolute()
        && !icon.split('/').any(|part| part == ".." || part.is_empty())
        && icon.starts_with(&format!("{ICONS_DIR}/"))
        && is_payload_path(icon);
    let text = std::fs::read_to_string(dir.join(icon)).unwrap_or_default();
    inside && icon.ends_with(".svg") && text.contains("<svg")
}

/// A LICENSE* / LICENCE* file in the extension root whose text is an accepted license.
fn license_violations(dir: &Path) -> Vec<String> {
    let accepted = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| is_license_name(&e.file_name().to_string_lossy()))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .any(|text| accepted_license(&text).is_some());
    if accepted {
        Vec::new()
    } else {
        vec!["the extension root needs a LICENSE file with an accepted license".into()]
    }
}

/// Whether `wasm` is a debug build: it carries DWARF (`.debug_*` custom sections), which the
/// release profile strips. Unreadable bytes count as not debug (loading reports them).
pub fn is_debug_build(wasm: &[u8]) -> bool {
    wasmparser::Parser::new(0).parse_all(wasm).any(|payload| {
        matches!(payload, Ok(wasmparser::Payload::CustomSection(section)) if section.name().starts_with(".debug_"))
    })
}

/// Which accepted license `text` is, if any.
pub fn accepted_license(text: &str) -> Option<&'static str> {
    ACCEPTED_LICENSES
        .iter()
        .find(|(_, phrases)| phrases.iter().all(|p| text.contains(p)))
        .map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![
            ("icons/copilot.svg".into(), b"<svg/>".to_vec()),
            ("LICENSE".into(), b"MIT".to_vec()),
            ("extension.toml".into(), b"id = \"x\"".to_vec()),
            ("extension.wasm".into(), b"\0asm".to_vec()),
        ]
    }

    fn entries(archive: &[u8]) -> Vec<(String, tar::EntryType, u64, u32, u64)> {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        tar.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.entry_type(),
                    h.mtime().unwrap(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn archives_are_sorted_and_fixed_whatever_the_input_order() {
        let a = archive_bytes(&files()).unwrap();
        let mut reversed = files();
        reversed.reverse();
        assert_eq!(a, archive_bytes(&reversed).unwrap());
        let listed = entries(&a);
        let paths: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            ["LICENSE", "extension.toml", "extension.wasm", "icons/", "icons/copilot.svg"]
        );
        assert_eq!(listed[3].1, tar::EntryType::Directory);
        for (path, kind, mtime, mode, uid) in &listed {
            assert_eq!((*mtime, *uid), (0, 0), "{path}");
            let want = if kind.is_dir() { DIR_MODE } else { FILE_MODE };
            assert_eq!(*mode, want, "{path}");
        }
        // The gzip header: no mtime (bytes 4..8), no file name flag (bit 3 of byte 3).
        assert_eq!(&a[4..8], &[0, 0, 0, 0]);
        assert_eq!(a[3] & 0x08, 0);
        let mut content = String::new();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(a.as_slice()));
        let mut license = tar.entries().unwrap().next().unwrap().unwrap();
        license.read_to_string(&mut content).unwrap();
        assert_eq!(content, "MIT");
    }

    #[test]
    fn the_payload_is_what_a_host_needs() {
        for yes in ["extension.toml", "extension.wasm", "LICENSE", "LICENCE-MIT", "icons/a.svg", "icons/a/b.svg"] {
            assert!(is_payload_path(yes), "{yes}");
        }
        for no in ["Cargo.toml", "src/lib.rs", "icons", "target/x", "iconsx/a.svg", "icons/1/2/3/4/5/6.svg"] {
            assert!(!is_payload_path(no), "{no}");
        }
    }

    #[test]
    fn the_repository_passes_the_registry_rules_and_lists_its_payload() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert_eq!(registry_violations(&dir), Vec::<String>::new());
        assert_eq!(
            payload_files(&dir).unwrap(),
            ["LICENSE", "extension.toml", "icons/copilot.svg"]
        );
        let text = std::fs::read_to_string(dir.join(MANIFEST_FILE)).unwrap();
        let json = manifest_json(&text, Some(crate::contract::api_version::HOST_CONTRACT)).unwrap();
        assert_eq!(json["id"], "copilot-chat");
        assert_eq!(json["api_version"], crate::contract::api_version::HOST_CONTRACT.to_string());
        assert_eq!(json["language_model_providers"]["copilot-chat"]["icon"], "icons/copilot.svg");
        assert!(json["authors"].is_array() && json["repository"].is_string());
    }
}
