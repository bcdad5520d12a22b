//! Builds tiny SQLite database and WAL files byte by byte, for tests of the `auth.db` reader.
//!
//! Design decision: the fixtures are written from the documented file format
//! (<https://www.sqlite.org/fileformat2.html>), not produced by a SQLite library, so the tests
//! need no native dependency and can build exactly the odd files a reader must survive
//! (overflow chains, interior pages, WAL frames with bad checksums, foreign salts). Std only:
//! this file is shared by the guest's unit tests (`#[path]`) and the component tests.

#![allow(dead_code)]

/// The schema the Copilot language server creates (protocol notes §1.4).
pub const OAUTH_TOKENS_SQL: &str = "CREATE TABLE oauth_tokens (\n  token_id INTEGER PRIMARY KEY AUTOINCREMENT,\n  auth_authority TEXT NOT NULL,\n  oauth_client_id TEXT NOT NULL,\n  user_login TEXT NOT NULL,\n  scopes TEXT NOT NULL,\n  token_ciphertext BLOB NOT NULL,\n  token_schema_version INTEGER NOT NULL,\n  source_editor_id TEXT NOT NULL,\n  created_at INTEGER NOT NULL,\n  updated_at INTEGER NOT NULL,\n  last_used_at INTEGER NOT NULL,\n  UNIQUE(auth_authority, oauth_client_id, user_login)\n)";

/// WAL magic with big-endian checksums.
const WAL_MAGIC_BE: u32 = 0x377f_0683;
/// WAL magic with little-endian checksums.
const WAL_MAGIC_LE: u32 = 0x377f_0682;
const WAL_VERSION: u32 = 3_007_000;
const LEAF_TABLE: u8 = 0x0d;
const INTERIOR_TABLE: u8 = 0x05;

/// A column value of a row to write.
#[derive(Clone, Debug)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// One `oauth_tokens` row in the language server's column order.
#[derive(Clone, Debug)]
pub struct TokenRowSpec {
    pub token_id: i64,
    pub authority: String,
    pub client_id: String,
    pub login: String,
    pub token: Vec<u8>,
    pub schema_version: i64,
    pub last_used_at: i64,
}

impl TokenRowSpec {
    /// A plaintext (version 0) row.
    pub fn plain(
        token_id: i64,
        authority: &str,
        client_id: &str,
        login: &str,
        token: &str,
        last_used_at: i64,
    ) -> Self {
        TokenRowSpec {
            token_id,
            authority: authority.into(),
            client_id: client_id.into(),
            login: login.into(),
            token: token.as_bytes().to_vec(),
            schema_version: 0,
            last_used_at,
        }
    }

    /// An encrypted (version 1) row: nonce, ciphertext, tag.
    pub fn encrypted(
        token_id: i64,
        authority: &str,
        client_id: &str,
        login: &str,
        last_used_at: i64,
    ) -> Self {
        TokenRowSpec {
            token_id,
            authority: authority.into(),
            client_id: client_id.into(),
            login: login.into(),
            token: (0..60u8).map(|b| b.wrapping_mul(37)).collect(),
            schema_version: 1,
            last_used_at,
        }
    }

    /// The row as stored: `token_id` is the rowid, so its column is NULL in the record.
    pub fn values(&self) -> Vec<Val> {
        vec![
            Val::Null,
            Val::Text(self.authority.clone()),
            Val::Text(self.client_id.clone()),
            Val::Text(self.login.clone()),
            Val::Text("read:user".into()),
            Val::Blob(self.token.clone()),
            Val::Int(self.schema_version),
            Val::Text("vim".into()),
            Val::Int(self.last_used_at - 1000),
            Val::Int(self.last_used_at),
            Val::Int(self.last_used_at),
        ]
    }
}

/// A table to write: name, `CREATE TABLE` text and rows as (rowid, values).
pub struct Table {
    pub name: String,
    pub sql: String,
    pub rows: Vec<(i64, Vec<Val>)>,
}

impl Table {
    /// The `oauth_tokens` table with `rows`.
    pub fn oauth_tokens(rows: &[TokenRowSpec]) -> Table {
        Table {
            name: "oauth_tokens".into(),
            sql: OAUTH_TOKENS_SQL.into(),
            rows: rows.iter().map(|r| (r.token_id, r.values())).collect(),
        }
    }
}

/// The bytes of a database file holding `tables` (page 1 is the schema, then each table's
/// pages: an interior root when its rows need more than one leaf, then the leaves, with
/// overflow pages for records too big for a page).
pub fn build_db(page_size: usize, tables: &[Table]) -> Vec<u8> {
    let mut pages: Vec<Vec<u8>> = vec![Vec::new()]; // page 1, written last
    let mut schema_rows = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let root = write_table(page_size, &mut pages, &table.rows);
        schema_rows.push((
            i as i64 + 1,
            vec![
                Val::Text("table".into()),
                Val::Text(table.name.clone()),
                Val::Text(table.name.clone()),
                Val::Int(i64::from(root)),
                Val::Text(table.sql.clone()),
            ],
        ));
    }
    let cells: Vec<Vec<u8>> = schema_rows
        .iter()
        .map(|(rowid, vals)| leaf_cell(page_size, &mut pages, *rowid, &record(vals)))
        .collect();
    pages[0] = leaf_page(page_size, 100, &cells);
    let count = pages.len() as u32;
    write_header(&mut pages[0], page_size, count);
    pages.concat()
}

