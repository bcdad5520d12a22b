//! A minimal read-only reader of the Copilot language server's `auth.db` (SQLite, WAL mode).
//!
//! Design decision: no SQLite library. The component must stay small and read from the bytes
//! the host hands it (it cannot open files or take locks), and no maintained pure-Rust reader
//! reads from bytes and handles WAL. The reader therefore implements only the part of the
//! documented file format (<https://www.sqlite.org/fileformat2.html>) this needs: the header,
//! table b-trees (interior and leaf pages, overflow chains), records, `sqlite_master`, and
//! committed WAL frames laid over the main file, the way SQLite's own recovery reads a WAL.
//!
//! Every input is hostile: each read is bounds-checked, every loop is bounded (pages visited,
//! tree depth, overflow chain length), cycles are detected, and each failure is a short reason
//! that never quotes file content (the file holds tokens).

use std::collections::{HashMap, HashSet};
use std::fmt;

/// The first 16 bytes of every SQLite database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Length of the database header at the start of page 1.
const DB_HEADER_LEN: usize = 100;
/// Smallest and largest legal page sizes.
const MIN_PAGE_SIZE: usize = 512;
const MAX_PAGE_SIZE: usize = 65536;
/// The smallest usable page size (page size minus reserved bytes) SQLite allows.
const MIN_USABLE_SIZE: usize = 480;
/// WAL header magic; the low bit selects big-endian (1) or little-endian (0) checksums.
const WAL_MAGIC_LE: u32 = 0x377f_0682;
const WAL_MAGIC_BE: u32 = 0x377f_0683;
/// The only WAL format version there is.
const WAL_FORMAT_VERSION: u32 = 3_007_000;
const WAL_HEADER_LEN: usize = 32;
const WAL_FRAME_HEADER_LEN: usize = 24;
/// B-tree page types.
const PAGE_INTERIOR_TABLE: u8 = 0x05;
const PAGE_LEAF_TABLE: u8 = 0x0d;
/// Upper bound of pages one table walk may visit (the token table has a handful).
const MAX_PAGE_VISITS: usize = 100_000;
/// Deeper than any real b-tree (a depth of 40 would need more pages than a file can have).
const MAX_TREE_DEPTH: usize = 40;
/// The largest record we assemble; token rows and schema text are far smaller.
const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;
/// The table the language server keeps tokens in.
pub const TOKENS_TABLE: &str = "oauth_tokens";
/// `token_schema_version` of a plaintext token.
pub const PLAINTEXT_SCHEMA_VERSION: i64 = 0;
/// `token_schema_version` of an AES-GCM token whose key is in the OS keychain.
pub const ENCRYPTED_SCHEMA_VERSION: i64 = 1;

/// The columns read from `oauth_tokens`, by name (their order comes from the schema).
const COL_TOKEN_ID: &str = "token_id";
const COL_AUTHORITY: &str = "auth_authority";
const COL_CLIENT_ID: &str = "oauth_client_id";
const COL_LOGIN: &str = "user_login";
const COL_TOKEN: &str = "token_ciphertext";
const COL_SCHEMA_VERSION: &str = "token_schema_version";
const COL_LAST_USED: &str = "last_used_at";

/// One row of `oauth_tokens`. `Debug` never shows the token bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub token_id: i64,
    pub auth_authority: String,
    pub oauth_client_id: String,
    pub user_login: String,
    /// `token_ciphertext`: UTF-8 token text for version 0, nonce+ciphertext+tag for version 1.
    pub token: Vec<u8>,
    pub token_schema_version: i64,
    /// Epoch milliseconds.
    pub last_used_at: i64,
}

impl fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRow")
            .field("token_id", &self.token_id)
            .field("auth_authority", &self.auth_authority)
            .field("oauth_client_id", &self.oauth_client_id)
            .field("user_login", &self.user_login)
            .field("token", &"[redacted]")
            .field("token_schema_version", &self.token_schema_version)
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}

