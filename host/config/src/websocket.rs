//! `[server.websocket]`: permessage-deflate (RFC 7692) on the server runtime's
//! WebSockets. The embedded runtime has no deflate and never negotiates it.
//!
//! ```toml
//! [server.websocket]
//! permessage_deflate = true     # negotiate compression with clients that offer it
//! deflate_window_bits = 15      # 9–15: the LZ77 window, memory per compressing connection
//! deflate_context_takeover = true # false: every message compressed on its own
//! ```

use berth_core::ws_deflate::{DeflatePolicy, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
use serde::Deserialize;

/// `[server.websocket]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebSocketSection {
    permessage_deflate: Option<bool>,
    deflate_window_bits: Option<u8>,
    deflate_context_takeover: Option<bool>,
}

/// `[server.websocket]`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketConfig {
    /// What the server accepts of a client's permessage-deflate offer; `None` when
    /// compression is off (the extension is then never in a `101`).
    pub deflate: Option<DeflatePolicy>,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            deflate: Some(DeflatePolicy::default()),
        }
    }
}

impl WebSocketSection {
    /// The section with defaults filled in; a window outside 9–15 is an error.
    pub(crate) fn resolve(self) -> Result<WebSocketConfig, String> {
        let mut policy = DeflatePolicy::default();
        if let Some(bits) = self.deflate_window_bits {
            if !(MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&bits) {
                return Err(format!(
                    "[server.websocket] deflate_window_bits = {bits}: expected \
                     {MIN_WINDOW_BITS} to {MAX_WINDOW_BITS}"
                ));
            }
            policy.window_bits = bits;
        }
        if let Some(takeover) = self.deflate_context_takeover {
            policy.context_takeover = takeover;
        }
        let on = self.permessage_deflate.unwrap_or(true);
        Ok(WebSocketConfig {
            deflate: on.then_some(policy),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use berth_core::ws_deflate::DeflatePolicy;
    use std::path::Path;

    #[test]
    fn deflate_is_on_by_default_and_can_be_turned_off_or_tuned() {
        let config = Config::parse("", Path::new(".")).expect("empty");
        assert_eq!(config.websocket.deflate, Some(DeflatePolicy::default()));
        let off = "[server.websocket]\npermessage_deflate = false\n";
        let config = Config::parse(off, Path::new(".")).expect("valid");
        assert_eq!(config.websocket.deflate, None);
        let tuned =
            "[server.websocket]\ndeflate_window_bits = 10\ndeflate_context_takeover = false\n";
        let config = Config::parse(tuned, Path::new(".")).expect("valid");
        assert_eq!(
            config.websocket.deflate,
            Some(DeflatePolicy {
                window_bits: 10,
                context_takeover: false
            })
        );
        for bad in [
            "deflate_window_bits = 8",
            "deflate_window_bits = 16",
            "level = 3",
        ] {
            let text = format!("[server.websocket]\n{bad}\n");
            assert!(Config::parse(&text, Path::new(".")).is_err(), "{bad}");
        }
    }
}
