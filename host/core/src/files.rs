//! Static files: which file a URL or a plugin path names, and how a request for it is
//! answered — the rules both runtimes share, whatever holds the bytes (a disk on the
//! server, the flash store on a device).
//!
//! - [`strip_prefix`], [`safe_segments`] and [`is_hidden`] decide what a path may name.
//!   A segment that is empty (`//etc/passwd`), `.` or `..` (also when it arrived
//!   percent-encoded: paths are decoded before they get here), or holds a backslash or
//!   NUL is refused with 403; a mount answers 404 for a dotfile (`.env`, `.git/config`).
//! - [`plan`] answers the validators and ranges of one request for a file of known
//!   length and `ETag`: `304` for a matching `If-None-Match` (or a fresh
//!   `If-Modified-Since`), `206` for one satisfiable byte range, `416` for a malformed
//!   or unsatisfiable one, else the whole file.
//!
//! Range parsing is written here rather than taken from `http-range-header`: that crate
//! needs `std`, and this rule must run on the microcontroller too. It is strict in the
//! same way (RFC 9110 §14.1.2).

use alloc::string::String;
use alloc::vec::Vec;

/// `path` below `prefix` (`/static/a` under `/static` is `/a`), or `None` when `path` is
/// not under it. The prefix `/` holds every path.
pub fn strip_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// A mount's URL prefix as it is matched: starting with `/`, without a trailing `/`
/// (`/static/` is `/static`; `/` stays `/`). `Err` names what is wrong.
pub fn mount_prefix(prefix: &str) -> Result<String, String> {
    if !prefix.starts_with('/') {
        return Err(alloc::format!("static prefix {prefix:?} must start with /"));
    }
    let trimmed = prefix.trim_end_matches('/');
    Ok(String::from(if trimmed.is_empty() { "/" } else { trimmed }))
}

/// The segments of a relative path, or `None` when one of them could step outside its
/// root: empty (a doubled `/`), `.`, `..`, or holding a backslash or NUL (answer 403).
/// One leading and one trailing `/` are allowed.
pub fn safe_segments(rest: &str) -> Option<Vec<&str>> {
    let inner = rest.strip_prefix('/').unwrap_or(rest);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if inner.is_empty() {
        return Some(Vec::new());
    }
    let segments: Vec<&str> = inner.split('/').collect();
    let bad = |s: &&str| s.is_empty() || *s == "." || *s == ".." || s.contains(['\\', '\0']);
    (!segments.iter().any(bad)).then_some(segments)
}

/// Whether a path names a dotfile or something inside a dot-folder (`.env`,
/// `.git/config`). **Mounts never serve those**: a folder published whole often holds a
/// `.git`, `.env` or `.htpasswd` nobody meant to publish. The answer is 404, not 403, so
/// it does not say whether the file exists. (A plugin's `Response::file` names its file
/// itself and is not filtered.)
pub fn is_hidden(segments: &[&str]) -> bool {
    segments.iter().any(|s| s.starts_with('.'))
}

