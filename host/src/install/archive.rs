//! `copilot-host install ARCHIVE.tar.gz`: a registry archive (what `package` writes) checked
//! and unpacked into the extensions directory.
//!
//! Design decisions:
//! * The archive is untrusted. Entries are read raw (no GNU long-name or PAX processing, which
//!   would let a header make the reader buffer an arbitrary amount), and only plain regular
//!   files and directories with relative, `..`-free UTF-8 names are accepted; a link, a device
//!   or an extension header refuses the whole archive. Sizes are checked from each header
//!   before its data is read (per entry, in total, and the entry count), and the decompressed
//!   stream is counted, so a gzip bomb stops at a fixed number of bytes.
//! * The archive is read to its end, so gzip's CRC is checked: a truncated or corrupted
//!   download is refused even when its tar part happens to end cleanly.
//! * Only the payload (see [`crate::install::package::is_payload_path`]) is written, into a fresh
//!   staging directory beside the target with files created new, so nothing in the archive can
//!   reach outside it. The staged copy is verified like a directory install (manifest valid,
//!   `extension.wasm` present, contract version accepted) and, when a `manifest.json` lies
//!   next to the archive, checked against it; only then is it renamed into place.
//! * Placing the staged copy is `install`'s job ([`crate::install::install_archive`]), the
//!   same rename as a directory install.
//! * `manifest.json` is optional and read from the archive's directory (a registry publishes it
//!   beside the archive); every field it states must equal what the archive holds.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use serde_json::Value;

use crate::contract::api_version::ApiVersionError;
use crate::install::devbuild::COMPONENT_FILE;
use crate::sandbox::manifest::{Manifest, ManifestError, MANIFEST_FILE};
use crate::install::package::{is_payload_path, manifest_json, MANIFEST_JSON};

/// Entries an archive may hold.
pub const MAX_ENTRIES: usize = 1024;
/// The largest single entry (a release component is under 1 MiB, a debug one ~14 MiB).
pub const MAX_ENTRY_BYTES: u64 = 32 * MIB;
/// The most all entries together may hold.
pub const MAX_TOTAL_BYTES: u64 = 48 * MIB;
/// The most `manifest.json` may hold.
const MAX_MANIFEST_JSON_BYTES: u64 = MIB;
const MIB: u64 = 1024 * 1024;
/// The tar framing around the data: a 512-byte header and up to 511 bytes of padding per
/// entry, plus the end-of-archive blocks and the blocking factor's padding.
const TAR_OVERHEAD_PER_ENTRY: u64 = 1024;
const TAR_TRAILER_BYTES: u64 = 20 * 512;

/// The limits an archive is read under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Entries (files, directories, anything) the archive may hold.
    pub max_entries: usize,
    /// The largest size one entry's header may state.
    pub max_entry_bytes: u64,
    /// The largest sum of the entries' stated sizes.
    pub max_total_bytes: u64,
    /// The most bytes the gzip stream may decompress to (a gzip bomb stops here).
    pub max_decompressed_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_entries: MAX_ENTRIES,
            max_entry_bytes: MAX_ENTRY_BYTES,
            max_total_bytes: MAX_TOTAL_BYTES,
            max_decompressed_bytes: MAX_TOTAL_BYTES
                + MAX_ENTRIES as u64 * TAR_OVERHEAD_PER_ENTRY
                + TAR_TRAILER_BYTES,
        }
    }
}

