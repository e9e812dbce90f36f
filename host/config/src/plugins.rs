//! Which plugin files a config names, in plugin order.

use std::path::PathBuf;

use crate::Config;

/// Why the plugin files a config names cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum PluginFilesError {
    /// The plugins folder cannot be listed.
    #[error("cannot read the plugins folder {dir}: {source}")]
    Dir {
        /// The folder.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A plugin named in `[plugins] load` has no file.
    #[error("plugin {name}: no file {path}")]
    Missing {
        /// The plugin.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },
}

impl Config {
    /// The plugin files to load, in plugin order: `[plugins] load` when given, else
    /// every `*.wasm` in the plugins folder sorted by file name. A plugin's name is its
    /// file stem.
    pub fn plugin_files(&self) -> Result<Vec<(String, PathBuf)>, PluginFilesError> {
        let dir = &self.plugins_dir;
        if let Some(names) = &self.load {
            return names
                .iter()
                .map(|name| {
                    let path = dir.join(format!("{name}.wasm"));
                    if path.is_file() {
                        Ok((name.clone(), path))
                    } else {
                        Err(PluginFilesError::Missing {
                            name: name.clone(),
                            path,
                        })
                    }
                })
                .collect();
        }
        let entries = std::fs::read_dir(dir).map_err(|source| PluginFilesError::Dir {
            dir: dir.clone(),
            source,
        })?;
        let mut files: Vec<(String, PathBuf)> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p.clone())))
            .collect();
        files.sort();
        Ok(files)
    }
}
