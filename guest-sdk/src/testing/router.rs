//! Route matching for the in-memory host: the same outcomes as the host's router for
//! the routes one plugin declares (static segments before `<param>`s, `HEAD` by the
//! `GET` route, 405 with `Allow`), written small because only one plugin's routes are
//! ever in it.

use crate::bindings::berth::plugin::types::{HandlerId, Route};
use crate::Method;

/// Captured `<param>` values, by name.
type Params = Vec<(String, String)>;

/// What a request's method and path matched.
pub(crate) enum Routed {
    Found {
        handler: HandlerId,
        params: Vec<(String, String)>,
    },
    MethodNotAllowed {
        allow: Vec<Method>,
    },
    NotFound,
}

/// `pattern`'s parameters for `path`, and its specificity (static segments count
/// first, from the left), when it matches.
fn matches(pattern: &str, path: &str) -> Option<(Vec<bool>, Params)> {
    let pat: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if pat.len() != segs.len() {
        return None;
    }
    let mut params = Vec::new();
    let mut rank = Vec::new();
    for (p, s) in pat.iter().zip(&segs) {
        match p.strip_prefix('<').and_then(|p| p.strip_suffix('>')) {
            Some(name) if !s.is_empty() => {
                params.push((name.to_string(), s.to_string()));
                rank.push(false);
            }
            Some(_) => return None,
            None if p == s => rank.push(true),
            None => return None,
        }
    }
    Some((rank, params))
}

/// A pattern's shape: its parameters unnamed (`/users/<id>` and `/users/<user_id>` are
/// one path to the router, whatever their names).
fn shape(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|seg| {
            if seg.starts_with('<') && seg.ends_with('>') {
                "<>"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Finds the route for `method` on `path`.
pub(crate) fn find(routes: &[Route], method: Method, path: &str) -> Routed {
    // The best-ranked pattern that matches the path, then its methods.
    let mut best: Option<(Vec<bool>, &str)> = None;
    for r in routes {
        if let Some((rank, _)) = matches(&r.path, path) {
            if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                best = Some((rank, r.path.as_str()));
            }
        }
    }
    let Some((_, pattern)) = best else {
        return Routed::NotFound;
    };
    let wanted = shape(pattern);
    let on_path: Vec<&Route> = routes.iter().filter(|r| shape(&r.path) == wanted).collect();
    // Each route's own parameter names apply to its own handler.
    let handler_for = |m: Method| {
        on_path
            .iter()
            .find(|r| r.methods.contains(&m))
            .and_then(|r| Some((r.handler, matches(&r.path, path)?.1)))
    };
    let handler = handler_for(method).or_else(|| match method {
        Method::Head => handler_for(Method::Get),
        _ => None,
    });
    match handler {
        Some((handler, params)) => Routed::Found { handler, params },
        None => {
            let mut allow: Vec<Method> = Vec::new();
            for r in &on_path {
                for m in &r.methods {
                    if !allow.contains(m) {
                        allow.push(*m);
                    }
                }
            }
            if allow.contains(&Method::Get) && !allow.contains(&Method::Head) {
                allow.push(Method::Head);
            }
            Routed::MethodNotAllowed { allow }
        }
    }
}
