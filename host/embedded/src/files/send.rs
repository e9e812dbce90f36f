//! Writing the file a `Body::File` response names, with berth-core's validators and
//! ranges, straight from the bytes held in memory — or its precompressed sibling, when
//! berth-core's compression rules pick one.

use alloc::string::String;
use alloc::vec::Vec;

use berth_core::compression::{self, Candidate, Decision};
use berth_core::files::{self, Conditionals, Plan};
use berth_core::model::{Pairs, Response};

use super::{Located, StaticFiles};
use crate::http::write::{self, error_message, Framing};
use crate::net::Connection;

/// The request headers a file response depends on, copied before the request moves
/// into the pipeline.
#[derive(Debug, Default, Clone)]
pub(crate) struct FileRequest {
    if_none_match: Option<String>,
    range: Option<String>,
    if_range: Option<String>,
    accept_encoding: Option<String>,
}

impl FileRequest {
    /// Copies them from the request head (names are lower-case there).
    pub(crate) fn of(headers: &Pairs) -> FileRequest {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        FileRequest {
            if_none_match: get("if-none-match"),
            range: get("range"),
            if_range: get("if-range"),
            accept_encoding: {
                let values: Vec<&str> = headers
                    .iter()
                    .filter(|(n, _)| n == "accept-encoding")
                    .map(|(_, v)| v.as_str())
                    .collect();
                (!values.is_empty()).then(|| values.join(","))
            },
        }
    }
}

/// Sets `name: value` unless the plugin set that header already.
fn set_default(headers: &mut Pairs, name: &str, value: String) {
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
        headers.push((name.into(), value));
    }
}

/// Writes the file a `Body::File(path)` response names (`owner`: the plugin that
/// returned it, by name; `None` for a mount). Returns whether the connection stays open,
/// and the status sent (for the access line).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send<C: Connection>(
    statics: &StaticFiles,
    conn: &mut C,
    response: Response,
    path: &str,
    owner: Option<&str>,
    req: &FileRequest,
    is_head: bool,
    keep_alive: bool,
) -> (bool, u16) {
    let located = match owner {
        None => statics.locate_url(path),
        Some(plugin) => statics.locate_for_plugin(plugin, path),
    };
    let found = match located {
        Located::File(found) => found,
        Located::AddSlash(location) => {
            let mut r = Response::error(301, error_message(301));
            r.headers.push(("location".into(), location));
            return (crate::io::send(conn, r, is_head, keep_alive).await, 301);
        }
        Located::Refused(status) => {
            let r = Response::error(status, error_message(status));
            return (crate::io::send(conn, r, is_head, keep_alive).await, status);
        }
    };
    let mut headers = response.headers;
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let plugin_type = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    let content_type = plugin_type.unwrap_or_else(|| found.file.content_type.clone());
    let candidate = Candidate {
        status: response.status,
        content_type: Some(&content_type),
        encoded: has("content-encoding"),
        no_transform: headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("cache-control")
                && v.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-transform"))
        }),
        len: Some(found.file.bytes.len() as u64),
        ranged: req.range.is_some(),
    };
    let decision = compression::decide(
        statics.compression(),
        &candidate,
        &found.precompressed(),
        false,
        req.accept_encoding.as_deref(),
    );
    let sibling = decision.coding().and_then(|c| Some((c, found.sibling(c)?)));
    // The sibling is a file of its own: its `ETag` is its contents'.
    let file = sibling.map_or(found.file, |(_, s)| s);
    let len = file.bytes.len() as u64;
    if decision != Decision::AsIs {
        compression::vary_pairs(&mut headers);
    }
    set_default(&mut headers, "etag", file.etag.clone());
    if let Some(age) = found.max_age {
        set_default(
            &mut headers,
            "cache-control",
            alloc::format!("max-age={age}"),
        );
    }
    let conditionals = Conditionals {
        if_none_match: req.if_none_match.as_deref(),
        not_modified_since: false,
        // A sibling is only ever sent whole (a range request gets the original).
        range: req.range.as_deref().filter(|_| sibling.is_none()),
        if_range: req.if_range.as_deref(),
    };
    let plan = files::plan(
        response.status,
        is_head,
        &conditionals,
        &file.etag,
        None,
        len,
    );
    let (status, body): (u16, &[u8]) = match plan {
        Plan::NotModified => {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            (304, &[])
        }
        Plan::Unsatisfiable => {
            let mut r = Response::error(416, "Range Not Satisfiable");
            r.headers
                .push(("content-range".into(), alloc::format!("bytes */{len}")));
            return (crate::io::send(conn, r, is_head, keep_alive).await, 416);
        }
        Plan::Whole => (response.status, &file.bytes[..]),
        Plan::Part { from, to } => {
            headers.push((
                "content-range".into(),
                alloc::format!("bytes {from}-{to}/{len}"),
            ));
            // `from <= to < len`: `plan` clamps the range to the file.
            let part = file.bytes.get(from as usize..=to as usize).unwrap_or(&[]);
            (206, part)
        }
    };
    if plan != Plan::NotModified {
        set_default(&mut headers, "content-type", content_type);
        set_default(&mut headers, "accept-ranges", String::from("bytes"));
        if let Some((coding, _)) = sibling {
            headers.push(("content-encoding".into(), coding.token().into()));
        }
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = Vec::with_capacity(256);
    let framing = if status == 304 {
        Framing::Length(0)
    } else {
        Framing::Length(body.len())
    };
    // The plugin's headers were checked by `finalise`; the host's own are valid.
    write::head(
        &mut out,
        status,
        &headers,
        framing,
        &[("connection", connection)],
    );
    if conn.write_all(&out).await.is_err() {
        return (false, status);
    }
    if !is_head && !body.is_empty() && conn.write_all(body).await.is_err() {
        return (false, status);
    }
    (keep_alive, status)
}
