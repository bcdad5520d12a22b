//! Files only this user can read or write: the secret store's file and the compiled-component
//! cache (native code the host loads and runs).
//!
//! Design decisions:
//! * Created with their final modes (directory 0700, file 0600), never `chmod`ed afterwards, so
//!   there is no moment when they are readable by others.
//! * Written through a temporary file with an unpredictable name, created exclusively
//!   (`O_EXCL`) without following a symbolic link (`O_NOFOLLOW`), synced, then renamed over the
//!   target: a crash never leaves half a file, and a link planted at the temporary or the final
//!   name is neither followed nor written through (`rename` replaces the link itself).
//! * Read back only when [`trusted`]: a regular file (not a link) owned by this user and
//!   writable by nobody else, in a directory that is the same. Anything else is ignored by the
//!   cache (and rebuilt) and refused by the secret store.

use std::collections::hash_map::RandomState;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Creates `dir` (and its missing parents) with mode 0700; an existing directory of this user
/// is narrowed to 0700. A path that is a symbolic link, or a directory of someone else, is an
/// error.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::symlink_metadata(dir)?;
        if !meta.is_dir() || meta.uid() != current_uid() {
            return Err(std::io::Error::other(format!(
                "{} is not a directory of this user",
                dir.display()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` (mode 0600) through an exclusive temporary file and a rename.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the path has no directory"))?;
    create_private_dir(dir)?;
    let tmp = temp_name(path);
    let written = (|| {
        let mut file = create_exclusive(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // Make the rename itself durable (best effort: not every platform can open a directory).
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Whether `path` may be trusted: `Ok` for a regular file of this user that nobody else can
/// write, in a directory of this user that nobody else can write; else why not.
pub fn trusted(path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err("not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        check_owner_and_mode(meta.uid(), meta.mode(), "the file")?;
        let dir = path.parent().ok_or("no directory")?;
        let dir_meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
        if !dir_meta.is_dir() {
            return Err("its directory is not a directory".into());
        }
        check_owner_and_mode(dir_meta.uid(), dir_meta.mode(), "its directory")?;
    }
    Ok(())
}

#[cfg(unix)]
fn check_owner_and_mode(uid: u32, mode: u32, what: &str) -> Result<(), String> {
    if uid != current_uid() {
        return Err(format!("{what} belongs to another user"));
    }
    if mode & 0o022 != 0 {
        return Err(format!("{what} is writable by other users (mode {:o})", mode & 0o777));
    }
    Ok(())
}

#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `.<name>.<random>.tmp` beside `path`.
fn temp_name(path: &Path) -> PathBuf {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{:016x}.tmp", hasher.finish()))
}

/// Creates a new file (never an existing one, never through a link) with mode 0600.
fn create_exclusive(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Opens `path` for reading without following a link at its last component.
pub fn open_nofollow(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "copilot-host-private-{tag}-{}-{}",
            std::process::id(),
            RandomState::new().build_hasher().finish()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_0600_in_a_0700_directory_from_the_start() {
        let root = temp_dir("modes");
        let path = root.join("a").join("b").join("secret");
        write(&path, b"v1").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert!(trusted(&path).is_ok());
        write(&path, b"v2").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"v2");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_planted_symlink_at_the_target_is_replaced_not_followed() {
        let root = temp_dir("link");
        let dir = root.join("store");
        create_private_dir(&dir).unwrap();
        let victim = root.join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let path = dir.join("secret");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(trusted(&path).is_err(), "a link is never trusted");
        write(&path, b"secret").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert!(!std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(mode(&path), 0o600);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_planted_symlink_at_a_temporary_name_is_not_followed() {
        let root = temp_dir("tmp-link");
        let victim = root.join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let tmp = root.join("planted");
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        assert!(create_exclusive(&tmp).is_err(), "O_EXCL refuses an existing name, links included");
        assert!(open_nofollow(&tmp).is_err(), "reading never follows a link");
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_file_writable_by_others_or_in_an_open_directory_is_not_trusted() {
        let root = temp_dir("loose");
        let path = root.join("d").join("f");
        write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(trusted(&path).unwrap_err().contains("writable"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(path.parent().unwrap(), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        assert!(trusted(&path).unwrap_err().contains("directory"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
