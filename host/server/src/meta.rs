//! What the host reads of a request beside the pipeline: the headers a response that is
//! not in memory depends on (copied before the request moves into the pipeline), and
//! hyper's headers as berth-core's rules look them up.

use std::sync::Arc;

use berth_core::model::Request;
use berth_core::upgrade::HeaderLookup;
use hyper::header::HeaderMap;

/// The request headers that decide how a file or event stream is sent; copied before
/// the request moves into the pipeline.
#[derive(Debug, Default, Clone)]
pub struct RequestMeta {
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<String>,
    /// `Range`.
    pub range: Option<String>,
    /// `If-Range`.
    pub if_range: Option<String>,
    /// `Accept-Encoding`, every line of it joined with `,` (response compression).
    pub accept_encoding: Option<String>,
    /// `Last-Event-ID` (SSE resumption).
    pub last_event_id: Option<String>,
    /// Closes the request's connection at once (an SSE client that stopped reading).
    pub abort: Option<Arc<tokio::sync::Notify>>,
}

impl RequestMeta {
    /// Copies the headers that matter from `req` (names are lower-case there).
    pub fn of(req: &Request) -> RequestMeta {
        let get = |name: &str| req.header(name).map(str::to_string);
        RequestMeta {
            if_none_match: get("if-none-match"),
            if_modified_since: get("if-modified-since"),
            range: get("range"),
            if_range: get("if-range"),
            accept_encoding: joined(req, "accept-encoding"),
            last_event_id: get("last-event-id"),
            abort: None,
        }
    }
}

/// Every value of the header `name` (lower-case) joined with `,`, as one line would be.
fn joined(req: &Request, name: &str) -> Option<String> {
    let values: Vec<&str> = req
        .headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// hyper's header map as berth-core's rules read headers.
pub(crate) struct Headers<'a>(pub(crate) &'a HeaderMap);

impl HeaderLookup for Headers<'_> {
    fn each_value(&self, name: &str, each: &mut dyn FnMut(&[u8])) {
        for value in self.0.get_all(name) {
            each(value.as_bytes());
        }
    }
}
