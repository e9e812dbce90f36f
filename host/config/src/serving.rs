//! The config sections for what the host serves beyond plugin responses: `[sse]`,
//! `[[static]]`, `[grants.<plugin>]` and `[log]`. See the crate docs for the file as a whole; paths here resolve against the config file's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::device::{GpioGrant, MAX_PIN};
use serde::Deserialize;

/// `[sse]`: Server-Sent Events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseConfig {
    /// How often an idle subscriber gets a comment line, so proxies keep it open.
    pub heartbeat: Duration,
    /// Events kept per topic for `Last-Event-ID` replay.
    pub replay: usize,
    /// Events queued for one subscriber; a subscriber that falls this far behind is
    /// dropped rather than buffered for.
    pub queue: usize,
}

impl SseConfig {
    /// The settings of berth-core's SSE table: these, and the bounds of `[limits]`.
    pub fn settings(&self, limits: &berth_core::limits::Limits) -> berth_core::sse::SseSettings {
        berth_core::sse::SseSettings {
            heartbeat_ms: u64::try_from(self.heartbeat.as_millis()).unwrap_or(u64::MAX),
            replay: self.replay,
            replay_bytes: limits.sse_replay_bytes,
            queue: self.queue,
            queue_bytes: limits.ws_send_queue,
            max_topics: limits.sse_max_topics,
        }
    }
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig {
            heartbeat: Duration::from_secs(15),
            replay: 100,
            queue: 64,
        }
    }
}

/// One `[[static]]` mount: the host serves `dir` at `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMountConfig {
    /// URL prefix, e.g. `/static`.
    pub prefix: String,
    /// The folder, resolved.
    pub dir: PathBuf,
    /// `Cache-Control: max-age`, seconds.
    pub max_age: u32,
}

/// Static files: the host's own mounts and the folders each plugin is granted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaticConfig {
    /// `[[static]]` mounts, in file order.
    pub mounts: Vec<StaticMountConfig>,
    /// `[grants.<plugin>] dirs`: the folders each plugin may mount (`mount_static`) or
    /// send files from (`Response::file`), resolved.
    pub grants: BTreeMap<String, Vec<PathBuf>>,
    /// The folder that relative paths in plugin registrations resolve against: the
    /// config file's folder.
    pub base: PathBuf,
}

/// Where log lines go and how they look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines; access lines in seed 002's
    /// `[INFO] time | ip | METHOD path | status | ms` shape.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
    /// Nothing at all (seed 002's `NoOpLogger`).
    None,
}

/// `[log]`: read by the `berth` command when it sets up logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
    /// Write to this file instead of the console (resolved); rotated by size.
    pub file: Option<PathBuf>,
    /// Rotate the file when it would grow past this many bytes.
    pub max_size: u64,
    /// Rotated files kept (`server.log.1` … `server.log.<backups>`).
    pub backups: u32,
    /// The default level (`trace`, `debug`, `info`, `warn`, `error`, `off`).
    pub level: String,
    /// Levels per target, e.g. `access = "off"`, `plugin = "debug"`, `berth_server = "warn"`.
    pub modules: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Pretty,
            file: None,
            max_size: 10 << 20,
            backups: 3,
            level: "info".into(),
            modules: BTreeMap::new(),
        }
    }
}

