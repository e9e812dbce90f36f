//! The router: a trie over path segments where `<name>` segments capture a parameter.
//!
//! Matching rules, in order:
//! - a static segment wins over a parameter at the same depth; if the static branch
//!   leads nowhere, the parameter branch is tried (backtracking);
//! - among the paths that match, the first (by the rule above) that has a route for the
//!   request's method wins; `HEAD` falls back to `GET`;
//! - a path that matches only routes of other methods is `405` with their `Allow` list;
//!   otherwise `404`.
//!
//! Matching allocates only the captured parameters: an unknown path costs the same
//! whatever it is, so path scans cannot grow the server's memory.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::model::{Method, Pairs};
use crate::uri::segments;

/// A set of routes to values of type `T` (in Berth: which plugin and handler).
#[derive(Debug, Clone)]
pub struct Router<T> {
    root: Node<T>,
}

#[derive(Debug, Clone)]
struct Node<T> {
    statics: BTreeMap<String, Node<T>>,
    param: Option<Box<Node<T>>>,
    endpoints: Vec<Endpoint<T>>,
}

#[derive(Debug, Clone)]
struct Endpoint<T> {
    method: Method,
    // Names live on the endpoint, not the trie node, so `/u/<id>` and `/u/<name>/x`
    // can coexist with their own names.
    param_names: Vec<String>,
    pattern: String,
    target: T,
}

/// The outcome of [`Router::find`].
#[derive(Debug, PartialEq, Eq)]
pub enum Match<'r, T> {
    /// A route: its target and the captured parameters, in pattern order.
    Found {
        /// The route's value.
        target: &'r T,
        /// Captured `<param>` values.
        params: Pairs,
        /// The route's pattern, as registered (for logs).
        pattern: &'r str,
    },
    /// The path exists but not for this method; `allow` lists the methods it has.
    MethodNotAllowed {
        /// Methods the path answers, sorted, `HEAD` included where `GET` is.
        allow: Vec<Method>,
    },
    /// No route has this path.
    NotFound,
}

/// Why a route could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The same method and path shape is already routed.
    Conflict {
        /// The method both routes claim.
        method: Method,
        /// The pattern registered first.
        existing: String,
    },
    /// The pattern is malformed (must start with `/`; `<name>` must be a whole segment
    /// with a non-empty name of letters, digits and `_`; names must not repeat).
    InvalidPattern(String),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Conflict { method, existing } => {
                write!(f, "{} {existing} is already routed", method.as_str())
            }
            RouteError::InvalidPattern(why) => write!(f, "invalid route pattern: {why}"),
        }
    }
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            statics: BTreeMap::new(),
            param: None,
            endpoints: Vec::new(),
        }
    }
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router {
            root: Node::default(),
        }
    }
}

/// A parsed pattern segment.
enum Segment<'p> {
    Static(&'p str),
    Param(&'p str),
}

fn parse_pattern(pattern: &str) -> Result<Vec<Segment<'_>>, RouteError> {
    if !pattern.starts_with('/') {
        return Err(RouteError::InvalidPattern(format_pattern(
            pattern,
            "must start with '/'",
        )));
    }
    let mut out = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for seg in segments(pattern) {
        if let Some(name) = seg.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(RouteError::InvalidPattern(format_pattern(
                    pattern,
                    "bad parameter name",
                )));
            }
            if names.contains(&name) {
                return Err(RouteError::InvalidPattern(format_pattern(
                    pattern,
                    "repeated parameter",
                )));
            }
            names.push(name);
            out.push(Segment::Param(name));
        } else if seg.contains(['<', '>']) {
            return Err(RouteError::InvalidPattern(format_pattern(
                pattern,
                "a parameter must be a whole segment",
            )));
        } else {
            out.push(Segment::Static(seg));
        }
    }
    Ok(out)
}

fn format_pattern(pattern: &str, why: &str) -> String {
    let mut s = String::from(pattern);
    s.push_str(": ");
    s.push_str(why);
    s
}

impl<T> Router<T> {
    /// An empty router.
    pub fn new() -> Self {
        Router::default()
    }

    /// Routes `method` on `pattern` (e.g. `/users/<id>`) to `target`.
    pub fn insert(&mut self, method: Method, pattern: &str, target: T) -> Result<(), RouteError> {
        let mut node = &mut self.root;
        let mut param_names = Vec::new();
        for seg in parse_pattern(pattern)? {
            node = match seg {
                Segment::Static(s) => node.statics.entry(s.to_string()).or_default(),
                Segment::Param(name) => {
                    param_names.push(name.to_string());
                    node.param.get_or_insert_with(Box::default)
                }
            };
        }
        if let Some(existing) = node.endpoints.iter().find(|e| e.method == method) {
            return Err(RouteError::Conflict {
                method,
                existing: existing.pattern.clone(),
            });
        }
        node.endpoints.push(Endpoint {
            method,
            param_names,
            pattern: pattern.to_string(),
            target,
        });
        Ok(())
    }

    /// Finds the route for `method` on the (decoded) `path`.
    pub fn find(&self, method: Method, path: &str) -> Match<'_, T> {
        let segs: Vec<&str> = segments(path).collect();
        let mut values: Vec<&str> = Vec::new();
        let mut first_seen: Option<&Node<T>> = None;
        let found = find_in(&self.root, &segs, method, &mut values, &mut first_seen);
        match found {
            Some(e) => Match::Found {
                target: &e.target,
                params: e
                    .param_names
                    .iter()
                    .zip(values.iter())
                    .map(|(n, v)| (n.clone(), (*v).to_string()))
                    .collect(),
                pattern: &e.pattern,
            },
            None => match first_seen {
                Some(node) => Match::MethodNotAllowed {
                    allow: allowed(node),
                },
                None => Match::NotFound,
            },
        }
    }

    /// Every route: `(method, pattern, target)`, in trie order.
    pub fn routes(&self) -> Vec<(Method, &str, &T)> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out
    }
}

