//! The host's secret store, scoped per extension.
//!
//! Design decision: a plain JSON file readable only by the user, like the `gh` CLI's
//! `hosts.yml` fallback (mode 0600 in a 0700 directory, written through an exclusive temporary
//! file and a rename, never through a planted link, and read back only when it is a regular
//! file of this user that nobody else can write: see `private_file`); or an in-memory map for
//! tests and the demo. Keys are
//! `<extension id>:<key>` so two extensions never see each other's secrets. Nothing here ever
//! formats a stored value into an error or `Debug` output.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::contract::host::CredentialError;
use crate::sandbox::capabilities::EnvSource;
use crate::sandbox::private_file;

/// Directory (under the user's data dir) and file name of the default store.
const STORE_DIR: &str = "copilot-host";
const STORE_FILE: &str = "credentials.json";

/// Serialises file-store writes within this process (several instances may share a file).
static FILE_LOCK: Mutex<()> = Mutex::new(());

/// Where secrets are kept.
#[derive(Clone)]
pub enum CredentialStore {
    /// A map shared by clones; gone when the process exits.
    InMemory(Arc<Mutex<HashMap<String, String>>>),
    /// A JSON object file, created with mode 0600.
    File(PathBuf),
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialStore::InMemory(map) => {
                let count = map.lock().map(|m| m.len()).unwrap_or(0);
                write!(f, "CredentialStore::InMemory({count} entries)")
            }
            CredentialStore::File(path) => write!(f, "CredentialStore::File({})", path.display()),
        }
    }
}

impl CredentialStore {
    /// An empty in-memory store.
    pub fn in_memory() -> CredentialStore {
        CredentialStore::InMemory(Arc::default())
    }

    /// `$XDG_DATA_HOME/copilot-host/credentials.json`, else
    /// `~/.local/share/copilot-host/credentials.json`; in memory when neither is known.
    pub fn default_for(env: &EnvSource) -> CredentialStore {
        let data_home = env
            .get("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| env.home().map(|h| h.join(".local").join("share")));
        match data_home {
            Some(dir) => CredentialStore::File(dir.join(STORE_DIR).join(STORE_FILE)),
            None => CredentialStore::in_memory(),
        }
    }

    /// Where secrets go, for `doctor` (never a value).
    pub fn describe(&self) -> String {
        match self {
            CredentialStore::InMemory(_) => "in memory (forgotten when the process exits)".into(),
            CredentialStore::File(path) => format!(
                "file {} (mode 0600 in a 0700 directory; the OS credential store is not used)",
                path.display()
            ),
        }
    }

    /// Reads `<scope>:<key>`.
    pub fn get(&self, scope: &str, key: &str) -> Result<Option<String>, CredentialError> {
        let full = scoped(scope, key);
        match self {
            CredentialStore::InMemory(map) => Ok(lock_map(map)?.get(&full).cloned()),
            CredentialStore::File(path) => {
                let _guard = FILE_LOCK.lock().map_err(|_| unavailable())?;
                Ok(read_file(path)?.remove(&full))
            }
        }
    }

    /// Writes `<scope>:<key>`.
    pub fn store(&self, scope: &str, key: &str, value: &str) -> Result<(), CredentialError> {
        let full = scoped(scope, key);
        match self {
            CredentialStore::InMemory(map) => {
                lock_map(map)?.insert(full, value.to_string());
                Ok(())
            }
            CredentialStore::File(path) => {
                let _guard = FILE_LOCK.lock().map_err(|_| unavailable())?;
                let mut entries = read_file(path)?;
                entries.insert(full, value.to_string());
                write_file(path, &entries)
            }
        }
    }

    /// Removes `<scope>:<key>`; removing a missing key is not an error.
    pub fn delete(&self, scope: &str, key: &str) -> Result<(), CredentialError> {
        let full = scoped(scope, key);
        match self {
            CredentialStore::InMemory(map) => {
                lock_map(map)?.remove(&full);
                Ok(())
            }
            CredentialStore::File(path) => {
                let _guard = FILE_LOCK.lock().map_err(|_| unavailable())?;
                let mut entries = read_file(path)?;
                if entries.remove(&full).is_some() {
                    write_file(path, &entries)?;
                }
                Ok(())
            }
        }
    }

    /// The keys stored for `scope` (without the scope prefix); never the values.
    pub fn keys(&self, scope: &str) -> Result<Vec<String>, CredentialError> {
        let prefix = scoped(scope, "");
        let all: Vec<String> = match self {
            CredentialStore::InMemory(map) => lock_map(map)?.keys().cloned().collect(),
            CredentialStore::File(path) => {
                let _guard = FILE_LOCK.lock().map_err(|_| unavailable())?;
                read_file(path)?.into_keys().collect()
            }
        };
        let mut keys: Vec<String> = all
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(str::to_string)
            .collect();
        keys.sort();
        Ok(keys)
    }
}

fn scoped(scope: &str, key: &str) -> String {
    format!("{scope}:{key}")
}

fn unavailable() -> CredentialError {
    CredentialError::Unavailable("the credential store lock is poisoned".into())
}

fn lock_map(
    map: &Mutex<HashMap<String, String>>,
) -> Result<std::sync::MutexGuard<'_, HashMap<String, String>>, CredentialError> {
    map.lock().map_err(|_| unavailable())
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> CredentialError {
    CredentialError::Io(format!("cannot {what} {}: {e}", path.display()))
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, CredentialError> {
    let mut file = match private_file::open_nofollow(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_error(path, "read", e)),
    };
    // A file someone else owns or can write (or a link) may hold anything: refuse it.
    if let Err(why) = private_file::trusted(path) {
        return Err(CredentialError::Io(format!(
            "{} is not private to this user ({why}); delete it to start over",
            path.display()
        )));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| io_error(path, "read", e))?;
    // serde_json's error names a line and column, never the content.
    serde_json::from_str(&text).map_err(|e| {
        CredentialError::Io(format!(
            "{} is not a JSON object of strings ({e}); delete it to start over",
            path.display()
        ))
    })
}

fn write_file(path: &Path, entries: &BTreeMap<String, String>) -> Result<(), CredentialError> {
    let json = serde_json::to_vec_pretty(entries)
        .map_err(|_| CredentialError::Io("cannot encode the credential file".into()))?;
    private_file::write(path, &json).map_err(|e| io_error(path, "write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir().join(format!(
            "copilot-host-cred-{tag}-{}-{nanos}",
            std::process::id()
        ))
    }

