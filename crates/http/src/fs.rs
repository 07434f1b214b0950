//! `FileServer` (Go's `http.FileServer` + `http.ServeContent`): files
//! under a root directory, bodies sent by `sendfile`.
//!
//! It follows Go's `net/http/fs.go` decisions:
//!
//! - GET and HEAD only (405 with `Allow: GET, HEAD` otherwise);
//! - the path is cleaned lexically, so `..` never leaves the root; a path
//!   with a NUL byte or a backslash is refused (400);
//! - `…/index.html` redirects (301) to `./`; a directory without its
//!   trailing slash redirects to the slashed path, a file with one to the
//!   path without it;
//! - a directory serves its `index.html`, else an HTML listing (names
//!   HTML-escaped, links percent-encoded);
//! - `Content-Type` from the extension (`mime_guess`; unknown:
//!   `application/octet-stream`, where Go would sniff the first bytes),
//!   `Last-Modified`, an `ETag` of the modification time and size, and
//!   Go's precondition order: `If-Match`, `If-Unmodified-Since` (412),
//!   `If-None-Match`, `If-Modified-Since` (304), `If-Range`;
//! - one `Range` → 206 with `Content-Range`; none satisfiable → 416 with
//!   `Content-Range: bytes */size`; several → 206 with one
//!   `multipart/byteranges` body, a part per range (each part's bytes by
//!   `sendfile` too), unless together they are larger than the file, which
//!   Go takes for an attack or a confused client and answers with the
//!   whole file (200).
//!
//! **Symlinks:** followed while the file they lead to is inside the root
//! (checked on the canonical path); one that leads out of it is a 404. Go's
//! `http.Dir` follows every symlink.

#![forbid(unsafe_code)]

use std::fs::{self, File, Metadata};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::request::Request;
use crate::response::{error, not_found, ResponseWriter};
use crate::Handler;

/// Bytes escaped in a path written into a link or a `Location`.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b':')
    .add(b'\\');

/// Serves the files under a root directory (Go's
/// `http.FileServer(http.Dir(root))`).
#[derive(Debug, Clone)]
pub struct FileServer {
    /// The directory served; paths never resolve outside it.
    root: PathBuf,
    /// `root` made canonical at the first request through a symlink (it
    /// may not exist before), so such a request resolves only its own path.
    canonical_root: OnceLock<PathBuf>,
}

impl FileServer {
    /// Serves `root` (Go's `http.FileServer(http.Dir(root))`).
    pub fn new(root: impl Into<PathBuf>) -> FileServer {
        FileServer {
            root: root.into(),
            canonical_root: OnceLock::new(),
        }
    }
}

/// Go's `path.Clean` for a URL path: absolute, no `.`/`..`/empty segments,
/// no trailing slash (but `/`). `..` at the root stays at the root.
pub(crate) fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Go's `localRedirect`: 301 to `to`, the request's query kept.
pub(crate) fn redirect(w: &mut ResponseWriter<'_>, r: &Request<'_>, to: &str) {
    let mut loc = utf8_percent_encode(to, PATH).to_string();
    if !r.query.is_empty() {
        loc.push('?');
        loc.push_str(&r.query);
    }
    w.headers_mut().set("Location", loc);
    w.write_header(301);
}

