//! The static files of a config for the embedded runtime: `[[static]]` mounts,
//! `[grants.<plugin>] dirs`, and `berth device pack --static PREFIX=DIR`. Both
//! `device pack` (into the store image) and `serve --runtime embedded` (into memory)
//! use this, so the device serves exactly what the desktop run showed. The folders are
//! read by [`berth_embedded::desktop::static_config`].

use std::path::PathBuf;

use anyhow::Context;
use berth_embedded::StaticConfig;
use berth_server::Config;

/// The most bytes of static files one config may bring: the embedded runtime holds
/// them in memory (and a device in its flash partition).
pub const MAX_STATIC_BYTES: u64 = 64 << 20;

/// A `--static PREFIX=DIR` mount (DIR relative to the current folder).
#[derive(Debug, Clone)]
pub struct ExtraMount {
    /// The URL prefix.
    pub prefix: String,
    /// The folder.
    pub dir: PathBuf,
}

/// `max-age` of a `--static` mount, as for a `[[static]]` without one.
const DEFAULT_MAX_AGE: u32 = 3600;

/// Parses `PREFIX=DIR`.
pub fn parse_mount(arg: &str) -> Result<ExtraMount, String> {
    let (prefix, dir) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?}: expected PREFIX=DIR, e.g. /static=www"))?;
    let prefix = berth_core::files::mount_prefix(prefix)?;
    if dir.is_empty() {
        return Err(format!("{arg:?}: the folder is empty"));
    }
    Ok(ExtraMount {
        prefix,
        dir: PathBuf::from(dir),
    })
}

/// Reads the folders, mounts and grants the embedded runtime serves.
pub fn static_config(config: &Config, extra: &[ExtraMount]) -> anyhow::Result<StaticConfig> {
    let mut mounts: Vec<(String, PathBuf, u32)> = config
        .statics
        .mounts
        .iter()
        .map(|m| (m.prefix.clone(), m.dir.clone(), m.max_age))
        .collect();
    mounts.extend(
        extra
            .iter()
            .map(|m| (m.prefix.clone(), m.dir.clone(), DEFAULT_MAX_AGE)),
    );
    let grants: Vec<(String, Vec<PathBuf>)> = config
        .statics
        .grants
        .iter()
        .map(|(plugin, dirs)| (plugin.clone(), dirs.clone()))
        .collect();
    berth_embedded::desktop::static_config(&config.statics.base, &mounts, &grants, MAX_STATIC_BYTES)
        .context("static files")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn mounts() {
        let m = parse_mount("/static/=www").unwrap();
        assert_eq!(
            (m.prefix.as_str(), m.dir.as_path()),
            ("/static", Path::new("www"))
        );
        assert!(parse_mount("static=www").is_err());
        assert!(parse_mount("/static").is_err());
        assert!(parse_mount("/static=").is_err());
    }
}