    #[test]
    fn in_memory_is_scoped_and_shared_by_clones() {
        let store = CredentialStore::in_memory();
        let clone = store.clone();
        store.store("ext-a", "oauth", "secret-a").unwrap();
        assert_eq!(
            clone.get("ext-a", "oauth").unwrap().as_deref(),
            Some("secret-a")
        );
        assert_eq!(clone.get("ext-b", "oauth").unwrap(), None);
        clone.delete("ext-a", "oauth").unwrap();
        assert_eq!(store.get("ext-a", "oauth").unwrap(), None);
        store.delete("ext-a", "never-stored").unwrap();
    }

    #[test]
    fn debug_never_shows_values() {
        let store = CredentialStore::in_memory();
        store.store("ext", "k", "gho_supersecret").unwrap();
        assert!(!format!("{store:?}").contains("supersecret"));
    }

    #[test]
    fn file_store_round_trips_with_mode_0600() {
        let dir = temp_path("file");
        let path = dir.join("nested").join(STORE_FILE);
        let store = CredentialStore::File(path.clone());
        assert_eq!(store.get("ext", "oauth").unwrap(), None);
        store.store("ext", "oauth", "v1").unwrap();
        store.store("other", "oauth", "v2").unwrap();
        assert_eq!(store.get("ext", "oauth").unwrap().as_deref(), Some("v1"));
        assert_eq!(store.keys("ext").unwrap(), vec!["oauth".to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dir_mode, 0o700);
        }
        store.delete("ext", "oauth").unwrap();
        assert_eq!(store.get("ext", "oauth").unwrap(), None);
        assert_eq!(store.get("other", "oauth").unwrap().as_deref(), Some("v2"));
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_never_followed_and_a_shared_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_path("planted");
        let store_dir = dir.join("store");
        private_file::create_private_dir(&store_dir).unwrap();
        let victim = dir.join("victim.json");
        std::fs::write(&victim, "{}").unwrap();
        let path = store_dir.join(STORE_FILE);
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let store = CredentialStore::File(path.clone());
        // Reading through the link is refused; writing replaces the link, never the victim.
        assert!(store.get("ext", "oauth").is_err());
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let mut entries = BTreeMap::new();
        entries.insert("ext:oauth".to_string(), "gho_secret".to_string());
        write_file(&path, &entries).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "{}");
        assert_eq!(store.get("ext", "oauth").unwrap().as_deref(), Some("gho_secret"));
        // A store file others can write is refused, not trusted.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        match store.get("ext", "oauth").unwrap_err() {
            CredentialError::Io(msg) => {
                assert!(msg.contains("not private"), "{msg}");
                assert!(!msg.contains("gho_secret"), "{msg}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupt_file_is_an_io_error_without_content() {
        let dir = temp_path("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(STORE_FILE);
        std::fs::write(&path, "gho_leaked not json").unwrap();
        let err = CredentialStore::File(path).get("ext", "k").unwrap_err();
        match err {
            CredentialError::Io(msg) => assert!(!msg.contains("gho_leaked"), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn default_location_follows_xdg_then_home() {
        let env = |pairs: &[(&str, &str)]| {
            EnvSource::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        match CredentialStore::default_for(&env(&[("XDG_DATA_HOME", "/xdg"), ("HOME", "/h")])) {
            CredentialStore::File(p) => {
                assert_eq!(p, PathBuf::from("/xdg/copilot-host/credentials.json"))
            }
            other => panic!("{other:?}"),
        }
        match CredentialStore::default_for(&env(&[("HOME", "/h")])) {
            CredentialStore::File(p) => assert_eq!(
                p,
                PathBuf::from("/h/.local/share/copilot-host/credentials.json")
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            CredentialStore::default_for(&env(&[])),
            CredentialStore::InMemory(_)
        ));
    }
}