/// Reads every `oauth_tokens` row of the database `db`, with the committed frames of its
/// `-wal` file laid over it. `Err` says why the file cannot be read (no file content in it).
pub fn read_token_rows(db: &[u8], wal: Option<&[u8]>) -> Result<Vec<TokenRow>, String> {
    let pager = Pager::open(db, wal)?;
    let (root, columns) = find_table(&pager, TOKENS_TABLE)?;
    let layout = TokenColumns::locate(&columns)?;
    let mut rows = Vec::new();
    walk_table(&pager, root, &mut |rowid, payload| {
        let values = decode_record(payload)?;
        rows.push(layout.row(rowid, &values)?);
        Ok(())
    })?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Pages: the main file with the WAL's committed frames over it.

/// The page source: page `n` is the newest committed WAL frame for `n`, else the file's.
struct Pager<'a> {
    db: &'a [u8],
    page_size: usize,
    /// Page size minus the reserved bytes at the end of each page.
    usable: usize,
    page_count: u32,
    wal: HashMap<u32, &'a [u8]>,
}

impl<'a> Pager<'a> {
    fn open(db: &'a [u8], wal: Option<&'a [u8]>) -> Result<Pager<'a>, String> {
        let wal = wal.and_then(read_wal);
        let page_size = match (db.is_empty(), &wal) {
            (false, _) => header_page_size(db)?,
            (true, Some(w)) => w.page_size,
            (true, None) => return Err("empty file".to_string()),
        };
        // A WAL written for another page size belongs to another database: SQLite ignores it.
        let wal = wal.filter(|w| w.page_size == page_size);
        let file_pages = u32::try_from(db.len() / page_size).unwrap_or(u32::MAX);
        let page_count = match &wal {
            Some(w) => w.db_size,
            None => header_page_count(db).unwrap_or(file_pages),
        };
        let mut pager = Pager {
            db,
            page_size,
            usable: page_size,
            page_count,
            wal: wal.map(|w| w.pages).unwrap_or_default(),
        };
        let page1 = pager.page(1)?;
        check_header(page1)?;
        let reserved = usize::from(page1[20]);
        pager.usable = page_size.saturating_sub(reserved);
        if pager.usable < MIN_USABLE_SIZE {
            return Err(format!(
                "corrupt header: {reserved} reserved bytes per page"
            ));
        }
        Ok(pager)
    }

    fn page(&self, n: u32) -> Result<&'a [u8], String> {
        if n == 0 || n > self.page_count {
            return Err(format!("corrupt: page {n} is outside the database"));
        }
        if let Some(p) = self.wal.get(&n) {
            return Ok(p);
        }
        let start = (n as usize - 1).saturating_mul(self.page_size);
        self.db
            .get(start..start.saturating_add(self.page_size))
            .ok_or_else(|| format!("truncated: page {n} is missing"))
    }
}

/// The page size at header offset 16 (1 means 65536).
fn header_page_size(db: &[u8]) -> Result<usize, String> {
    if db.len() < DB_HEADER_LEN || !db.starts_with(SQLITE_MAGIC) {
        return Err("not a SQLite database".to_string());
    }
    let raw = usize::from(be16(db, 16).unwrap_or(0));
    let size = if raw == 1 { MAX_PAGE_SIZE } else { raw };
    if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size) || !size.is_power_of_two() {
        return Err(format!("corrupt header: page size {raw}"));
    }
    Ok(size)
}

/// The in-header page count, when valid (the change counter matches version-valid-for).
fn header_page_count(db: &[u8]) -> Option<u32> {
    let count = be32(db, 28)?;
    (count > 0 && be32(db, 24)? == be32(db, 92)?).then_some(count)
}

/// Page 1 (as the WAL may have rewritten it) must still be a UTF-8 SQLite database.
fn check_header(page1: &[u8]) -> Result<(), String> {
    if !page1.starts_with(SQLITE_MAGIC) {
        return Err("not a SQLite database".to_string());
    }
    match be32(page1, 56) {
        // 0: no text stored yet, which SQLite treats as UTF-8.
        Some(0 | 1) => Ok(()),
        Some(2 | 3) => Err("unsupported: UTF-16 text encoding".to_string()),
        _ => Err("corrupt header: unknown text encoding".to_string()),
    }
}

