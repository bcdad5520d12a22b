//! The registry round trip (issue 15): `package` builds the extension as a registry does and
//! writes a reproducible `archive.tar.gz` and `manifest.json`; installing that archive gives a
//! working extension; a hostile or broken archive is refused with a clear sentence and leaves
//! the installed copy byte-for-byte as it was.
//!
//! The release build is slow, so the real extension is packaged once per test process; the
//! hostile archives are built here, by hand, from small synthetic files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use copilot_chat_tests::*;
use copilot_host::api_version::{HOST_CONTRACT, SECTION_NAME};
use copilot_host::install::archive::ArchiveLimits;
use copilot_host::install::{install_archive, install_into, list_installed};
use copilot_host::install::package::{is_debug_build, manifest_json, package, ARCHIVE_FILE, MANIFEST_JSON};
use copilot_host::{CredentialStore, EnvSource, Extension, HostOptions, LogSink};
use copilot_sim::{Sim, SimConfig};
use tar::EntryType;

/// The real extension, packaged once.
struct Packaged {
    archive: Vec<u8>,
    manifest: String,
}

fn packaged() -> &'static Packaged {
    static PACKAGED: OnceLock<Packaged> = OnceLock::new();
    PACKAGED.get_or_init(|| {
        let out = TempDir::new("package");
        let written = package(&extension_dir(), out.path()).expect("package the extension");
        Packaged {
            archive: std::fs::read(&written.archive.path).expect("read the archive"),
            manifest: std::fs::read_to_string(&written.manifest.path).expect("read manifest.json"),
        }
    })
}

/// A download directory holding `archive` (and `manifest`, if given) under the registry's names.
fn download(archive: &[u8], manifest: Option<&str>) -> TempDir {
    let dir = TempDir::new("download");
    std::fs::write(dir.path().join(ARCHIVE_FILE), archive).expect("write the archive");
    if let Some(manifest) = manifest {
        dir.write(MANIFEST_JSON, manifest);
    }
    dir
}

/// Every file under `dir`, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let name = format!("{rel}{}", entry.file_name().to_string_lossy());
            if entry.file_type().expect("file type").is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name, std::fs::read(entry.path()).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// The names in `dir`, sorted (hidden staging directories included).
fn entry_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).expect("read dir").flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
    names.sort();
    names
}

#[test]
fn packaging_twice_gives_the_same_bytes() {
    let first = packaged();
    let out = TempDir::new("package-again");
    let again = package(&extension_dir(), out.path()).expect("package again");
    let archive = std::fs::read(&again.archive.path).expect("read");
    assert!(archive == first.archive, "the second archive differs from the first");
    assert_eq!(std::fs::read_to_string(&again.manifest.path).expect("read"), first.manifest);

    let manifest: serde_json::Value = serde_json::from_str(&first.manifest).expect("manifest.json is JSON");
    assert_eq!(manifest["id"], "copilot-chat");
    assert_eq!(manifest["api_version"], HOST_CONTRACT.to_string());
    assert_eq!(manifest["archive"]["sha256"], again.archive.sha256);
    assert_eq!(manifest["archive"]["bytes"], archive.len());
    assert_eq!(manifest["language_model_providers"]["copilot-chat"]["name"], "GitHub Copilot Chat");

    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()));
    let mut names = Vec::new();
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").display().to_string();
        if name == "extension.wasm" {
            let mut wasm = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut wasm).expect("read the component");
            assert!(!is_debug_build(&wasm), "the package must hold the release build");
        }
        names.push(name);
    }
    assert_eq!(names, ["LICENSE", "extension.toml", "extension.wasm", "icons/", "icons/copilot.svg"]);
    // The dev-extension build is the debug one (what `serve` warns about).
    assert!(is_debug_build(&std::fs::read(component()).expect("read the dev build")));
}

#[test]
fn the_archive_installs_and_runs() {
    let pkg = packaged();
    let data = TempDir::new("data");
    let extensions = data.path().join("extensions");
    let downloaded = download(&pkg.archive, Some(&pkg.manifest));
    let installed = install_into(&downloaded.path().join(ARCHIVE_FILE), &extensions).expect("install the archive");
    assert_eq!((installed.id.as_str(), installed.version.as_str()), ("copilot-chat", "0.1.0"));
    let files: Vec<String> = snapshot(&installed.dir).into_keys().collect();
    assert_eq!(files, ["LICENSE", "extension.toml", "extension.wasm", "icons/copilot.svg"]);
    // Installing again replaces the copy in place, leaving nothing else behind.
    install_into(&downloaded.path().join(ARCHIVE_FILE), &extensions).expect("install again");
    assert_eq!(entry_names(&extensions), ["copilot-chat"]);

    let sim = Sim::start(SimConfig::default()).expect("simulator");
    let config = TempDir::new("config");
    config.write("apps.json", &apps_json("github.com", DEMO_OAUTH_TOKEN));
    let mut opts = HostOptions::new(&installed.dir);
    opts.copilot_config_dir = Some(config.path().to_path_buf());
    opts.github_api_url = Some(sim.url());
    opts.env = EnvSource::Map(Default::default());
    opts.credentials = CredentialStore::in_memory();
    opts.log = LogSink::Capture;
    let ext = Extension::load(opts).expect("load the installed extension");
    assert_eq!(ext.component_path(), installed.dir.join("extension.wasm"));
    let models = ext.models(PROVIDER).expect("no trap").expect("models");
    assert!(models.iter().any(|m| m.is_default), "{models:?}");
}