/// Why an archive was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The archive file itself is larger than anything the limits let through.
    FileTooLarge(u64),
    /// Not a readable gzip-compressed tar (or truncated, or a CRC mismatch).
    Malformed(String),
    /// An entry's name is not UTF-8.
    NonUtf8Name,
    /// An entry's name is empty.
    EmptyName,
    /// An absolute name (`/x`, `C:\x`, `\x`).
    AbsolutePath(String),
    /// A name with a `..` component.
    Traversal(String),
    /// A symbolic link.
    Symlink(String),
    /// A hard link.
    Hardlink(String),
    /// A device, FIFO or other special entry.
    Special {
        /// The entry's name.
        path: String,
        /// What kind of entry it is.
        kind: String,
    },
    /// A GNU long-name/long-link, PAX or sparse header.
    ExtensionHeader(String),
    /// The same name twice.
    Duplicate(String),
    /// More than [`ArchiveLimits::max_entries`] entries.
    TooManyEntries(usize),
    /// One entry larger than [`ArchiveLimits::max_entry_bytes`].
    EntryTooLarge {
        /// The entry's name.
        path: String,
        /// Its stated size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// Entries larger together than [`ArchiveLimits::max_total_bytes`].
    TooLarge(u64),
    /// Decompresses past [`ArchiveLimits::max_decompressed_bytes`].
    Bomb(u64),
    /// A required file is not in the archive.
    Missing(&'static str),
    /// `extension.toml` is not a valid manifest.
    InvalidManifest(ManifestError),
    /// The component is for another contract or unreadable.
    Contract(ApiVersionError),
    /// `manifest.json` next to the archive is unreadable.
    UnreadableManifestJson(String),
    /// `manifest.json` next to the archive disagrees with the archive.
    ManifestMismatch {
        /// The field.
        field: String,
        /// What `manifest.json` says.
        stated: String,
        /// What the archive holds.
        actual: String,
    },
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ONLY: &str = "an extension archive holds only files and directories";
        match self {
            ArchiveError::FileTooLarge(limit) => write!(f, "the file is larger than the {} an extension archive may hold", human(*limit)),
            ArchiveError::Malformed(why) => write!(f, "it is not a valid .tar.gz archive ({why}); download it again"),
            ArchiveError::NonUtf8Name => write!(f, "an entry's name is not UTF-8"),
            ArchiveError::EmptyName => write!(f, "an entry has an empty name"),
            ArchiveError::AbsolutePath(p) => write!(f, "entry `{p}` is an absolute path; entries must be relative to the extension directory"),
            ArchiveError::Traversal(p) => write!(f, "entry `{p}` points outside the extension directory (`..`)"),
            ArchiveError::Symlink(p) => write!(f, "entry `{p}` is a symbolic link; {ONLY}"),
            ArchiveError::Hardlink(p) => write!(f, "entry `{p}` is a hard link; {ONLY}"),
            ArchiveError::Special { path, kind } => write!(f, "entry `{path}` is a {kind}; {ONLY}"),
            ArchiveError::ExtensionHeader(kind) => write!(f, "it uses a {kind} header, which this host does not accept; {ONLY} with short plain names"),
            ArchiveError::Duplicate(p) => write!(f, "entry `{p}` appears twice"),
            ArchiveError::TooManyEntries(limit) => write!(f, "it holds more than {limit} entries"),
            ArchiveError::EntryTooLarge { path, bytes, limit } => write!(
                f,
                "entry `{path}` is {}, more than the {} an entry may hold",
                human(*bytes),
                human(*limit)
            ),
            ArchiveError::TooLarge(limit) => write!(f, "its entries hold more than {} together", human(*limit)),
            ArchiveError::Bomb(limit) => write!(f, "it decompresses to more than {}; refusing it as a possible gzip bomb", human(*limit)),
            ArchiveError::Missing(file) => write!(f, "it has no {file}; it is not an extension package"),
            ArchiveError::InvalidManifest(e) => write!(f, "its {e}"),
            ArchiveError::Contract(e) => write!(f, "its {COMPONENT_FILE} cannot run here: {e}"),
            ArchiveError::UnreadableManifestJson(why) => write!(f, "the {MANIFEST_JSON} next to it is unreadable ({why}); remove it or download it again"),
            ArchiveError::ManifestMismatch { field, stated, actual } => write!(
                f,
                "the {MANIFEST_JSON} next to it says {field} {stated} but the archive holds {actual}; it describes another package"
            ),
        }
    }
}

impl std::error::Error for ArchiveError {}

