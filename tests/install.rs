//! `copilot-host install`: a built extension copied into a (temporary) extensions directory,
//! then found and run by id.

use std::path::Path;

use copilot_chat_tests::*;
use copilot_host::install::{find_installed, install_into, list_installed, resolve_extension};
use copilot_host::{CredentialStore, EnvSource, Extension, HostOptions, LogSink};
use copilot_sim::{Sim, SimConfig};

/// A directory holding a built extension the way a release build leaves it.
fn built_extension(version: &str) -> TempDir {
    let dir = TempDir::new("built");
    let manifest = std::fs::read_to_string(extension_dir().join("extension.toml")).expect("extension.toml");
    dir.write("extension.toml", &manifest.replacen("version = \"0.1.0\"", &format!("version = \"{version}\""), 1));
    std::fs::copy(component(), dir.path().join("extension.wasm")).expect("copy the component");
    std::fs::copy(extension_dir().join("LICENSE"), dir.path().join("LICENSE")).expect("copy LICENSE");
    std::fs::create_dir_all(dir.path().join("icons")).expect("icons");
    std::fs::copy(extension_dir().join("icons/copilot.svg"), dir.path().join("icons/copilot.svg")).expect("icon");
    dir
}

fn load(dir: &Path, sim: &Sim, config: &TempDir) -> Extension {
    let mut opts = HostOptions::new(dir);
    opts.copilot_config_dir = Some(config.path().to_path_buf());
    opts.github_api_url = Some(sim.url());
    opts.env = EnvSource::Map(Default::default());
    opts.credentials = CredentialStore::in_memory();
    opts.log = LogSink::Capture;
    Extension::load(opts).expect("load the installed extension")
}

#[test]
fn an_installed_extension_is_found_by_id_and_runs() {
    let data = TempDir::new("data");
    let extensions = data.path().join("extensions");
    let installed = install_into(&extension_dir(), &extensions).expect("install the source dir");
    assert_eq!(installed.id, "copilot-chat");
    assert_eq!(installed.dir, extensions.join("copilot-chat"));
    for file in ["extension.toml", "extension.wasm", "LICENSE", "icons/copilot.svg"] {
        assert!(installed.dir.join(file).is_file(), "{file} was not copied");
    }
    for source_only in ["src", "Cargo.toml", "target", "wit"] {
        assert!(!installed.dir.join(source_only).exists(), "{source_only} must not be copied");
    }
    assert_eq!(list_installed(&extensions), vec!["copilot-chat".to_string()]);

    let resolved = resolve_extension(Path::new("copilot-chat"), &extensions);
    assert_eq!(resolved, installed.dir);
    // A directory wins over an id; an unknown id stays as given.
    assert_eq!(resolve_extension(data.path(), &extensions), data.path());
    assert_eq!(resolve_extension(Path::new("nope"), &extensions), Path::new("nope"));

    let sim = Sim::start(SimConfig::default()).expect("simulator");
    let config = TempDir::new("config");
    config.write("apps.json", &apps_json("github.com", DEMO_OAUTH_TOKEN));
    let ext = load(&resolved, &sim, &config);
    assert_eq!(ext.component_path(), installed.dir.join("extension.wasm"));
    let models = ext.models(PROVIDER).expect("no trap").expect("models");
    assert!(!models.is_empty());
}

#[test]
fn a_wasm_file_installs_with_its_manifest_and_replaces_the_old_version() {
    let data = TempDir::new("data");
    let extensions = data.path().join("extensions");
    let first = built_extension("0.1.0");
    install_into(&first.path().join("extension.wasm"), &extensions).expect("install 0.1.0");
    let second = built_extension("0.1.1");
    let installed = install_into(&second.path().join("extension.wasm"), &extensions).expect("install 0.1.1");
    assert_eq!(installed.version, "0.1.1");
    let manifest = std::fs::read_to_string(installed.dir.join("extension.toml")).expect("manifest");
    assert!(manifest.contains("version = \"0.1.1\""));
    assert_eq!(list_installed(&extensions), vec!["copilot-chat".to_string()], "no leftovers");
    assert_eq!(find_installed("copilot-chat", &extensions), Some(installed.dir));
}

#[test]
fn refused_installs_leave_the_installed_copy_alone() {
    let data = TempDir::new("data");
    let extensions = data.path().join("extensions");
    let good = built_extension("0.1.0");
    install_into(good.path(), &extensions).expect("install");

    // A component built for another contract.
    let other = built_extension("0.2.0");
    let wasm_path = other.path().join("extension.wasm");
    let mut wasm = std::fs::read(&wasm_path).expect("read");
    let name = copilot_host::api_version::SECTION_NAME.as_bytes();
    let at = wasm.windows(name.len()).position(|w| w == name).expect("section") + name.len();
    wasm[at + 3] = 3;
    std::fs::write(&wasm_path, &wasm).expect("write");
    let error = install_into(&wasm_path, &extensions).unwrap_err().to_string();
    assert!(error.contains("built for contract 0.3.0"), "{error}");

    // A lone .wasm without its manifest.
    let lone = TempDir::new("lone");
    std::fs::copy(component(), lone.path().join("x.wasm")).expect("copy");
    let error = install_into(&lone.path().join("x.wasm"), &extensions).unwrap_err().to_string();
    assert!(error.contains("extension.toml"), "{error}");

    let manifest = std::fs::read_to_string(extensions.join("copilot-chat/extension.toml")).expect("still installed");
    assert!(manifest.contains("version = \"0.1.0\""));
    assert_eq!(list_installed(&extensions), vec!["copilot-chat".to_string()]);
}
