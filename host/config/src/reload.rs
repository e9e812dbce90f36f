//! `[reload]`: hot swap of plugins while the server runs.
//!
//! ```toml
//! [reload]
//! watch = true    # watch the plugins folder and berth.toml, swap what changes
//! settle = 0.2    # seconds a changed file must be left alone before it is loaded
//! ```
//!
//! What a rescan applies: the plugin files, `[plugins] load`, `[plugin.<name>]` tables,
//! `[grants]` and `[[static]]`. Everything else (ports, limits, the engine, `[log]`,
//! `[reload]` itself) is read at start-up only.

use std::time::Duration;

use serde::Deserialize;

/// `[reload]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReloadSection {
    watch: Option<bool>,
    settle: Option<f64>,
}

/// `[reload]`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadConfig {
    /// Watch the plugins folder and the config file, and hot-swap what changes
    /// (SIGHUP rescans either way).
    pub watch: bool,
    /// How long a file must be quiet before it is loaded, and before a failure to load
    /// it counts (a file still being written is retried, not refused).
    pub settle: Duration,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        ReloadConfig {
            watch: true,
            settle: Duration::from_millis(200),
        }
    }
}

impl ReloadSection {
    /// The section with defaults filled in; a negative or non-finite `settle` is an error.
    pub(crate) fn resolve(self) -> Result<ReloadConfig, String> {
        let mut config = ReloadConfig::default();
        if let Some(watch) = self.watch {
            config.watch = watch;
        }
        if let Some(settle) = self.settle {
            if !settle.is_finite() || !(0.0..=60.0).contains(&settle) {
                return Err(format!(
                    "[reload] settle = {settle}: expected 0 to 60 seconds"
                ));
            }
            config.settle = Duration::from_secs_f64(settle);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn reload_defaults_keys_and_bad_values() {
        let config = Config::parse("", Path::new(".")).expect("empty");
        assert!(config.reload.watch);
        assert_eq!(config.reload.settle, Duration::from_millis(200));
        let config = Config::parse("[reload]\nwatch = false\nsettle = 0.05\n", Path::new("."))
            .expect("valid");
        assert!(!config.reload.watch);
        assert_eq!(config.reload.settle, Duration::from_millis(50));
        for bad in [
            "settle = -1.0",
            "settle = 61.0",
            "settle = nan",
            "watched = true",
        ] {
            let err = Config::parse(&format!("[reload]\n{bad}\n"), Path::new(".")).expect_err(bad);
            assert!(
                err.contains("settle") || err.contains("watched"),
                "{bad}: {err}"
            );
        }
    }
}
