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
    crate::bindings::berth::plugin::host::log(level, message);
}

/// Logs at `info` level, with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)*)) };
}

/// Logs at `warn` level, with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)*)) };
}

/// Logs at `error` level, with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)*)) };
}

/// Logs at `debug` level, with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)*)) };
}

/// Logs at `trace` level, with `format!` arguments.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Trace, &::std::format!($($arg)*)) };
}