fn base(path: &str) -> &str {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

impl Handler for FileServer {
    fn serve(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        if r.method != "GET" && r.method != "HEAD" {
            w.headers_mut().set("Allow", "GET, HEAD");
            error(w, "405 method not allowed", 405);
            return;
        }
        if !r.path.starts_with('/') {
            r.path.insert(0, '/');
        }
        if r.path.contains('\0') || r.path.contains('\\') {
            error(w, "400 Bad Request: invalid URL path", 400);
            return;
        }
        if r.path.ends_with("/index.html") {
            redirect(w, r, "./");
            return;
        }
        let name = clean(&r.path);
        self.serve_file(w, r, &name);
    }
}

impl FileServer {
    /// The file for a cleaned URL path, if it stays inside the root.
    ///
    /// The cleaned path has no `..`, so without symlinks it cannot leave
    /// the root: each component is checked with one `lstat`, and only a
    /// path that goes through a symlink is made canonical and compared
    /// with the root's canonical form.
    fn resolve(&self, name: &str) -> io::Result<PathBuf> {
        let rel = name.trim_start_matches('/');
        let mut path = self.root.clone();
        for comp in rel.split('/').filter(|c| !c.is_empty()) {
            path.push(comp);
            if fs::symlink_metadata(&path)?.file_type().is_symlink() {
                return self.resolve_links(rel);
            }
        }
        Ok(path)
    }

    /// `resolve` for a path through a symlink.
    fn resolve_links(&self, rel: &str) -> io::Result<PathBuf> {
        let real = fs::canonicalize(self.root.join(rel))?;
        let root = match self.canonical_root.get() {
            Some(r) => r,
            None => {
                let r = fs::canonicalize(&self.root)?;
                self.canonical_root.get_or_init(|| r)
            }
        };
        if real.starts_with(root) {
            Ok(real)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                "symlink leaves the root",
            ))
        }
    }

    fn serve_file(&self, w: &mut ResponseWriter<'_>, r: &Request<'_>, name: &str) {
        let open = |p: &Path| -> io::Result<(File, Metadata)> {
            let f = File::open(p)?;
            let m = f.metadata()?;
            Ok((f, m))
        };
        let (mut file, mut meta, mut path) = match self.resolve(name).and_then(|p| {
            let (f, m) = open(&p)?;
            Ok((f, m, p))
        }) {
            Ok(x) => x,
            Err(e) => return open_error(w, &e),
        };
        let url = r.path.as_str();
        if meta.is_dir() {
            if !url.ends_with('/') {
                return redirect(w, r, &format!("{}/", base(url)));
            }
            let index = path.join("index.html");
            if let Ok((f, m)) = open(&index) {
                if !m.is_dir() {
                    file = f;
                    meta = m;
                    path = index;
                }
            }
        } else if url.ends_with('/') {
            return redirect(w, r, &format!("../{}", base(url)));
        }
        if meta.is_dir() {
            if not_modified_since(w, r, &meta) {
                return;
            }
            return dir_list(w, &path);
        }
        serve_content(w, r, &path, &mut file, &meta);
    }
}

fn open_error(w: &mut ResponseWriter<'_>, e: &io::Error) {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => not_found(w),
        io::ErrorKind::PermissionDenied => error(w, "403 Forbidden", 403),
        _ => {
            log::warn!(target: "netpark::http", "file server: {e}");
            error(w, "500 Internal Server Error", 500);
        }
    }
}

fn mtime_secs(meta: &Metadata) -> Option<u64> {
    meta.modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
        .filter(|&s| s > 0)
}

fn header_time(r: &Request<'_>, name: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(r.headers.get(name)?).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// `If-Modified-Since` on its own (for directories, Go's
/// `checkIfModifiedSince`); true when it answered 304.
fn not_modified_since(w: &mut ResponseWriter<'_>, r: &Request<'_>, meta: &Metadata) -> bool {
    if let (Some(m), Some(ims)) = (mtime_secs(meta), header_time(r, "If-Modified-Since")) {
        if m <= ims {
            w.write_header(304);
            return true;
        }
    }
    false
}

/// Whether an `If-Match` / `If-None-Match` list names `etag` (`*` names
/// any); weak comparison when `weak`.
fn etag_listed(list: &str, etag: &str, weak: bool) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag || (weak && t.strip_prefix("W/").is_some_and(|t| t == etag)))
}