/// The committed content of a WAL file.
struct Wal<'a> {
    page_size: usize,
    /// The database size in pages after the last commit.
    db_size: u32,
    pages: HashMap<u32, &'a [u8]>,
}

/// The committed frames of a WAL, or `None` when it has none (an empty, foreign or broken
/// WAL is ignored, as SQLite does). Frames count while their salts match the header and
/// their running checksum holds; of those, frames after the last commit frame are an
/// unfinished transaction and are ignored.
fn read_wal(wal: &[u8]) -> Option<Wal<'_>> {
    let header = wal.get(..WAL_HEADER_LEN)?;
    let little_endian = match be32(header, 0)? {
        WAL_MAGIC_LE => true,
        WAL_MAGIC_BE => false,
        _ => return None,
    };
    if be32(header, 4)? != WAL_FORMAT_VERSION {
        return None;
    }
    let page_size = be32(header, 8)? as usize;
    let page_size = if page_size == 1 {
        MAX_PAGE_SIZE
    } else {
        page_size
    };
    if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size) || !page_size.is_power_of_two() {
        return None;
    }
    let salt = (be32(header, 16)?, be32(header, 20)?);
    let mut sum = wal_checksum((0, 0), header.get(..24)?, little_endian);
    if sum != (be32(header, 24)?, be32(header, 28)?) {
        return None;
    }
    let mut pending: Vec<(u32, &[u8])> = Vec::new();
    let mut committed: Option<Wal<'_>> = None;
    let frame_len = WAL_FRAME_HEADER_LEN + page_size;
    let mut offset = WAL_HEADER_LEN;
    while let Some(frame) = wal.get(offset..offset.saturating_add(frame_len)) {
        offset += frame_len;
        let (page, commit_size) = (be32(frame, 0)?, be32(frame, 4)?);
        if page == 0 || (be32(frame, 8)?, be32(frame, 12)?) != salt {
            break;
        }
        let data = frame.get(WAL_FRAME_HEADER_LEN..)?;
        sum = wal_checksum(sum, frame.get(..8)?, little_endian);
        sum = wal_checksum(sum, data, little_endian);
        if sum != (be32(frame, 16)?, be32(frame, 20)?) {
            break;
        }
        pending.push((page, data));
        if commit_size > 0 {
            let wal = committed.get_or_insert_with(|| Wal {
                page_size,
                db_size: 0,
                pages: HashMap::new(),
            });
            wal.db_size = commit_size;
            wal.pages.extend(pending.drain(..));
        }
    }
    committed
}