/// Page `n` (1-based) of a database built by [`build_db`].
pub fn page(db: &[u8], page_size: usize, n: u32) -> Vec<u8> {
    let start = (n as usize - 1) * page_size;
    db[start..start + page_size].to_vec()
}

/// One WAL frame: page number, page bytes and, for a commit frame, the database size in pages.
pub struct Frame {
    pub page: u32,
    pub data: Vec<u8>,
    pub commit_size: u32,
}

/// The bytes of a WAL file with `frames`, salts `salt`, checksums in big-endian order unless
/// `little_endian`.
pub fn build_wal(
    page_size: usize,
    salt: (u32, u32),
    frames: &[Frame],
    little_endian: bool,
) -> Vec<u8> {
    let magic = if little_endian {
        WAL_MAGIC_LE
    } else {
        WAL_MAGIC_BE
    };
    let mut out = Vec::new();
    for v in [magic, WAL_VERSION, page_size as u32, 0, salt.0, salt.1] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut sum = checksum((0, 0), &out, little_endian);
    out.extend_from_slice(&sum.0.to_be_bytes());
    out.extend_from_slice(&sum.1.to_be_bytes());
    for frame in frames {
        let mut header = Vec::new();
        for v in [frame.page, frame.commit_size, salt.0, salt.1] {
            header.extend_from_slice(&v.to_be_bytes());
        }
        sum = checksum(sum, &header[..8], little_endian);
        sum = checksum(sum, &frame.data, little_endian);
        header.extend_from_slice(&sum.0.to_be_bytes());
        header.extend_from_slice(&sum.1.to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&frame.data);
    }
    out
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `start`.
pub fn checksum(start: (u32, u32), data: &[u8], little_endian: bool) -> (u32, u32) {
    let (mut s0, mut s1) = start;
    for pair in data.chunks_exact(8) {
        let word = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if little_endian {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }
        };
        s0 = s0.wrapping_add(word(&pair[..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&pair[4..])).wrapping_add(s0);
    }
    (s0, s1)
}

fn write_header(page1: &mut [u8], page_size: usize, page_count: u32) {
    page1[..16].copy_from_slice(b"SQLite format 3\0");
    let ps = if page_size == 65536 {
        1u16
    } else {
        page_size as u16
    };
    page1[16..18].copy_from_slice(&ps.to_be_bytes());
    page1[18] = 2; // WAL write version
    page1[19] = 2; // WAL read version
    page1[20] = 0; // reserved bytes per page
    page1[21] = 64;
    page1[22] = 32;
    page1[23] = 32;
    page1[24..28].copy_from_slice(&1u32.to_be_bytes()); // change counter
    page1[28..32].copy_from_slice(&page_count.to_be_bytes());
    page1[40..44].copy_from_slice(&1u32.to_be_bytes()); // schema cookie
    page1[44..48].copy_from_slice(&4u32.to_be_bytes()); // schema format
    page1[56..60].copy_from_slice(&1u32.to_be_bytes()); // UTF-8
    page1[92..96].copy_from_slice(&1u32.to_be_bytes()); // version-valid-for
    page1[96..100].copy_from_slice(&3_045_000u32.to_be_bytes());
}

/// Writes a table's pages and returns its root page number.
fn write_table(page_size: usize, pages: &mut Vec<Vec<u8>>, rows: &[(i64, Vec<Val>)]) -> u32 {
    let cells: Vec<(i64, Vec<u8>)> = rows
        .iter()
        .map(|(rowid, vals)| (*rowid, leaf_cell(page_size, pages, *rowid, &record(vals))))
        .collect();
    // Pack cells into leaves.
    let capacity = page_size - 8;
    let mut leaves: Vec<Vec<(i64, Vec<u8>)>> = vec![Vec::new()];
    let mut used = 0;
    for cell in cells {
        let need = cell.1.len() + 2;
        if used + need > capacity && leaves.last().is_some_and(|l| !l.is_empty()) {
            leaves.push(Vec::new());
            used = 0;
        }
        used += need;
        if let Some(last) = leaves.last_mut() {
            last.push(cell);
        }
    }
    if leaves.len() == 1 {
        let bytes: Vec<Vec<u8>> = leaves[0].iter().map(|(_, c)| c.clone()).collect();
        pages.push(leaf_page(page_size, 0, &bytes));
        return pages.len() as u32;
    }
    pages.push(Vec::new());
    let root = pages.len() as u32;
    let mut children = Vec::new();
    for leaf in &leaves {
        let bytes: Vec<Vec<u8>> = leaf.iter().map(|(_, c)| c.clone()).collect();
        pages.push(leaf_page(page_size, 0, &bytes));
        let max_rowid = leaf.last().map_or(0, |(r, _)| *r);
        children.push((pages.len() as u32, max_rowid));
    }
    let (right, _) = children.pop().unwrap_or((0, 0));
    let interior_cells: Vec<Vec<u8>> = children
        .iter()
        .map(|(child, key)| {
            let mut c = child.to_be_bytes().to_vec();
            c.extend(varint(*key as u64));
            c
        })
        .collect();
    pages[root as usize - 1] =
        btree_page(page_size, 0, INTERIOR_TABLE, Some(right), &interior_cells);
    root
}

/// A table-leaf cell for `payload`, spilling to overflow pages appended to `pages`.
fn leaf_cell(page_size: usize, pages: &mut Vec<Vec<u8>>, rowid: i64, payload: &[u8]) -> Vec<u8> {
    let usable = page_size;
    let max_local = usable - 35;
    let min_local = (usable - 12) * 32 / 255 - 23;
    let mut cell = varint(payload.len() as u64);
    cell.extend(varint(rowid as u64));
    if payload.len() <= max_local {
        cell.extend_from_slice(payload);
        return cell;
    }
    let k = min_local + (payload.len() - min_local) % (usable - 4);
    let local = if k <= max_local { k } else { min_local };
    cell.extend_from_slice(&payload[..local]);
    let rest = &payload[local..];
    let chunks: Vec<&[u8]> = rest.chunks(usable - 4).collect();
    let first = pages.len() as u32 + 1;
    for (i, chunk) in chunks.iter().enumerate() {
        let next = if i + 1 < chunks.len() {
            first + i as u32 + 1
        } else {
            0
        };
        let mut p = next.to_be_bytes().to_vec();
        p.extend_from_slice(chunk);
        p.resize(page_size, 0);
        pages.push(p);
    }
    cell.extend_from_slice(&first.to_be_bytes());
    cell
}

fn leaf_page(page_size: usize, offset: usize, cells: &[Vec<u8>]) -> Vec<u8> {
    btree_page(page_size, offset, LEAF_TABLE, None, cells)
}

/// A b-tree page whose header starts at `offset` (100 on page 1), cells packed at the end.
fn btree_page(
    page_size: usize,
    offset: usize,
    kind: u8,
    right: Option<u32>,
    cells: &[Vec<u8>],
) -> Vec<u8> {
    let mut p = vec![0u8; page_size];
    let header_len = if right.is_some() { 12 } else { 8 };
    let mut content = page_size;
    let mut pointers = Vec::new();
    for cell in cells {
        content -= cell.len();
        p[content..content + cell.len()].copy_from_slice(cell);
        pointers.push(content as u16);
    }
    p[offset] = kind;
    p[offset + 3..offset + 5].copy_from_slice(&(cells.len() as u16).to_be_bytes());
    let start = if content == 65536 { 0 } else { content as u16 };
    p[offset + 5..offset + 7].copy_from_slice(&start.to_be_bytes());
    if let Some(r) = right {
        p[offset + 8..offset + 12].copy_from_slice(&r.to_be_bytes());
    }
    assert!(
        content >= offset + header_len + 2 * cells.len(),
        "fixture: the cells do not fit on one page; use a larger page size"
    );
    for (i, ptr) in pointers.iter().enumerate() {
        let at = offset + header_len + 2 * i;
        p[at..at + 2].copy_from_slice(&ptr.to_be_bytes());
    }
    p
}

/// A record: header (size, serial types) then the values.
pub fn record(vals: &[Val]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut body = Vec::new();
    for v in vals {
        match v {
            Val::Null => types.extend(varint(0)),
            Val::Int(0) => types.extend(varint(8)),
            Val::Int(1) => types.extend(varint(9)),
            Val::Int(i) => {
                types.extend(varint(6));
                body.extend_from_slice(&i.to_be_bytes());
            }
            Val::Real(f) => {
                types.extend(varint(7));
                body.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            Val::Text(t) => {
                types.extend(varint(t.len() as u64 * 2 + 13));
                body.extend_from_slice(t.as_bytes());
            }
            Val::Blob(b) => {
                types.extend(varint(b.len() as u64 * 2 + 12));
                body.extend_from_slice(b);
            }
        }
    }
    // The header size counts itself; one byte is enough for these small headers, two otherwise.
    let mut header_len = types.len() + 1;
    if header_len > 127 {
        header_len += 1;
    }
    let mut out = varint(header_len as u64);
    out.extend(types);
    out.extend(body);
    out
}

/// SQLite's big-endian variable-length integer (1 to 9 bytes).
pub fn varint(v: u64) -> Vec<u8> {
    if v > 0x00ff_ffff_ffff_ffff {
        let mut out: Vec<u8> = (0..8)
            .rev()
            .map(|i| (((v >> (8 + 7 * i)) & 0x7f) as u8) | 0x80)
            .collect();
        out.push(v as u8);
        return out;
    }
    let mut groups = vec![(v & 0x7f) as u8];
    let mut rest = v >> 7;
    while rest > 0 {
        groups.push(((rest & 0x7f) as u8) | 0x80);
        rest >>= 7;
    }
    groups.reverse();
    groups
}