impl LogConfig {
    /// The filter as `tracing-subscriber` directives: `info,access=off,plugin=debug`.
    pub fn directives(&self) -> String {
        let mut out = self.level.clone();
        for (target, level) in &self.modules {
            out.push_str(&format!(",{target}={level}"));
        }
        out
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SseSection {
    heartbeat: Option<f64>,
    replay: Option<usize>,
    queue: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StaticSection {
    prefix: String,
    dir: PathBuf,
    max_age: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantSection {
    #[serde(default)]
    dirs: Vec<PathBuf>,
    /// Wider than a pin number on purpose: `300` or `-1` get the same clear message as
    /// `64`, not a type error.
    #[serde(default)]
    gpio: Vec<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSection {
    format: Option<LogFormat>,
    file: Option<PathBuf>,
    max_size: Option<u64>,
    backups: Option<u32>,
    level: Option<String>,
    #[serde(default)]
    modules: BTreeMap<String, String>,
}

/// Seed 002's default `max_age` for `mount_static`, and a `[[static]]` mount's.
pub const DEFAULT_MAX_AGE: u32 = 3600;

impl SseSection {
    pub(crate) fn resolve(self) -> Result<SseConfig, String> {
        let mut c = SseConfig::default();
        if let Some(s) = self.heartbeat {
            if !(s.is_finite() && s > 0.0) {
                return Err(format!("[sse] heartbeat must be positive, not {s}"));
            }
            c.heartbeat = Duration::from_secs_f64(s);
        }
        if let Some(n) = self.replay {
            c.replay = n;
        }
        if let Some(n) = self.queue {
            c.queue = n.max(1);
        }
        Ok(c)
    }
}

/// Normalises a URL prefix: leading `/`, no trailing `/` (except the root itself).
fn normalise_prefix(prefix: &str) -> Result<String, String> {
    berth_core::files::mount_prefix(prefix)
}

pub(crate) fn resolve_static(
    mounts: Vec<StaticSection>,
    grants: BTreeMap<String, GrantSection>,
    base: &Path,
) -> Result<StaticConfig, String> {
    let mounts = mounts
        .into_iter()
        .map(|m| {
            Ok(StaticMountConfig {
                prefix: normalise_prefix(&m.prefix)?,
                dir: base.join(m.dir),
                max_age: m.max_age.unwrap_or(DEFAULT_MAX_AGE),
            })
        })
        .collect::<Result<_, String>>()?;
    let grants = grants
        .into_iter()
        .map(|(plugin, g)| (plugin, g.dirs.into_iter().map(|d| base.join(d)).collect()))
        .collect();
    Ok(StaticConfig {
        mounts,
        grants,
        base: base.to_path_buf(),
    })
}

/// `[grants.<plugin>] gpio`: the pins each plugin may drive and read. Plugins without
/// an entry get none.
pub(crate) fn resolve_gpio(
    grants: &BTreeMap<String, GrantSection>,
) -> Result<BTreeMap<String, GpioGrant>, String> {
    let mut out = BTreeMap::new();
    for (plugin, g) in grants {
        let pins = g
            .gpio
            .iter()
            .map(|&pin| {
                u8::try_from(pin)
                    .ok()
                    .filter(|&p| p <= MAX_PIN)
                    .ok_or_else(|| {
                        format!("[grants.{plugin}] gpio: pin {pin} is out of range (0-{MAX_PIN})")
                    })
            })
            .collect::<Result<Vec<u8>, String>>()?;
        let grant =
            GpioGrant::from_pins(&pins).map_err(|e| format!("[grants.{plugin}] gpio: {e}"))?;
        if !grant.is_empty() {
            out.insert(plugin.clone(), grant);
        }
    }
    Ok(out)
}

impl LogSection {
    pub(crate) fn resolve(self, base: &Path) -> LogConfig {
        let mut c = LogConfig::default();
        if let Some(f) = self.format {
            c.format = f;
        }
        c.file = self.file.map(|f| base.join(f));
        if let Some(n) = self.max_size {
            c.max_size = n.max(1);
        }
        if let Some(n) = self.backups {
            c.backups = n;
        }
        if let Some(l) = self.level {
            c.level = l;
        }
        c.modules = self.modules;
        c
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{Config, LogFormat};

    #[test]
    fn sections_resolve_against_the_config_folder() {
        let c = Config::parse(
            r#"
            [[static]]
            prefix = "/static/"
            dir = "www"
            [[static]]
            prefix = "/"
            dir = "/srv/site"
            max_age = 0
            [grants.micro-api]
            dirs = ["www", "data"]
            [sse]
            heartbeat = 0.5
            replay = 10
            queue = 2
            [log]
            format = "json"
            file = "logs/server.log"
            max_size = 1000
            backups = 1
            level = "warn"
            modules = { access = "info", plugin = "debug" }
            "#,
            Path::new("/etc/berth"),
        )
        .unwrap();
        let m = &c.statics.mounts;
        assert_eq!((m[0].prefix.as_str(), m[0].max_age), ("/static", 3600));
        assert_eq!(m[0].dir, Path::new("/etc/berth/www"));
        assert_eq!((m[1].prefix.as_str(), m[1].max_age), ("/", 0));
        assert_eq!(m[1].dir, Path::new("/srv/site"));
        assert_eq!(
            c.statics.grants["micro-api"],
            vec![Path::new("/etc/berth/www"), Path::new("/etc/berth/data")]
        );
        assert_eq!((c.sse.replay, c.sse.queue), (10, 2));
        assert_eq!(c.sse.heartbeat.as_millis(), 500);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(
            c.log.file.as_deref(),
            Some(Path::new("/etc/berth/logs/server.log"))
        );
        assert_eq!(c.log.directives(), "warn,access=info,plugin=debug");
    }

    #[test]
    fn gpio_grants_name_pins_and_plugins() {
        let c = Config::parse(
            "[grants.device]\ngpio = [2, 8, 63]\ndirs = [\"www\"]\n[grants.other]\ndirs = []\n",
            Path::new("."),
        )
        .unwrap();
        let pins: Vec<u8> = c.gpio_grant("device").pins().collect();
        assert_eq!(pins, [2, 8, 63]);
        assert!(c.gpio_grant("other").is_empty());
        assert!(c.gpio_grant("nobody").is_empty());
        let err = Config::parse("[grants.led]\ngpio = [2, 300]\n", Path::new(".")).unwrap_err();
        assert_eq!(err, "[grants.led] gpio: pin 300 is out of range (0-63)");
    }

    #[test]
    fn bad_sections_are_errors() {
        for bad in [
            "[[static]]\nprefix = \"static\"\ndir = \"www\"\n",
            "[[static]]\nprefix = \"/s\"\n",
            "[sse]\nheartbeat = 0\n",
            "[log]\nformat = \"xml\"\n",
            "[grants.x]\nfolders = []\n",
            "[grants.x]\ngpio = [64]\n",
            "[grants.x]\ngpio = [-1]\n",
            "[grants.x]\ngpio = [\"2\"]\n",
        ] {
            assert!(Config::parse(bad, Path::new(".")).is_err(), "{bad}");
        }
    }
}
