//! Request-target parsing: percent-decoding of the path and the query pairs.

use alloc::borrow::Cow;
use alloc::string::String;

use crate::model::Pairs;

/// A request target split into what plugins see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The percent-decoded path (invalid UTF-8 becomes U+FFFD).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The query split into percent-decoded pairs (`+` is a space, as in forms).
    pub query_pairs: Pairs,
}

/// Splits and decodes an origin-form request target such as `/search?q=a%20b&page=2`.
pub fn parse_target(target: &str) -> Target {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    Target {
        path: decode(path).into_owned(),
        query: query.into(),
        query_pairs: parse_query(query),
    }
}

/// Percent-decodes one path (or path segment).
pub fn decode(raw: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
}

/// Parses `application/x-www-form-urlencoded` pairs, as browsers write query strings.
pub fn parse_query(query: &str) -> Pairs {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The path's segments, skipping empty ones: `//a/b/` has the segments `a` and `b`.
pub fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn splits_and_decodes() {
        let t = parse_target("/a%20b/c?q=hello+world&x=%26&empty=&flag");
        assert_eq!(t.path, "/a b/c");
        assert_eq!(t.query, "q=hello+world&x=%26&empty=&flag");
        assert_eq!(
            t.query_pairs,
            vec![
                ("q".into(), "hello world".into()),
                ("x".into(), "&".into()),
                ("empty".into(), "".into()),
                ("flag".into(), "".into())
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        assert_eq!(parse_target("/%ff").path, "/\u{fffd}");
    }

    #[test]
    fn segments_skip_empties() {
        assert_eq!(
            segments("//a/b/").collect::<alloc::vec::Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(segments("/").count(), 0);
    }
}
