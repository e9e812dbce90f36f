//! Logging through the host: `info!`, `warn!`, `error!`, `debug!`, `trace!`.
//!
//! ```no_run
//! use berth_sdk::prelude::*;
//! info!("GET {}", "/hello");
//! warn!("slow request: {} ms", 1200);
//! ```

pub use crate::bindings::berth::plugin::host::Level;

/// Writes one log line attributed to this plugin.
pub fn write(level: Level, message: &str) {
    crate::host::log(level, message);
}

/// Whether the host records lines at `level` from this plugin. The macros ask first, so
/// a line the host would drop is never formatted.
pub fn enabled(level: Level) -> bool {
    crate::host::log_enabled(level)
}

/// Formats and writes a line when the host records `level` (what the macros expand to).
#[doc(hidden)]
pub fn write_fmt(level: Level, args: core::fmt::Arguments<'_>) {
    if enabled(level) {
        write(level, &std::fmt::format(args));
    }
}

/// Logs at `info` level, with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write_fmt($crate::log::Level::Info, ::std::format_args!($($arg)*)) };
}

/// Logs at `warn` level, with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write_fmt($crate::log::Level::Warn, ::std::format_args!($($arg)*)) };
}

/// Logs at `error` level, with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write_fmt($crate::log::Level::Error, ::std::format_args!($($arg)*)) };
}

/// Logs at `debug` level, with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::write_fmt($crate::log::Level::Debug, ::std::format_args!($($arg)*)) };
}

/// Logs at `trace` level, with `format!` arguments.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log::write_fmt($crate::log::Level::Trace, ::std::format_args!($($arg)*)) };
}
