//! `[server.compression]`: gzip and brotli responses, negotiated by `Accept-Encoding`.
//!
//! ```toml
//! [server.compression]
//! enabled = true                # false: nothing compressed, no precompressed sibling served
//! algorithms = ["br", "gzip"]   # offered, in order of preference
//! min_size = 1024               # bytes: shorter bodies go out as they are
//! max_size = 8388608            # bytes: longer bodies are not compressed on the fly
//! gzip_level = 6                # 1 (fastest) to 9 (smallest)
//! brotli_quality = 4            # 0 (fastest) to 11 (smallest)
//! brotli_window = 18            # log2 of brotli's window, 10 to 24: its memory per response
//! ```
//!
//! The rules (which types, which statuses, what `Vary` and `ETag` become) are
//! berth-core's [`compression`](berth_core::compression). The server runtime compresses
//! plugin bodies, streams and files on the fly and serves precompressed siblings
//! (`app.js.br`, `app.js.gz`); the embedded runtime only serves the siblings, so the
//! levels and the window mean nothing there.

use berth_core::compression::{Coding, Policy};
use serde::Deserialize;

/// `[server.compression]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompressionSection {
    enabled: Option<bool>,
    algorithms: Option<Vec<String>>,
    min_size: Option<u64>,
    max_size: Option<u64>,
    gzip_level: Option<u32>,
    brotli_quality: Option<u32>,
    brotli_window: Option<u32>,
}

/// `[server.compression]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressionConfig {
    /// What is compressed, and with what (the rules' input).
    pub policy: Policy,
    /// flate2's level for gzip, 1–9. 6 is zlib's default: most of the gain of 9 at a
    /// fraction of its CPU.
    pub gzip_level: u32,
    /// Brotli's quality, 0–11. 4 compresses better than gzip 6 and about as fast; 11 is
    /// for precompressing, far too slow per request.
    pub brotli_quality: u32,
    /// Brotli's window, log2 bytes (10–24). It bounds the encoder's memory per response
    /// (18: a 256 KiB ring buffer) — what one client can make the host hold.
    pub brotli_window: u32,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        CompressionConfig {
            policy: Policy::default(),
            gzip_level: 6,
            brotli_quality: 4,
            brotli_window: 18,
        }
    }
}

impl CompressionSection {
    /// The section with defaults filled in; unknown algorithms and out-of-range levels
    /// are errors.
    pub(crate) fn resolve(self) -> Result<CompressionConfig, String> {
        let mut config = CompressionConfig::default();
        if let Some(enabled) = self.enabled {
            config.policy.enabled = enabled;
        }
        if let Some(names) = self.algorithms {
            let mut codings = Vec::new();
            for name in &names {
                let coding = Coding::parse(name).ok_or_else(|| {
                    format!("[server.compression] algorithms: unknown {name:?} (expected \"br\" or \"gzip\")")
                })?;
                if !codings.contains(&coding) {
                    codings.push(coding);
                }
            }
            if codings.is_empty() {
                return Err("[server.compression] algorithms is empty: name \"br\", \"gzip\" or both, or set enabled = false".into());
            }
            config.policy.codings = codings;
        }
        if let Some(n) = self.min_size {
            config.policy.min_size = n;
        }
        if let Some(n) = self.max_size {
            config.policy.max_size = n;
        }
        let range = |key: &str, value: Option<u32>, lo: u32, hi: u32, default: u32| match value {
            None => Ok(default),
            Some(v) if (lo..=hi).contains(&v) => Ok(v),
            Some(v) => Err(format!(
                "[server.compression] {key} = {v}: expected {lo} to {hi}"
            )),
        };
        config.gzip_level = range("gzip_level", self.gzip_level, 1, 9, config.gzip_level)?;
        config.brotli_quality = range(
            "brotli_quality",
            self.brotli_quality,
            0,
            11,
            config.brotli_quality,
        )?;
        config.brotli_window = range(
            "brotli_window",
            self.brotli_window,
            10,
            24,
            config.brotli_window,
        )?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use berth_core::compression::Coding;
    use std::path::Path;

    #[test]
    fn defaults_and_values() {
        let c = Config::parse("", Path::new("."))
            .expect("empty")
            .compression;
        assert!(c.policy.enabled);
        assert_eq!(c.policy.codings, vec![Coding::Br, Coding::Gzip]);
        assert_eq!(c.policy.min_size, 1024);
        let text = "[server.compression]\nenabled = false\nalgorithms = [\"gzip\"]\nmin_size = 10\nmax_size = 100\ngzip_level = 9\nbrotli_quality = 11\nbrotli_window = 24\n";
        let c = Config::parse(text, Path::new("."))
            .expect("valid")
            .compression;
        assert!(!c.policy.enabled);
        assert_eq!(c.policy.codings, vec![Coding::Gzip]);
        assert_eq!((c.policy.min_size, c.policy.max_size), (10, 100));
        assert_eq!(
            (c.gzip_level, c.brotli_quality, c.brotli_window),
            (9, 11, 24)
        );
        for bad in [
            "algorithms = []",
            "algorithms = [\"zstd\"]",
            "gzip_level = 0",
            "gzip_level = 10",
            "brotli_quality = 12",
            "brotli_window = 9",
            "brotli_window = 25",
            "level = 3",
        ] {
            let text = format!("[server.compression]\n{bad}\n");
            assert!(Config::parse(&text, Path::new(".")).is_err(), "{bad}");
        }
    }
}