/// Go's `serveContent` for a regular file.
fn serve_content(
    w: &mut ResponseWriter<'_>,
    r: &Request<'_>,
    path: &Path,
    file: &mut File,
    meta: &Metadata,
) {
    let size = meta.len();
    let mtime = mtime_secs(meta);
    let etag = format!("\"{:x}-{:x}\"", mtime.unwrap_or(0), size);
    {
        let h = w.headers_mut();
        if let Some(m) = mtime {
            h.set(
                "Last-Modified",
                httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(m)),
            );
        }
        h.set("ETag", etag.clone());
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let ct = if mime.type_() == mime_guess::mime::TEXT {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        };
        h.set("Content-Type", ct);
        h.set("Accept-Ranges", "bytes");
    }

    // Preconditions, in Go's order (checkPreconditions).
    if let Some(im) = r.headers.get("If-Match") {
        if !etag_listed(im, &etag, false) {
            return precondition_failed(w);
        }
    } else if let (Some(m), Some(t)) = (mtime, header_time(r, "If-Unmodified-Since")) {
        if m > t {
            return precondition_failed(w);
        }
    }
    if let Some(inm) = r.headers.get("If-None-Match") {
        if etag_listed(inm, &etag, true) {
            return not_modified(w);
        }
    } else if let (Some(m), Some(t)) = (mtime, header_time(r, "If-Modified-Since")) {
        if m <= t {
            return not_modified(w);
        }
    }

    let mut range = r.headers.get("Range").map(str::to_string);
    if let Some(ir) = r.headers.get("If-Range") {
        let fresh = if ir.starts_with('"') || ir.starts_with("W/") {
            ir == etag
        } else {
            header_time(r, "If-Range").is_some_and(|t| Some(t) == mtime)
        };
        if !fresh {
            range = None;
        }
    }
    let (status, start, len) = match range.as_deref().map(|s| parse_range(s, size)) {
        None => (200, 0, size),
        Some(Err(RangeError::Unsatisfiable)) => {
            w.headers_mut()
                .set("Content-Range", format!("bytes */{size}"));
            error(w, "416 Requested Range Not Satisfiable", 416);
            return;
        }
        Some(Err(RangeError::Malformed)) => {
            w.headers_mut()
                .set("Content-Range", format!("bytes */{size}"));
            error(w, "416 Requested Range Not Satisfiable: invalid range", 416);
            return;
        }
        Some(Ok(ranges)) if ranges.len() == 1 => {
            let (s, l) = ranges[0];
            w.headers_mut()
                .set("Content-Range", format!("bytes {s}-{}/{size}", s + l - 1));
            (206, s, l)
        }
        // More bytes than the file: the whole file (Go's sumRangesSize check).
        Some(Ok(ranges)) if ranges.iter().map(|r| r.1).sum::<u64>() > size => (200, 0, size),
        Some(Ok(ranges)) => {
            if let Err(e) = serve_ranges(w, file, &ranges, size) {
                log::debug!(target: "netpark::http", "sending {}: {e}", path.display());
            }
            return;
        }
    };
    if start > 0 {
        if let Err(e) = file.seek(SeekFrom::Start(start)) {
            return open_error(w, &e);
        }
    }
    w.write_header(status);
    if let Err(e) = w.send_file(file, len) {
        log::debug!(target: "netpark::http", "sending {}: {e}", path.display());
    }
}

/// Several ranges as one `multipart/byteranges` body (Go's `ServeContent`
/// with a `multipart.Writer`): each part is its boundary line, its
/// `Content-Range` and `Content-Type`, a blank line and the bytes, sent by
/// `sendfile`; the length of the whole is known beforehand, so it goes out
/// with a `Content-Length` (Go's `rangesMIMESize`).
fn serve_ranges(
    w: &mut ResponseWriter<'_>,
    file: &mut File,
    ranges: &[(u64, u64)],
    size: u64,
) -> io::Result<()> {
    let boundary = boundary();
    let ctype = w
        .headers_mut()
        .get("Content-Type")
        .unwrap_or("application/octet-stream")
        .to_string();
    let heads: Vec<String> = ranges
        .iter()
        .enumerate()
        .map(|(i, &(start, len))| {
            format!(
                "{}--{boundary}\r\nContent-Range: bytes {start}-{}/{size}\r\nContent-Type: {ctype}\r\n\r\n",
                if i == 0 { "" } else { "\r\n" },
                start + len - 1
            )
        })
        .collect();
    let end = format!("\r\n--{boundary}--\r\n");
    let total = heads.iter().map(|h| h.len() as u64).sum::<u64>()
        + ranges.iter().map(|r| r.1).sum::<u64>()
        + end.len() as u64;
    let h = w.headers_mut();
    h.set(
        "Content-Type",
        format!("multipart/byteranges; boundary={boundary}"),
    );
    h.set("Content-Length", total.to_string());
    w.write_header(206);
    for (head, &(start, len)) in heads.iter().zip(ranges) {
        w.write_all(head.as_bytes())?;
        file.seek(SeekFrom::Start(start))?;
        w.copy_file(file, len)?;
    }
    w.write_all(end.as_bytes())
}

/// A multipart boundary no file is likely to contain (Go's
/// `randomBoundary`: 30 random bytes in hex): two words from std's
/// randomly keyed hasher, so no dependency is needed for it.
fn boundary() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let keys = RandomState::new();
    let a = keys.hash_one(NEXT.fetch_add(1, Ordering::Relaxed));
    let b = keys.hash_one(a);
    format!("{a:016x}{b:016x}")
}

fn not_modified(w: &mut ResponseWriter<'_>) {
    let h = w.headers_mut();
    h.remove("Content-Type");
    h.remove("Content-Length");
    h.remove("Accept-Ranges");
    w.write_header(304);
}

