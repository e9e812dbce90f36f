//! `berth device pack --static PREFIX=DIR`: a folder mounted beside the config's
//! `[[static]]` ones. The folders themselves are read by
//! [`berth_embedded::desktop::static_files`], for `device pack` and
//! `serve --runtime embedded` alike.

use std::path::PathBuf;

use berth_config::{StaticMountConfig, DEFAULT_MAX_AGE};

/// Parses `PREFIX=DIR` (DIR relative to the current folder; `max-age` as a
/// `[[static]]` mount without one).
pub fn parse_mount(arg: &str) -> Result<StaticMountConfig, String> {
    let (prefix, dir) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?}: expected PREFIX=DIR, e.g. /static=www"))?;
    let prefix = berth_core::files::mount_prefix(prefix)?;
    if dir.is_empty() {
        return Err(format!("{arg:?}: the folder is empty"));
    }
    Ok(StaticMountConfig {
        prefix,
        dir: PathBuf::from(dir),
        max_age: DEFAULT_MAX_AGE,
    })
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