fn collect<'r, T>(node: &'r Node<T>, out: &mut Vec<(Method, &'r str, &'r T)>) {
    out.extend(
        node.endpoints
            .iter()
            .map(|e| (e.method, e.pattern.as_str(), &e.target)),
    );
    for child in node.statics.values() {
        collect(child, out);
    }
    if let Some(p) = &node.param {
        collect(p, out);
    }
}

/// Depth-first, static before param. Records the first node that matched the whole path
/// (with any method) for the 405 answer. `values` holds the captured segments.
fn find_in<'r, 's, T>(
    node: &'r Node<T>,
    segs: &[&'s str],
    method: Method,
    values: &mut Vec<&'s str>,
    first_seen: &mut Option<&'r Node<T>>,
) -> Option<&'r Endpoint<T>> {
    let Some((head, rest)) = segs.split_first() else {
        if node.endpoints.is_empty() {
            return None;
        }
        first_seen.get_or_insert(node);
        return endpoint_for(node, method);
    };
    if let Some(child) = node.statics.get(*head) {
        if let Some(e) = find_in(child, rest, method, values, first_seen) {
            return Some(e);
        }
    }
    if let Some(child) = &node.param {
        values.push(head);
        if let Some(e) = find_in(child, rest, method, values, first_seen) {
            return Some(e);
        }
        values.pop();
    }
    None
}

fn endpoint_for<T>(node: &Node<T>, method: Method) -> Option<&Endpoint<T>> {
    let exact = node.endpoints.iter().find(|e| e.method == method);
    match (exact, method) {
        (None, Method::Head) => node.endpoints.iter().find(|e| e.method == Method::Get),
        (found, _) => found,
    }
}

fn allowed<T>(node: &Node<T>) -> Vec<Method> {
    let mut allow: Vec<Method> = node.endpoints.iter().map(|e| e.method).collect();
    if allow.contains(&Method::Get) && !allow.contains(&Method::Head) {
        allow.push(Method::Head);
    }
    allow.sort();
    allow
}

#[cfg(feature = "std")]
impl std::error::Error for RouteError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn router() -> Router<&'static str> {
        let mut r = Router::new();
        r.insert(Method::Get, "/", "root").unwrap();
        r.insert(Method::Get, "/users/<id>", "user").unwrap();
        r.insert(Method::Put, "/users/<id>", "put-user").unwrap();
        r.insert(Method::Get, "/users/me", "me").unwrap();
        r.insert(
            Method::Get,
            "/posts/<post_id>/comments/<comment_id>",
            "comment",
        )
        .unwrap();
        r.insert(Method::Get, "/files/<name>/raw", "raw").unwrap();
        r.insert(Method::Get, "/files/special/info", "info")
            .unwrap();
        r
    }

    fn found(m: Match<'_, &'static str>) -> (&'static str, Pairs) {
        match m {
            Match::Found { target, params, .. } => (*target, params),
            other => panic!("expected a route, got {other:?}"),
        }
    }

    #[test]
    fn root_and_params() {
        let r = router();
        assert_eq!(found(r.find(Method::Get, "/")).0, "root");
        let (t, p) = found(r.find(Method::Get, "/posts/7/comments/42"));
        assert_eq!(t, "comment");
        assert_eq!(
            p,
            vec![
                ("post_id".into(), "7".into()),
                ("comment_id".into(), "42".into())
            ]
        );
    }

    #[test]
    fn static_beats_param() {
        let r = router();
        assert_eq!(found(r.find(Method::Get, "/users/me")).0, "me");
        assert_eq!(
            found(r.find(Method::Get, "/users/42")).1,
            vec![("id".into(), "42".into())]
        );
    }

    #[test]
    fn backtracks_from_dead_static_branch() {
        let r = router();
        // `special` matches the static child, which has no `raw`: fall back to `<name>`.
        let (t, p) = found(r.find(Method::Get, "/files/special/raw"));
        assert_eq!((t, p), ("raw", vec![("name".into(), "special".into())]));
    }

    #[test]
    fn method_falls_through_to_param_route_then_405() {
        let r = router();
        // `/users/me` has only GET, but `/users/<id>` answers PUT.
        assert_eq!(found(r.find(Method::Put, "/users/me")).0, "put-user");
        assert_eq!(
            r.find(Method::Delete, "/users/me"),
            Match::MethodNotAllowed {
                allow: vec![Method::Get, Method::Head]
            }
        );
    }

    #[test]
    fn head_uses_get_and_404() {
        let r = router();
        assert_eq!(found(r.find(Method::Head, "/users/1")).0, "user");
        assert_eq!(r.find(Method::Get, "/nope"), Match::NotFound);
        assert_eq!(r.find(Method::Get, "/users"), Match::NotFound);
        assert_eq!(r.find(Method::Get, "/users/1/extra"), Match::NotFound);
    }

    #[test]
    fn conflicts_and_bad_patterns() {
        let mut r = router();
        assert_eq!(
            r.insert(Method::Get, "/users/<other>", "x"),
            Err(RouteError::Conflict {
                method: Method::Get,
                existing: "/users/<id>".into()
            })
        );
        assert!(r.insert(Method::Get, "users", "x").is_err());
        assert!(r.insert(Method::Get, "/a/<>", "x").is_err());
        assert!(r.insert(Method::Get, "/a/x<id>", "x").is_err());
        assert!(r.insert(Method::Get, "/a/<id>/<id>", "x").is_err());
    }

    #[test]
    fn lists_routes() {
        assert_eq!(router().routes().len(), 7);
    }
}