fn human(bytes: u64) -> String {
    if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

/// Whether `path` names a `.tar.gz` / `.tgz` archive (by its name).
pub fn is_archive(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// An archive unpacked and verified in a staging directory beside the extensions; the caller
/// renames it into place (or removes it).
#[derive(Debug)]
pub struct Staged {
    /// The staged extension's manifest.
    pub manifest: Manifest,
    /// The staging directory (inside the extensions directory, so a rename moves it).
    pub dir: PathBuf,
}

/// Unpacks `archive` under `limits` into a fresh staging directory inside `extensions_dir` and
/// verifies it; on any error nothing is left behind.
pub fn unpack(archive: &Path, extensions_dir: &Path, limits: &ArchiveLimits) -> anyhow::Result<Staged> {
    let refused = |e: ArchiveError| anyhow::anyhow!("cannot install {}: {e}", archive.display());
    let size = std::fs::metadata(archive)
        .with_context(|| format!("cannot read {}", archive.display()))?
        .len();
    // Compression never makes data much larger: a bigger file cannot unpack within the limits.
    let max_file = limits.max_decompressed_bytes + limits.max_decompressed_bytes / 64 + MIB;
    if size > max_file {
        return Err(refused(ArchiveError::FileTooLarge(max_file)));
    }
    let bytes = std::fs::read(archive).with_context(|| format!("cannot read {}", archive.display()))?;
    std::fs::create_dir_all(extensions_dir)
        .with_context(|| format!("cannot create {}", extensions_dir.display()))?;
    let stage = staging_dir(extensions_dir);
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir(&stage).with_context(|| format!("cannot create {}", stage.display()))?;
    let checked = extract(&bytes, &stage, limits).and_then(|()| verify(&stage, archive, &bytes));
    match checked {
        Ok(manifest) => Ok(Staged { manifest, dir: stage }),
        Err(error) => {
            let _ = std::fs::remove_dir_all(&stage);
            Err(refused(error))
        }
    }
}

fn staging_dir(extensions_dir: &Path) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    extensions_dir.join(format!(
        ".archive.installing-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Counts decompressed bytes and fails past the limit (flagging why, since tar wraps errors).
struct Counted<R> {
    inner: R,
    read: u64,
    limit: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.tripped.set(true);
            return Err(io::Error::other("decompressed size limit reached"));
        }
        Ok(n)
    }
}

/// Unpacks the payload of `archive` into the (empty) directory `stage`.
fn extract(archive: &[u8], stage: &Path, limits: &ArchiveLimits) -> Result<(), ArchiveError> {
    let tripped = Rc::new(Cell::new(false));
    let counted = Counted {
        inner: flate2::read::GzDecoder::new(archive),
        read: 0,
        limit: limits.max_decompressed_bytes,
        tripped: tripped.clone(),
    };
    let io_error = |e: io::Error| {
        if tripped.get() {
            ArchiveError::Bomb(limits.max_decompressed_bytes)
        } else {
            ArchiveError::Malformed(e.to_string())
        }
    };
    let mut tar = tar::Archive::new(counted);
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    for (index, entry) in tar.entries().map_err(io_error)?.raw(true).enumerate() {
        if index >= limits.max_entries {
            return Err(ArchiveError::TooManyEntries(limits.max_entries));
        }
        let mut entry = entry.map_err(io_error)?;
        let path = entry_path(&entry.path_bytes())?;
        let is_dir = check_kind(entry.header().entry_type(), &path)?;
        let size = entry.header().size().map_err(io_error)?;
        if size > limits.max_entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                path,
                bytes: size,
                limit: limits.max_entry_bytes,
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(ArchiveError::TooLarge(limits.max_total_bytes));
        }
        if !seen.insert(path.clone()) {
            return Err(ArchiveError::Duplicate(path));
        }
        if !is_dir && is_payload_path(&path) {
            write_entry(&mut entry, size, &stage.join(&path)).map_err(io_error)?;
        }
    }
    // The rest of the stream (tar padding, then gzip's trailer): reading it checks the CRC.
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(io_error)?;
    Ok(())
}

/// The entry's name as a relative `/`-separated path with no `.`, `..` or empty parts.
fn entry_path(raw: &[u8]) -> Result<String, ArchiveError> {
    let name = std::str::from_utf8(raw).map_err(|_| ArchiveError::NonUtf8Name)?;
    let shown = name.to_string();
    let drive = name.len() >= 2 && name.as_bytes()[1] == b':';
    if name.starts_with('/') || name.starts_with('\\') || drive {
        return Err(ArchiveError::AbsolutePath(shown));
    }
    if name.contains('\\') {
        // A Windows separator would let `a\..\..` escape there; no package needs one.
        return Err(ArchiveError::Traversal(shown));
    }
    let mut parts = Vec::new();
    for part in name.trim_end_matches('/').split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(ArchiveError::Traversal(shown)),
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(ArchiveError::EmptyName);
    }
    Ok(parts.join("/"))
}

/// Accepts regular files (`false`) and directories (`true`); refuses everything else.
fn check_kind(kind: tar::EntryType, path: &str) -> Result<bool, ArchiveError> {
    use tar::EntryType as T;
    let special = |kind: &str| ArchiveError::Special {
        path: path.to_string(),
        kind: kind.to_string(),
    };
    match kind {
        T::Regular => Ok(false),
        T::Directory => Ok(true),
        T::Symlink => Err(ArchiveError::Symlink(path.to_string())),
        T::Link => Err(ArchiveError::Hardlink(path.to_string())),
        T::Char => Err(special("character device")),
        T::Block => Err(special("block device")),
        T::Fifo => Err(special("FIFO")),
        T::GNULongName | T::GNULongLink => Err(ArchiveError::ExtensionHeader("GNU long-name".into())),
        T::XHeader | T::XGlobalHeader => Err(ArchiveError::ExtensionHeader("PAX".into())),
        T::GNUSparse => Err(ArchiveError::ExtensionHeader("GNU sparse-file".into())),
        _ => Err(special("special entry")),
    }
}

/// Writes one file, created new (never through anything already there).
fn write_entry(entry: &mut impl Read, size: u64, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(to)?;
    let copied = io::copy(&mut entry.take(size), &mut file)?;
    if copied != size {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside an entry"));
    }
    Ok(())
}

