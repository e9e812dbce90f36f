//! The HTTP client the black-box suites share: reqwest, blocking, redirects shown to the
//! test rather than followed (a 301 is something to assert), and the small readers of
//! its responses.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::Value;

/// A client that does not follow redirects and gives up after 30 s.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The body as JSON; a body that is not JSON fails the test, showing it.
pub fn json_of(r: Response) -> Value {
    let text = r.text().expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// A response header's value.
pub fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_string())
}