/// The request headers that decide how a file is answered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditionals<'a> {
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since` said the copy the client holds is current (the caller
    /// compares HTTP dates, which need a calendar; a device without one passes `false`).
    pub not_modified_since: bool,
    /// `Range`.
    pub range: Option<&'a str>,
    /// `If-Range`.
    pub if_range: Option<&'a str>,
}

/// How to answer a request for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// 304: the client's copy is current. No body, no `Content-Type`.
    NotModified,
    /// The whole file, with the plugin's status.
    Whole,
    /// 206: bytes `from..=to`, with `Content-Range: bytes from-to/len`.
    Part {
        /// First byte.
        from: u64,
        /// Last byte (inclusive).
        to: u64,
    },
    /// 416, with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Decides how to answer a request for a file of `len` bytes whose validators are
/// `etag` and `last_modified` (the `Last-Modified` value sent, if any). Validators and
/// ranges apply only to a `200` response and never to `HEAD`'s range.
pub fn plan(
    status: u16,
    head: bool,
    req: &Conditionals<'_>,
    etag: &str,
    last_modified: Option<&str>,
    len: u64,
) -> Plan {
    if status != 200 {
        return Plan::Whole;
    }
    let not_modified = match req.if_none_match {
        Some(inm) => etag_matches(inm, etag),
        None => req.not_modified_since,
    };
    if not_modified {
        return Plan::NotModified;
    }
    if head {
        return Plan::Whole;
    }
    let Some(value) = req.range.map(str::trim) else {
        return Plan::Whole;
    };
    if !value.starts_with("bytes=") {
        // Another unit: the range is ignored.
        return Plan::Whole;
    }
    if let Some(if_range) = req.if_range.map(str::trim) {
        if if_range != etag && Some(if_range) != last_modified {
            // The client's partial copy is stale: send it all.
            return Plan::Whole;
        }
    }
    match byte_range(value, len) {
        Some(RangeSpec::One(from, to)) => Plan::Part { from, to },
        Some(RangeSpec::Several) => Plan::Whole,
        None => Plan::Unsatisfiable,
    }
}

/// `If-None-Match` against `etag`: weak comparison, `*` matches anything.
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// What a `bytes=` range asks of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    /// One satisfiable range, clamped to the file.
    One(u64, u64),
    /// Several valid ranges: answered whole, as RFC 9110 allows.
    Several,
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n` (and comma-separated lists of them)
/// against a file of `len` bytes. `None`: malformed, or no range is satisfiable.
fn byte_range(value: &str, len: u64) -> Option<RangeSpec> {
    let list = value.strip_prefix("bytes=")?;
    let mut first = None;
    let mut count = 0usize;
    for spec in list.split(',') {
        let spec = spec.trim_matches([' ', '\t']);
        let (start, end) = spec.split_once('-')?;
        let range = match (number(start), number(end)) {
            // `-n`: the last n bytes.
            (None, Some(n)) if start.is_empty() => {
                if n == 0 || len == 0 {
                    None
                } else {
                    Some((len.saturating_sub(n), len - 1))
                }
            }
            // `a-`: from a to the end.
            (Some(a), None) if end.is_empty() => (a < len).then(|| (a, len - 1)),
            (Some(a), Some(b)) if a <= b => (a < len).then(|| (a, b.min(len - 1))),
            _ => return None,
        };
        // A syntactically valid but unsatisfiable member is skipped; the set is
        // unsatisfiable only when every member is.
        if let Some(r) = range {
            first.get_or_insert(r);
            count += 1;
        }
    }
    match (first, count) {
        (Some((a, b)), 1) => Some(RangeSpec::One(a, b)),
        (Some(_), _) => Some(RangeSpec::Several),
        (None, _) => None,
    }
}

/// A run of ASCII digits (no sign, no blanks), or `None` (also for an empty string).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A strong `ETag` from a file's contents: its CRC-32 and length. Used where files do
/// not change while served (the device's flash store, files read once at start).
pub fn content_etag(crc32: u32, len: u64) -> String {
    alloc::format!("\"{crc32:08x}-{len:x}\"")
}