/// SQLite's WAL checksum, continued from `start` over `data` (whole 8-byte pairs).
fn wal_checksum(start: (u32, u32), data: &[u8], little_endian: bool) -> (u32, u32) {
    let (mut s0, mut s1) = start;
    for pair in data.chunks_exact(8) {
        let word = |b: &[u8]| {
            let bytes = [b[0], b[1], b[2], b[3]];
            if little_endian {
                u32::from_le_bytes(bytes)
            } else {
                u32::from_be_bytes(bytes)
            }
        };
        s0 = s0.wrapping_add(word(&pair[..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&pair[4..])).wrapping_add(s0);
    }
    (s0, s1)
}

// ---------------------------------------------------------------------------------------------
// Table b-trees.

/// What [`walk_table`] calls with each row's rowid and payload.
type RowVisitor<'a> = dyn FnMut(i64, &[u8]) -> Result<(), String> + 'a;

/// Calls `visit(rowid, payload)` for every row of the table b-tree rooted at `root`, in
/// rowid order. Bounded: each page is visited at most once (a second visit is a cycle), at
/// most [`MAX_PAGE_VISITS`] pages and [`MAX_TREE_DEPTH`] levels.
fn walk_table(
    pager: &Pager<'_>,
    root: u32,
    visit: &mut RowVisitor<'_>,
) -> Result<(), String> {
    let mut seen = HashSet::new();
    // Pages still to read, with their depth; popped from the end, pushed in reverse order.
    let mut stack = vec![(root, 0usize)];
    while let Some((number, depth)) = stack.pop() {
        if depth > MAX_TREE_DEPTH {
            return Err("corrupt: table b-tree too deep".to_string());
        }
        if !seen.insert(number) {
            return Err(format!("corrupt: page {number} is linked twice"));
        }
        if seen.len() > MAX_PAGE_VISITS {
            return Err("corrupt: table b-tree too large".to_string());
        }
        let page = pager.page(number)?;
        let start = if number == 1 { DB_HEADER_LEN } else { 0 };
        let kind = *page.get(start).ok_or("truncated page")?;
        match kind {
            PAGE_LEAF_TABLE => {
                for pointer in cell_pointers(page, start, 8)? {
                    let (rowid, payload) = leaf_cell(pager, page, pointer, &mut seen)?;
                    visit(rowid, &payload)?;
                }
            }
            PAGE_INTERIOR_TABLE => {
                let right = be32(page, start + 8).ok_or("truncated page")?;
                stack.push((right, depth + 1));
                let pointers = cell_pointers(page, start, 12)?;
                for pointer in pointers.into_iter().rev() {
                    let child = be32(page, pointer).ok_or("corrupt: cell outside its page")?;
                    stack.push((child, depth + 1));
                }
            }
            other => {
                return Err(format!(
                    "corrupt: page {number} has b-tree page type {other:#04x}, not a table page"
                ))
            }
        }
    }
    Ok(())
}

/// The cell offsets of a b-tree page whose header (of `header_len` bytes) starts at `start`.
fn cell_pointers(page: &[u8], start: usize, header_len: usize) -> Result<Vec<usize>, String> {
    let count = usize::from(be16(page, start + 3).ok_or("truncated page")?);
    let array = start + header_len;
    (0..count)
        .map(|i| {
            let pointer = usize::from(be16(page, array + 2 * i).ok_or("corrupt: too many cells")?);
            if pointer < array || pointer >= page.len() {
                return Err("corrupt: cell pointer outside its page".to_string());
            }
            Ok(pointer)
        })
        .collect()
}

/// A table-leaf cell: its rowid and the whole payload (overflow chain followed).
fn leaf_cell(
    pager: &Pager<'_>,
    page: &[u8],
    at: usize,
    seen: &mut HashSet<u32>,
) -> Result<(i64, Vec<u8>), String> {
    let (size, n) = varint(page, at).ok_or("corrupt: cell outside its page")?;
    let (rowid, m) = varint(page, at + n).ok_or("corrupt: cell outside its page")?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > MAX_RECORD_BYTES {
        return Err("corrupt: record too large".to_string());
    }
    let body = at + n + m;
    let local = local_payload_len(pager.usable, size);
    let local_bytes = page
        .get(body..body + local)
        .ok_or("corrupt: cell outside its page")?;
    let mut payload = Vec::with_capacity(size);
    payload.extend_from_slice(local_bytes);
    if local < size {
        let first = be32(page, body + local).ok_or("corrupt: cell outside its page")?;
        read_overflow(pager, first, size, &mut payload, seen)?;
    }
    Ok((rowid as i64, payload))
}

/// How much of a `size`-byte table-leaf payload is stored on the page itself.
fn local_payload_len(usable: usize, size: usize) -> usize {
    let max_local = usable - 35;
    if size <= max_local {
        return size;
    }
    let min_local = (usable - 12) * 32 / 255 - 23;
    let k = min_local + (size - min_local) % (usable - 4);
    if k <= max_local {
        k
    } else {
        min_local
    }
}

/// Appends the overflow chain starting at `first` until `payload` holds `size` bytes.
fn read_overflow(
    pager: &Pager<'_>,
    first: u32,
    size: usize,
    payload: &mut Vec<u8>,
    seen: &mut HashSet<u32>,
) -> Result<(), String> {
    let mut next = first;
    while payload.len() < size {
        if !seen.insert(next) {
            return Err(format!("corrupt: overflow page {next} is linked twice"));
        }
        let page = pager.page(next)?;
        let content = page
            .get(4..pager.usable)
            .ok_or("corrupt: overflow page too small")?;
        let take = content.len().min(size - payload.len());
        payload.extend_from_slice(&content[..take]);
        next = be32(page, 0).ok_or("truncated overflow page")?;
        if payload.len() < size && next == 0 {
            return Err("corrupt: overflow chain ends early".to_string());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Records.

/// A column value.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

/// Decodes a record: a header of serial types, then the values.
fn decode_record(payload: &[u8]) -> Result<Vec<Value>, String> {
    let bad = || "corrupt: malformed record".to_string();
    let (header_len, n) = varint(payload, 0).ok_or_else(bad)?;
    let header_len = usize::try_from(header_len).map_err(|_| bad())?;
    if header_len < n || header_len > payload.len() {
        return Err(bad());
    }
    let mut types = Vec::new();
    let mut at = n;
    while at < header_len {
        let (serial, used) = varint(payload, at).ok_or_else(bad)?;
        types.push(serial);
        at += used;
    }
    let mut body = header_len;
    let mut values = Vec::with_capacity(types.len());
    for serial in types {
        let len = serial_len(serial).ok_or_else(bad)?;
        let bytes = payload
            .get(body..body.saturating_add(len))
            .ok_or_else(bad)?;
        body += len;
        values.push(match serial {
            0 => Value::Null,
            1..=6 => Value::Int(be_int(bytes)),
            7 => Value::Real(f64::from_bits(be_int(bytes) as u64)),
            8 => Value::Int(0),
            9 => Value::Int(1),
            s if s % 2 == 0 => Value::Blob(bytes.to_vec()),
            _ => Value::Text(bytes.to_vec()),
        });
    }
    Ok(values)
}

/// Bytes of a value of serial type `serial`; `None` for the reserved types 10 and 11.
fn serial_len(serial: u64) -> Option<usize> {
    Some(match serial {
        0 | 8 | 9 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        4 => 4,
        5 => 6,
        6 | 7 => 8,
        10 | 11 => return None,
        s => usize::try_from((s - 12) / 2).ok()?,
    })
}

/// A big-endian two's-complement integer of 1 to 8 bytes.
fn be_int(bytes: &[u8]) -> i64 {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let start: i64 = if negative { -1 } else { 0 };
    bytes
        .iter()
        .fold(start, |acc, b| (acc << 8) | i64::from(*b))
}

// ---------------------------------------------------------------------------------------------
// The schema.

/// The root page and column list of table `name`, from `sqlite_master` (page 1).
fn find_table(pager: &Pager<'_>, name: &str) -> Result<(u32, Vec<Column>), String> {
    let mut found = None;
    walk_table(pager, 1, &mut |_, payload| {
        let values = decode_record(payload)?;
        let text = |i: usize| match values.get(i) {
            Some(Value::Text(t)) => std::str::from_utf8(t).ok(),
            _ => None,
        };
        if found.is_none()
            && text(0) == Some("table")
            && text(1).is_some_and(|n| n.eq_ignore_ascii_case(name))
        {
            let root = match values.get(3) {
                Some(Value::Int(r)) => u32::try_from(*r).ok().filter(|r| *r > 0),
                _ => None,
            };
            let root = root.ok_or("corrupt schema: bad root page")?;
            let sql = text(4).ok_or("corrupt schema: no CREATE TABLE text")?;
            found = Some((root, parse_columns(sql)?));
        }
        Ok(())
    })
    .map_err(|e| format!("{e} (in the schema)"))?;
    found.ok_or_else(|| format!("no table {name}"))
}

/// A declared column.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Column {
    name: String,
    /// `INTEGER PRIMARY KEY`: the column is the rowid and its record value is NULL.
    is_rowid: bool,
}

/// Keywords that start a table constraint rather than a column definition.
const TABLE_CONSTRAINTS: [&str; 5] = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];

/// The columns of a `CREATE TABLE name (col type ..., ..., constraint ...)` statement.
fn parse_columns(sql: &str) -> Result<Vec<Column>, String> {
    let bad = || "corrupt schema: unreadable CREATE TABLE text".to_string();
    let open = sql.find('(').ok_or_else(bad)?;
    let close = sql.rfind(')').filter(|c| *c > open).ok_or_else(bad)?;
    let mut columns = Vec::new();
    for def in split_top_level(&sql[open + 1..close]) {
        let words = words(def);
        let Some(first) = words.first() else { continue };
        if TABLE_CONSTRAINTS
            .iter()
            .any(|k| first.eq_ignore_ascii_case(k))
        {
            continue;
        }
        let upper: Vec<String> = words
            .iter()
            .skip(1)
            .map(|w| w.to_ascii_uppercase())
            .collect();
        let is_rowid = upper.first().map(String::as_str) == Some("INTEGER")
            && upper.windows(2).any(|w| w[0] == "PRIMARY" && w[1] == "KEY")
            && !upper.iter().any(|w| w == "DESC");
        columns.push(Column {
            name: unquote(first),
            is_rowid,
        });
    }
    if columns.is_empty() {
        return Err(bad());
    }
    Ok(columns)
}

/// Splits on commas outside parentheses and quotes.
fn split_top_level(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q || (q == '[' && c == ']') => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`' | '[') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
}

/// Words of a column definition; a quoted name stays one word.
fn words(def: &str) -> Vec<&str> {
    let def = def.trim();
    let mut out = Vec::new();
    let mut rest = def;
    while !rest.is_empty() {
        let end = match rest.chars().next() {
            Some(q @ ('"' | '`' | '[')) => {
                let close = if q == '[' { ']' } else { q };
                rest[1..].find(close).map_or(rest.len(), |i| i + 2)
            }
            _ => rest
                .find(|c: char| c.is_whitespace() || c == '(')
                .unwrap_or(rest.len())
                .max(1),
        };
        out.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    out
}

fn unquote(word: &str) -> String {
    let inner = match word.as_bytes() {
        [b'"', .., b'"'] | [b'`', .., b'`'] | [b'[', .., b']'] => &word[1..word.len() - 1],
        _ => word,
    };
    inner.to_string()
}

/// Where the wanted columns are in a record.
struct TokenColumns {
    token_id: usize,
    token_id_is_rowid: bool,
    authority: usize,
    client_id: usize,
    login: usize,
    token: usize,
    schema_version: usize,
    last_used: usize,
}

impl TokenColumns {
    fn locate(columns: &[Column]) -> Result<TokenColumns, String> {
        let find = |name: &str| {
            columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("unexpected schema: {TOKENS_TABLE} has no column {name}"))
        };
        let token_id = find(COL_TOKEN_ID)?;
        Ok(TokenColumns {
            token_id,
            token_id_is_rowid: columns[token_id].is_rowid,
            authority: find(COL_AUTHORITY)?,
            client_id: find(COL_CLIENT_ID)?,
            login: find(COL_LOGIN)?,
            token: find(COL_TOKEN)?,
            schema_version: find(COL_SCHEMA_VERSION)?,
            last_used: find(COL_LAST_USED)?,
        })
    }

    /// The row from a decoded record. Columns past the record's end (added by a later
    /// `ALTER TABLE`) read as NULL, as in SQLite.
    fn row(&self, rowid: i64, values: &[Value]) -> Result<TokenRow, String> {
        let get = |i: usize| values.get(i).unwrap_or(&Value::Null);
        let text = |i: usize, name: &str| match get(i) {
            Value::Text(t) | Value::Blob(t) => String::from_utf8(t.clone())
                .map_err(|_| format!("row {rowid}: {name} is not UTF-8 text")),
            Value::Null => Ok(String::new()),
            _ => Err(format!("row {rowid}: {name} is not text")),
        };
        let int = |i: usize, name: &str| match get(i) {
            Value::Int(v) => Ok(*v),
            Value::Real(r) if r.is_finite() => Ok(*r as i64),
            Value::Null => Ok(0),
            _ => Err(format!("row {rowid}: {name} is not a number")),
        };
        let token_id = match get(self.token_id) {
            Value::Null if self.token_id_is_rowid => rowid,
            _ => int(self.token_id, COL_TOKEN_ID)?,
        };
        let token = match get(self.token) {
            Value::Blob(b) | Value::Text(b) => b.clone(),
            Value::Null => Vec::new(),
            _ => return Err(format!("row {rowid}: {COL_TOKEN} is not a blob")),
        };
        Ok(TokenRow {
            token_id,
            auth_authority: text(self.authority, COL_AUTHORITY)?,
            oauth_client_id: text(self.client_id, COL_CLIENT_ID)?,
            user_login: text(self.login, COL_LOGIN)?,
            token,
            token_schema_version: int(self.schema_version, COL_SCHEMA_VERSION)?,
            last_used_at: int(self.last_used, COL_LAST_USED)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Choosing the token.

/// The token chosen for an authority.
#[derive(Clone, PartialEq, Eq)]
pub struct Chosen {
    pub token: String,
    pub login: Option<String>,
    pub client_id: String,
}

impl fmt::Debug for Chosen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chosen")
            .field("token", &"[redacted]")
            .field("login", &self.login)
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// Picks the token for `authority` (case-insensitive, exact): rows of the Copilot app
/// (`preferred_client_id`) first, then newest `last_used_at`, then highest `token_id`, as
/// the language server orders them. Only plaintext rows holding a `gh?_` token are usable.
/// `Ok(None)`: no row for the authority. `Err`: rows exist but none is usable, and why.
pub fn choose(
    rows: &[TokenRow],
    authority: &str,
    preferred_client_id: &str,
) -> Result<Option<Chosen>, String> {
    let mut matching: Vec<&TokenRow> = rows
        .iter()
        .filter(|r| r.auth_authority.trim().eq_ignore_ascii_case(authority))
        .collect();
    if matching.is_empty() {
        return Ok(None);
    }
    matching.sort_by(|a, b| {
        let pref = |r: &TokenRow| r.oauth_client_id == preferred_client_id;
        pref(b)
            .cmp(&pref(a))
            .then(b.last_used_at.cmp(&a.last_used_at))
            .then(b.token_id.cmp(&a.token_id))
    });
    let (mut encrypted, mut other_versions, mut malformed) = (0, 0, 0);
    for row in matching.iter().copied() {
        match row.token_schema_version {
            PLAINTEXT_SCHEMA_VERSION => match plaintext_token(&row.token) {
                Some(token) => {
                    let login = Some(row.user_login.trim().to_string())
                        .filter(|l| !l.is_empty() && !l.chars().any(char::is_control));
                    return Ok(Some(Chosen {
                        token,
                        login,
                        client_id: row.oauth_client_id.clone(),
                    }));
                }
                None => malformed += 1,
            },
            ENCRYPTED_SCHEMA_VERSION => encrypted += 1,
            _ => other_versions += 1,
        }
    }
    Err(unusable_reason(
        matching.len(),
        authority,
        encrypted,
        other_versions,
        malformed,
    ))
}

fn unusable_reason(
    total: usize,
    authority: &str,
    encrypted: usize,
    other: usize,
    malformed: usize,
) -> String {
    let mut parts = Vec::new();
    if encrypted > 0 {
        parts.push(format!(
            "{encrypted} encrypted (token_schema_version 1: the key is in the OS keychain, which an extension cannot read; sign in again with a current Copilot language server, which stores plaintext, or use `copilot-host sign-in`)"
        ));
    }
    if other > 0 {
        parts.push(format!("{other} with an unknown token_schema_version"));
    }
    if malformed > 0 {
        parts.push(format!(
            "{malformed} whose token is not a GitHub OAuth token"
        ));
    }
    format!(
        "{total} row(s) for {authority} but none usable: {}",
        parts.join(", ")
    )
}

/// A version-0 token: UTF-8 `gh?_…` with only token characters.
fn plaintext_token(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let b = text.as_bytes();
    let prefix_ok =
        b.len() > 4 && b[0] == b'g' && b[1] == b'h' && b[2].is_ascii_lowercase() && b[3] == b'_';
    let chars_ok = b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    (prefix_ok && chars_ok).then(|| text.to_string())
}

// ---------------------------------------------------------------------------------------------
// Byte helpers (all bounds-checked).

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// SQLite's varint at `at`: the value and how many bytes it took (1 to 9).
fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = *b.get(at.checked_add(i)?)?;
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    let last = *b.get(at.checked_add(8)?)?;
    Some(((value << 8) | u64::from(last), 9))
}

#[cfg(test)]
#[path = "../../tests/sqlite_fixture.rs"]
pub(crate) mod fixture;

#[cfg(test)]
mod tests;
