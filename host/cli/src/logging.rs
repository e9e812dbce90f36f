//! Logging for `berth`, from `[log]` (see `berth_config`) or `RUST_LOG`.
//!
//! - `pretty` (the default): one line per event,
//!   `[INFO] 2024-01-15 10:30:45 | 192.168.1.50 | GET /api/data | 200 | 1.2ms` for the
//!   access log (seed 002's `LoggingMiddleware` line), `[INFO] <time> [<plugin>] <message>`
//!   for plugin log lines, `[INFO] <time> <message> <fields>` for the rest. Times are UTC.
//! - `json`: one JSON object per line, every field flattened (`ip`, `method`, `uri`,
//!   `status`, `ms` on access lines; `plugin` on plugin lines).
//!
//! Every line stays one line: in `pretty`, each field's text goes through berth-core's
//! escaping ([`berth_core::access::Escaped`]: control characters become `\r`, `\n`,
//! `\xNN`…), so a peer's `%0D%0A` or a plugin's message can never start a forged line
//! or drive the terminal; in `json`, serde's string encoding does the same.
//! - `none`: nothing (seed 002's `NoOpLogger`).
//!
//! With `file`, lines go to that file instead of stdout, through a background writer
//! thread, and the file is rotated by size (seed 002's `FileLogger(path, max_size)`).
//! Levels: `level` and `modules` (per target: `access`, `plugin`, `berth_server`…), or
//! `RUST_LOG` when it is set, which replaces both.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_config::TraceConfig;
use berth_config::{LogConfig, LogFormat};
use berth_core::access::Escaped;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Keeps the background file writer and the span exporter alive; dropping it flushes
/// what is queued.
pub struct Guard {
    _writer: Option<WorkerGuard>,
    _trace: Option<crate::trace::TraceGuard>,
}

/// Logging for commands that have no config (`build`, `new`, `inspect`): pretty, `info`,
/// or `RUST_LOG`.
pub fn init_default() {
    let _ = init(&LogConfig::default(), None);
}

/// Sets up logging as `[log]` says, and span export as `[trace]` says. Fails on an
/// invalid level, an unwritable file or a collector URL the exporter refuses.
pub fn init(config: &LogConfig, trace: Option<&TraceConfig>) -> anyhow::Result<Guard> {
    let mut layers: Vec<BoxedLayer> = Vec::new();
    let trace_guard = match trace {
        Some(t) => {
            let (layer, guard) = crate::trace::layer(t)?;
            layers.push(layer);
            Some(guard)
        }
        None => None,
    };
    let (log_layer, writer) = log_layer(config)?;
    layers.extend(log_layer);
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    Ok(Guard {
        _writer: writer,
        _trace: trace_guard,
    })
}

/// A boxed layer over the registry.
type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The log-line layer of `[log]` (`None` for `format = "none"`) and its file writer's
/// guard. It never sees the spans meant for export (`berth::otel`): their fields would
/// otherwise prefix lines (`json` lists spans), and with no exporter they stay disabled.
fn log_layer(config: &LogConfig) -> anyhow::Result<(Option<BoxedLayer>, Option<WorkerGuard>)> {
    if config.format == LogFormat::None {
        return Ok((None, None));
    }
    let filter = match EnvFilter::try_from_default_env() {
        Ok(from_env) => from_env,
        Err(_) => EnvFilter::try_new(config.directives())
            .with_context(|| format!("invalid [log] level {:?}", config.directives()))?,
    };
    let filter = filter.add_directive(format!("{}=off", crate::trace::TARGET).parse()?);
    let (writer, guard) = match &config.file {
        Some(path) => {
            let file = SizeRotatingFile::open(path, config.max_size, config.backups)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            let (w, g) = tracing_appender::non_blocking(file);
            (
                tracing_subscriber::fmt::writer::BoxMakeWriter::new(w),
                Some(g),
            )
        }
        None => (
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(io::stdout),
            None,
        ),
    };
    let builder = tracing_subscriber::fmt::layer().with_writer(writer);
    let layer: BoxedLayer = match config.format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_filter(filter),
        ),
        _ => Box::new(builder.event_format(SeedFormat).with_filter(filter)),
    };
    Ok((Some(layer), guard))
}

/// The `pretty` line format.
struct SeedFormat;

/// The message and the other fields of an event, as text.
#[derive(Default)]
struct Fields {
    message: String,
    plugin: Option<String>,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "plugin" => self.plugin = Some(value.to_string()),
            // Kept out of `pretty` lines, which keep seed 002's shapes; `json` has it.
            "request_id" => {}
            name => self.rest.push_str(&format!(" {name}={value}")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "plugin" => self.plugin = Some(format!("{value:?}").trim_matches('"').to_string()),
            name => self.rest.push_str(&format!(" {name}={value:?}")),
        }
    }
}

impl<S, N> FormatEvent<S, N> for SeedFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        write!(writer, "[{}] {}", meta.level(), utc_now())?;
        let message = Escaped(&fields.message);
        match meta.target() {
            // The message already holds ip | METHOD path | status | ms.
            "access" => writeln!(writer, " | {message}"),
            _ => {
                if let Some(plugin) = &fields.plugin {
                    write!(writer, " [{}]", Escaped(plugin))?;
                }
                writeln!(writer, " {message}{}", Escaped(&fields.rest))
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS`, UTC.
fn utc_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A log file rotated by size: when a line would take it past `max_size`, `path` becomes
/// `path.1` (`path.1` becomes `path.2`, … up to `backups`; the oldest is deleted) and a
/// fresh `path` is started. Written by hand because `tracing-appender` only rotates by
/// time, and seed 002's `FileLogger` rotates by size.
pub struct SizeRotatingFile {
    path: PathBuf,
    max_size: u64,
    backups: u32,
    file: File,
    size: u64,
}

impl SizeRotatingFile {
    /// Opens (appending to) `path`.
    pub fn open(path: &Path, max_size: u64, backups: u32) -> io::Result<SizeRotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(SizeRotatingFile {
            path: path.to_path_buf(),
            max_size,
            backups,
            file,
            size,
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.backups == 0 {
            self.file = File::create(&self.path)?;
        } else {
            let _ = std::fs::remove_file(self.numbered(self.backups));
            for n in (1..self.backups).rev() {
                let _ = std::fs::rename(self.numbered(n), self.numbered(n + 1));
            }
            std::fs::rename(&self.path, self.numbered(1))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

impl Write for SizeRotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_keeping_backups() {
        let dir = std::env::temp_dir().join(format!("berth-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("logs").join("server.log");
        let mut f = SizeRotatingFile::open(&path, 100, 2).expect("open");
        for i in 0..12 {
            f.write_all(format!("line {i:02} {}\n", "x".repeat(30)).as_bytes())
                .expect("write");
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        // 40-byte lines, 100-byte files: two lines per file, newest in `path`.
        assert!(
            read(path.clone()).starts_with("line 10"),
            "{}",
            read(path.clone())
        );
        assert!(read(f.numbered(1)).starts_with("line 08"));
        assert!(read(f.numbered(2)).starts_with("line 06"));
        assert!(!f.numbered(3).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