#[test]
fn installing_a_source_directory_installs_the_release_build() {
    let data = TempDir::new("data");
    let installed = install_into(&extension_dir(), &data.path().join("extensions")).expect("install the source dir");
    let wasm = std::fs::read(installed.dir.join("extension.wasm")).expect("read the installed component");
    assert!(!is_debug_build(&wasm), "install must build the registry (release) profile");
}

// ---- hostile archives, built by hand -------------------------------------------------------

/// One tar entry, written verbatim (the `tar` crate's builder refuses the hostile names).
struct Raw {
    name: Vec<u8>,
    kind: EntryType,
    data: Vec<u8>,
    /// The size the header states, when it is not the data's.
    claimed: Option<u64>,
    link: Option<&'static str>,
}

fn file(name: &str, data: &[u8]) -> Raw {
    Raw { name: name.as_bytes().to_vec(), kind: EntryType::Regular, data: data.to_vec(), claimed: None, link: None }
}

fn link(name: &str, kind: EntryType, target: &'static str) -> Raw {
    Raw { name: name.as_bytes().to_vec(), kind, data: Vec::new(), claimed: None, link: Some(target) }
}

/// A minimal WebAssembly module carrying only the contract-version section.
fn wasm_for(major: u16, minor: u16, patch: u16) -> Vec<u8> {
    let mut payload = vec![SECTION_NAME.len() as u8];
    payload.extend_from_slice(SECTION_NAME.as_bytes());
    for part in [major, minor, patch] {
        payload.extend_from_slice(&part.to_be_bytes());
    }
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.push(0);
    wasm.push(payload.len() as u8);
    wasm.extend(payload);
    wasm
}

fn extension_toml() -> String {
    std::fs::read_to_string(extension_dir().join("extension.toml")).expect("extension.toml")
}

