//! Static folders read from disk into the embedded runtime's in-memory form
//! ([`crate::files::StaticConfig`]): what `berth serve --runtime embedded` serves and
//! what `berth device pack` writes into the store image, from the same `berth.toml`.

use std::io;

use crate::files::StaticFile;

/// Reads every file below `root` for [`crate::files`]: paths `/`-separated and relative
/// to `root`, content types from the extension (berth-core's rule, as the server's).
/// Dotfiles and dot-folders are left out (they would be refused anyway), and so are
/// symbolic links that lead outside `root` and names that are not UTF-8. Fails when the
/// files together are over `budget` bytes (which is lowered by what was read), since
/// the embedded runtime holds them in memory.
pub fn read_folder(root: &std::path::Path, budget: &mut u64) -> io::Result<Vec<StaticFile>> {
    let root = root.canonicalize()?;
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(real) = entry.path().canonicalize() else {
                continue; // a dangling link
            };
            // Out of the folder, or through a link to a dotfile: not published.
            let hidden = |below: &std::path::Path| {
                below
                    .components()
                    .any(|c| c.as_os_str().as_encoded_bytes().first() == Some(&b'.'))
            };
            if real.strip_prefix(&root).map_or(true, hidden) {
                continue;
            }
            if real.is_dir() {
                pending.push(entry.path());
                continue;
            }
            let Some(path) = entry
                .path()
                .strip_prefix(&root)
                .ok()
                .and_then(|p| p.to_str())
                .map(|p| p.replace('\\', "/"))
            else {
                continue;
            };
            let bytes = std::fs::read(&real)?;
            *budget = budget
                .checked_sub(bytes.len() as u64)
                .ok_or_else(|| io::Error::other("static files too large to hold in memory"))?;
            files.push(StaticFile {
                content_type: berth_core::files::content_type(&real),
                path,
                bytes,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The folders, mounts and grants of a desktop config, read from disk: each mount's
/// and grant's folder is read once ([`read_folder`]) and named by its path relative to
/// `base` (the config file's folder), which is how plugins name files; a folder outside
/// `base` is named by its whole path (plugins cannot name it). `budget` bounds the bytes
/// read in all.
pub(crate) fn static_config(
    base: &std::path::Path,
    mounts: &[(String, std::path::PathBuf, u32)],
    grants: &[(String, Vec<std::path::PathBuf>)],
    mut budget: u64,
) -> io::Result<crate::files::StaticConfig> {
    let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    let mut out = crate::files::StaticConfig::default();
    let mut folder = |dir: &std::path::Path, out: &mut crate::files::StaticConfig| {
        let fail = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
        let real = dir.canonicalize().map_err(fail)?;
        if !real.is_dir() {
            return Err(fail(io::Error::other("not a folder")));
        }
        let name = folder_name(&base, &real);
        if !out.folders.iter().any(|f| f.dir == name) {
            let files = read_folder(&real, &mut budget).map_err(fail)?;
            out.folders.push(crate::files::StaticFolder {
                dir: name.clone(),
                files,
            });
        }
        Ok(name)
    };
    for (prefix, dir, max_age) in mounts {
        let name = folder(dir, &mut out)?;
        out.mounts.push((prefix.clone(), name, *max_age));
    }
    for (plugin, dirs) in grants {
        let names = dirs
            .iter()
            .map(|d| folder(d, &mut out))
            .collect::<io::Result<Vec<_>>>()?;
        out.grants.push((plugin.clone(), names));
    }
    Ok(out)
}

/// `real` relative to `base`, `/`-separated; outside `base`, its whole path.
fn folder_name(base: &std::path::Path, real: &std::path::Path) -> String {
    let rel = real.strip_prefix(base).unwrap_or(real);
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        // The config folder itself.
        "root".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::folder_name;
    use std::path::Path;

    #[test]
    fn names() {
        let base = Path::new("/srv/app");
        assert_eq!(folder_name(base, Path::new("/srv/app/www")), "www");
        assert_eq!(
            folder_name(base, Path::new("/srv/app/data/img")),
            "data/img"
        );
        assert_eq!(folder_name(base, Path::new("/srv/app")), "root");
        assert_eq!(folder_name(base, Path::new("/opt/x")), "opt/x");
    }
}