/// Checks the staged copy as a directory install would, and against `manifest.json` when one
/// lies next to the archive.
fn verify(stage: &Path, archive: &Path, archive_bytes: &[u8]) -> Result<Manifest, ArchiveError> {
    if !stage.join(MANIFEST_FILE).is_file() {
        return Err(ArchiveError::Missing(MANIFEST_FILE));
    }
    let toml_text = std::fs::read_to_string(stage.join(MANIFEST_FILE)).map_err(|error| {
        ArchiveError::InvalidManifest(ManifestError::Read {
            path: MANIFEST_FILE.into(),
            error,
        })
    })?;
    let manifest = Manifest::parse(&toml_text).map_err(ArchiveError::InvalidManifest)?;
    let wasm = std::fs::read(stage.join(COMPONENT_FILE)).map_err(|_| ArchiveError::Missing(COMPONENT_FILE))?;
    let api_version = crate::contract::api_version::check(&wasm).map_err(ArchiveError::Contract)?;
    let beside = archive
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(MANIFEST_JSON);
    if beside.is_file() {
        let stated = read_manifest_json(&beside)?;
        let actual = manifest_json(&toml_text, api_version)
            .map_err(|e| ArchiveError::UnreadableManifestJson(e.to_string()))?;
        compare(&stated, &actual, archive_bytes)?;
    }
    Ok(manifest)
}

fn read_manifest_json(path: &Path) -> Result<Value, ArchiveError> {
    let unreadable = |why: String| ArchiveError::UnreadableManifestJson(why);
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_MANIFEST_JSON_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| unreadable(e.to_string()))?;
    if text.len() as u64 > MAX_MANIFEST_JSON_BYTES {
        return Err(unreadable(format!("larger than {}", human(MAX_MANIFEST_JSON_BYTES))));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    if !value.is_object() {
        return Err(unreadable("not a JSON object".into()));
    }
    Ok(value)
}

/// Every field the archive determines must be stated identically (an absent field counts as
/// `null`); the archive's size and SHA-256, when stated, must be this archive's.
fn compare(stated: &Value, actual: &Value, archive_bytes: &[u8]) -> Result<(), ArchiveError> {
    let show = |v: &Value| match v {
        Value::Null => "nothing".to_string(),
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    };
    for (field, want) in actual.as_object().into_iter().flatten() {
        let have = stated.get(field).unwrap_or(&Value::Null);
        if have != want {
            return Err(ArchiveError::ManifestMismatch {
                field: field.clone(),
                stated: show(have),
                actual: show(want),
            });
        }
    }
    let archive = stated.get("archive").unwrap_or(&Value::Null);
    let checks = [
        ("archive.sha256", Value::from(crate::digest::sha256_hex(archive_bytes))),
        ("archive.bytes", Value::from(archive_bytes.len())),
    ];
    for (field, want) in checks {
        let key = field.trim_start_matches("archive.");
        match archive.get(key) {
            Some(have) if *have != want => {
                return Err(ArchiveError::ManifestMismatch {
                    field: field.into(),
                    stated: show(have),
                    actual: show(&want),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_and_stay_inside() {
        assert_eq!(entry_path(b"./icons//a.svg").unwrap(), "icons/a.svg");
        assert_eq!(entry_path(b"icons/").unwrap(), "icons");
        assert!(matches!(entry_path(b"/etc/passwd"), Err(ArchiveError::AbsolutePath(_))));
        assert!(matches!(entry_path(b"C:/x"), Err(ArchiveError::AbsolutePath(_))));
        assert!(matches!(entry_path(b"icons/../../x"), Err(ArchiveError::Traversal(_))));
        assert!(matches!(entry_path(b"a\\..\\b"), Err(ArchiveError::Traversal(_))));
        assert!(matches!(entry_path(b"./"), Err(ArchiveError::EmptyName)));
        assert!(matches!(entry_path(&[0xff, b'a']), Err(ArchiveError::NonUtf8Name)));
    }

    #[test]
    fn only_files_and_directories_pass() {
        use tar::EntryType as T;
        assert!(!check_kind(T::Regular, "a").unwrap());
        assert!(check_kind(T::Directory, "a").unwrap());
        for kind in [T::Symlink, T::Link, T::Char, T::Block, T::Fifo, T::XHeader, T::GNULongName] {
            assert!(check_kind(kind, "a").is_err(), "{kind:?}");
        }
    }

    #[test]
    fn the_counter_trips_past_its_limit() {
        let tripped = Rc::new(Cell::new(false));
        let mut counted = Counted { inner: &[0u8; 100][..], read: 0, limit: 50, tripped: tripped.clone() };
        assert!(io::copy(&mut counted, &mut io::sink()).is_err());
        assert!(tripped.get());
    }

    #[test]
    fn archive_names() {
        assert!(is_archive(Path::new("x/archive.tar.gz")));
        assert!(is_archive(Path::new("a.tgz")));
        assert!(!is_archive(Path::new("extension.wasm")));
        assert!(!is_archive(Path::new("dir")));
    }
}