/// The files of a small but valid package.
fn good_entries() -> Vec<Raw> {
    vec![
        file("extension.toml", extension_toml().as_bytes()),
        file("extension.wasm", &wasm_for(HOST_CONTRACT.major, HOST_CONTRACT.minor, HOST_CONTRACT.patch)),
        file("LICENSE", &std::fs::read(extension_dir().join("LICENSE")).expect("LICENSE")),
        file("icons/copilot.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
    ]
}

fn tar_bytes(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..entry.name.len()].copy_from_slice(&entry.name);
        header.set_entry_type(entry.kind);
        header.set_mode(0o644);
        header.set_size(entry.claimed.unwrap_or(entry.data.len() as u64));
        if let Some(target) = entry.link {
            header.set_link_name(target).expect("link name");
        }
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&entry.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn archive(entries: &[Raw]) -> Vec<u8> {
    gzip(&tar_bytes(entries))
}

fn with(extra: Raw) -> Vec<u8> {
    let mut entries = good_entries();
    entries.push(extra);
    archive(&entries)
}

fn without(name: &str) -> Vec<u8> {
    let entries: Vec<Raw> = good_entries().into_iter().filter(|e| e.name != name.as_bytes()).collect();
    archive(&entries)
}

/// manifest.json for the good synthetic package, with `field` set to `value`.
fn manifest_with(field: &str, value: serde_json::Value) -> String {
    let mut manifest = manifest_json(&extension_toml(), Some(HOST_CONTRACT)).expect("manifest");
    manifest[field] = value;
    manifest.to_string()
}

#[test]
fn hostile_archives_are_refused_and_leave_the_installed_copy_alone() {
    let data = TempDir::new("data");
    let extensions = data.path().join("extensions");
    let pkg = packaged();
    let good = download(&pkg.archive, Some(&pkg.manifest));
    install_into(&good.path().join(ARCHIVE_FILE), &extensions).expect("install the real package");
    let before = snapshot(&extensions);
    let outside = format!("/tmp/copilot-test-{}-absolute-evil", std::process::id());

    let mut bomb = tar_bytes(&good_entries());
    bomb.resize(bomb.len() + 4 * 1024 * 1024, 0);
    let bomb_limits = ArchiveLimits { max_decompressed_bytes: 1024 * 1024, ..ArchiveLimits::default() };
    let mut huge = file("extension.wasm", b"");
    huge.claimed = Some(1 << 30);
    let mut too_many = good_entries();
    too_many.extend((0..1100).map(|i| file(&format!("icons/{i}.svg"), b"")));
    let good_synthetic = archive(&good_entries());
    let half = good_synthetic[..good_synthetic.len() / 2].to_vec();
    let wrong_contract = format!("built for contract {}.{}.0", HOST_CONTRACT.major, HOST_CONTRACT.minor + 1);

    let cases: Vec<(&str, Vec<u8>, Option<String>, ArchiveLimits, &str)> = vec![
        ("path traversal", with(file("../evil.txt", b"x")), None, ArchiveLimits::default(), "`../evil.txt` points outside the extension directory"),
        ("nested traversal", with(file("icons/../../../evil.txt", b"x")), None, ArchiveLimits::default(), "points outside"),
        ("absolute path", with(file(&outside, b"x")), None, ArchiveLimits::default(), "is an absolute path"),
        ("symlink", with(link("icons/link.svg", EntryType::Symlink, "/etc/passwd")), None, ArchiveLimits::default(), "`icons/link.svg` is a symbolic link"),
        ("hardlink", with(link("icons/hard.svg", EntryType::Link, "extension.toml")), None, ArchiveLimits::default(), "`icons/hard.svg` is a hard link"),
        ("device", with(Raw { kind: EntryType::Char, ..file("icons/dev", b"") }), None, ArchiveLimits::default(), "character device"),
        ("huge entry", archive(&[huge]), None, ArchiveLimits::default(), "`extension.wasm` is 1024.0 MiB, more than the 32.0 MiB an entry may hold"),
        ("too many entries", archive(&too_many), None, ArchiveLimits::default(), "more than 1024 entries"),
        ("gzip bomb", gzip(&bomb), None, bomb_limits, "decompresses to more than 1.0 MiB"),
        ("truncated", half, None, ArchiveLimits::default(), "not a valid .tar.gz"),
        ("duplicate", with(file("extension.toml", b"id = \"other\"")), None, ArchiveLimits::default(), "`extension.toml` appears twice"),
        ("manifest disagrees", good_synthetic.clone(), Some(manifest_with("version", "9.9.9".into())), ArchiveLimits::default(), "says version `9.9.9` but the archive holds `0.1.0`"),
        ("manifest of another archive", good_synthetic.clone(), Some(pkg.manifest.clone()), ArchiveLimits::default(), "archive.sha256"),
        ("wrong contract", {
            let mut entries = good_entries();
            // A contract one minor version ahead of this host's.
            entries[1] = file("extension.wasm", &wasm_for(HOST_CONTRACT.major, HOST_CONTRACT.minor + 1, 0));
            archive(&entries)
        }, None, ArchiveLimits::default(), wrong_contract.as_str()),
        ("missing component", without("extension.wasm"), None, ArchiveLimits::default(), "has no extension.wasm"),
        ("missing manifest", without("extension.toml"), None, ArchiveLimits::default(), "has no extension.toml"),
    ];
    // The good synthetic archive itself is acceptable, so each case fails for its own reason.
    let control = download(&good_synthetic, Some(&manifest_with("version", "0.1.0".into())));
    let scratch = TempDir::new("control");
    install_into(&control.path().join(ARCHIVE_FILE), scratch.path()).expect("the synthetic package installs");

    for (case, bytes, manifest, limits, expected) in cases {
        let dir = download(&bytes, manifest.as_deref());
        let error = install_archive(&dir.path().join(ARCHIVE_FILE), &extensions, &limits)
            .err()
            .unwrap_or_else(|| panic!("{case}: the archive was accepted"));
        let message = format!("{error:#}");
        assert!(message.contains(expected), "{case}: expected `{expected}` in: {message}");
        assert!(message.starts_with("cannot install "), "{case}: {message}");
        assert_eq!(message.lines().count(), 1, "{case}: one sentence: {message}");
        assert!(snapshot(&extensions) == before, "{case}: the installed extension changed");
        assert_eq!(list_installed(&extensions), ["copilot-chat"], "{case}");
        assert_eq!(entry_names(&extensions), ["copilot-chat"], "{case}: a staging directory was left behind");
        assert!(!data.path().join("evil.txt").exists() && !extensions.join("evil.txt").exists(), "{case}");
        assert!(!Path::new(&outside).exists(), "{case}: wrote outside");
    }
}