fn precondition_failed(w: &mut ResponseWriter<'_>) {
    w.headers_mut().remove("ETag");
    error(w, "412 Precondition Failed", 412);
}

#[derive(Debug, PartialEq, Eq)]
enum RangeError {
    /// Not `bytes=` ranges.
    Malformed,
    /// No range overlaps the file.
    Unsatisfiable,
}

/// Go's `parseRange`: `(start, length)` of each satisfiable range.
fn parse_range(s: &str, size: u64) -> Result<Vec<(u64, u64)>, RangeError> {
    let specs = s.strip_prefix("bytes=").ok_or(RangeError::Malformed)?;
    let mut out = Vec::new();
    let mut any_overlap = false;
    for spec in specs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (a, b) = spec.split_once('-').ok_or(RangeError::Malformed)?;
        let (a, b) = (a.trim(), b.trim());
        let num = |t: &str| -> Result<u64, RangeError> {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(RangeError::Malformed);
            }
            t.parse().map_err(|_| RangeError::Malformed)
        };
        let (start, end) = if a.is_empty() {
            // A suffix: the last n bytes.
            let n = num(b)?.min(size);
            if n == 0 {
                continue;
            }
            (size - n, size - 1)
        } else {
            let start = num(a)?;
            if start >= size {
                continue; // no overlap
            }
            let end = if b.is_empty() {
                size - 1
            } else {
                num(b)?.min(size - 1)
            };
            if end < start {
                return Err(RangeError::Malformed);
            }
            (start, end)
        };
        any_overlap = true;
        out.push((start, end - start + 1));
    }
    if !any_overlap {
        return Err(RangeError::Unsatisfiable);
    }
    Ok(out)
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Go's `dirList`: the entries, sorted, as links.
fn dir_list(w: &mut ResponseWriter<'_>, dir: &Path) {
    let entries = match fs::read_dir(dir) {
        Ok(d) => d,
        Err(e) => return open_error(w, &e),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let mut n = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                n.push('/');
            }
            n
        })
        .collect();
    names.sort();
    let mut page = String::from(
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
    );
    for n in &names {
        let href = utf8_percent_encode(n, PATH).to_string();
        page.push_str(&format!(
            "<a href=\"{}\">{}</a>\n",
            html_escape(&href),
            html_escape(n)
        ));
    }
    page.push_str("</pre>\n");
    w.headers_mut()
        .set("Content-Type", "text/html; charset=utf-8");
    if let Some(m) = fs::metadata(dir).ok().and_then(|m| m.modified().ok()) {
        if m > UNIX_EPOCH && m <= SystemTime::now() {
            w.headers_mut()
                .set("Last-Modified", httpdate::fmt_http_date(m));
        }
    }
    let _ = w.write_all(page.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_never_leaves_the_root() {
        assert_eq!(clean("/a/../../etc/passwd"), "/etc/passwd");
        assert_eq!(clean("/../.."), "/");
        assert_eq!(clean("/a/./b//c/"), "/a/b/c");
        assert_eq!(clean(""), "/");
    }

    #[test]
    fn ranges_follow_go() {
        assert_eq!(parse_range("bytes=0-4", 10), Ok(vec![(0, 5)]));
        assert_eq!(parse_range("bytes=5-", 10), Ok(vec![(5, 5)]));
        assert_eq!(parse_range("bytes=-3", 10), Ok(vec![(7, 3)]));
        assert_eq!(parse_range("bytes=-30", 10), Ok(vec![(0, 10)]));
        assert_eq!(parse_range("bytes=8-100", 10), Ok(vec![(8, 2)]));
        assert_eq!(parse_range("bytes=10-", 10), Err(RangeError::Unsatisfiable));
        assert_eq!(parse_range("bytes=0-1,3-4", 10), Ok(vec![(0, 2), (3, 2)]));
        assert_eq!(parse_range("bytes=4-2", 10), Err(RangeError::Malformed));
        assert_eq!(parse_range("items=0-1", 10), Err(RangeError::Malformed));
        assert_eq!(parse_range("bytes=0-0", 0), Err(RangeError::Unsatisfiable));
    }

    #[test]
    fn listings_escape_names() {
        assert_eq!(html_escape("<a&b>"), "&lt;a&amp;b&gt;");
        assert_eq!(
            utf8_percent_encode("a b?#.txt", PATH).to_string(),
            "a%20b%3F%23.txt"
        );
    }
}