/// The `Content-Type` for a file name, from its extension; text types are UTF-8.
#[cfg(feature = "std")]
pub fn content_type(path: &std::path::Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if mime.type_() == mime_guess::mime::TEXT && mime.get_param("charset").is_none() {
        alloc::format!("{mime}; charset=utf-8")
    } else {
        alloc::string::ToString::to_string(&mime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn segments() {
        assert_eq!(safe_segments("/a/b.txt"), Some(vec!["a", "b.txt"]));
        assert_eq!(safe_segments("/"), Some(vec![]));
        assert_eq!(safe_segments("/sub/"), Some(vec!["sub"]));
        assert_eq!(safe_segments("a/b"), Some(vec!["a", "b"]));
        assert_eq!(safe_segments("/.env"), Some(vec![".env"]));
        assert!(is_hidden(&["a", ".git", "config"]));
        assert!(!is_hidden(&["a", "b.txt"]));
        for bad in [
            "/../x",
            "/a/../../x",
            "/./x",
            "//etc/passwd",
            "/a\\..\\b",
            "/a\0",
        ] {
            assert_eq!(safe_segments(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefixes() {
        assert_eq!(mount_prefix("/static/").as_deref(), Ok("/static"));
        assert_eq!(mount_prefix("///").as_deref(), Ok("/"));
        assert!(mount_prefix("static").is_err());
        assert_eq!(strip_prefix("/static/a", "/static"), Some("/a"));
        assert_eq!(strip_prefix("/static", "/static"), Some(""));
        assert_eq!(strip_prefix("/staticx", "/static"), None);
        assert_eq!(strip_prefix("/x", "/"), Some("/x"));
    }

    fn ranged(range: &str, len: u64) -> Plan {
        let req = Conditionals {
            range: Some(range),
            ..Conditionals::default()
        };
        plan(200, false, &req, "\"e\"", None, len)
    }

    #[test]
    fn ranges() {
        assert_eq!(ranged("bytes=0-9", 100), Plan::Part { from: 0, to: 9 });
        assert_eq!(ranged("bytes=90-", 100), Plan::Part { from: 90, to: 99 });
        assert_eq!(ranged("bytes=-10", 100), Plan::Part { from: 90, to: 99 });
        assert_eq!(ranged("bytes=-500", 100), Plan::Part { from: 0, to: 99 });
        assert_eq!(ranged("bytes=50-500", 100), Plan::Part { from: 50, to: 99 });
        assert_eq!(ranged("bytes=0-1, 5-6", 100), Plan::Whole);
        assert_eq!(
            ranged("bytes=0-1, 500-600", 100),
            Plan::Part { from: 0, to: 1 }
        );
        assert_eq!(ranged("items=0-1", 100), Plan::Whole);
        for bad in [
            "bytes=100-",
            "bytes=5-1",
            "bytes=-0",
            "bytes=x-1",
            "bytes=1",
            "bytes=+1-2",
            "bytes=",
            "bytes=1-2-3",
        ] {
            assert_eq!(ranged(bad, 100), Plan::Unsatisfiable, "{bad:?}");
        }
        assert_eq!(ranged("bytes=0-0", 0), Plan::Unsatisfiable);
    }

    #[test]
    fn validators() {
        let etag = "\"abc\"";
        let inm = |v| Conditionals {
            if_none_match: Some(v),
            ..Conditionals::default()
        };
        assert_eq!(
            plan(200, false, &inm(etag), etag, None, 5),
            Plan::NotModified
        );
        assert_eq!(
            plan(200, false, &inm("W/\"abc\", \"x\""), etag, None, 5),
            Plan::NotModified
        );
        assert_eq!(
            plan(200, false, &inm("*"), etag, None, 5),
            Plan::NotModified
        );
        assert_eq!(plan(200, false, &inm("\"x\""), etag, None, 5), Plan::Whole);
        // Only a 200 is conditional.
        assert_eq!(plan(404, false, &inm(etag), etag, None, 5), Plan::Whole);
        // If-None-Match wins over If-Modified-Since.
        let both = Conditionals {
            if_none_match: Some("\"x\""),
            not_modified_since: true,
            ..Conditionals::default()
        };
        assert_eq!(plan(200, false, &both, etag, None, 5), Plan::Whole);
        // A stale If-Range sends everything.
        let stale = Conditionals {
            range: Some("bytes=0-1"),
            if_range: Some("\"old\""),
            ..Conditionals::default()
        };
        assert_eq!(plan(200, false, &stale, etag, None, 5), Plan::Whole);
        // HEAD ignores the range.
        let r = Conditionals {
            range: Some("bytes=0-1"),
            ..Conditionals::default()
        };
        assert_eq!(plan(200, true, &r, etag, None, 5), Plan::Whole);
    }
}
