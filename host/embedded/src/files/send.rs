//! Writing the file a `Body::File` response names, with berth-core's validators and
//! ranges, straight from the bytes held in memory.

use alloc::string::String;
use alloc::vec::Vec;

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
/// returned it, by name; `None` for a mount). Returns whether the connection stays open.
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
) -> bool {
    let located = match owner {
        None => statics.locate_url(path),
        Some(plugin) => statics.locate_for_plugin(plugin, path),
    };
    let found = match located {
        Located::File(found) => found,
        Located::AddSlash(location) => {
            let mut r = Response::error(301, error_message(301));
            r.headers.push(("location".into(), location));
            return crate::io::send(conn, r, is_head, keep_alive).await;
        }
        Located::Refused(status) => {
            let r = Response::error(status, error_message(status));
            return crate::io::send(conn, r, is_head, keep_alive).await;
        }
    };
    let file = found.file;
    let len = file.bytes.len() as u64;
    let mut headers = response.headers;
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
        range: req.range.as_deref(),
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
            return crate::io::send(conn, r, is_head, keep_alive).await;
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
        set_default(&mut headers, "content-type", file.content_type.clone());
        set_default(&mut headers, "accept-ranges", String::from("bytes"));
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
        return false;
    }
    if !is_head && !body.is_empty() && conn.write_all(body).await.is_err() {
        return false;
    }
    keep_alive
}
