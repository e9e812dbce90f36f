//! `berth build`: plugin crates → plugin components.

use std::path::PathBuf;

use berth_build::BuildOptions;

#[derive(clap::Args)]
pub struct Args {
    /// Plugin crates, or a folder of them with a workspace Cargo.toml (like `plugins`);
    /// Python plugin folders (an app.py), or a folder of them.
    #[arg(default_value = "plugins")]
    paths: Vec<PathBuf>,
    /// Where to write <name>.wasm [default: beside the crate, or into the workspace folder].
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Cargo's target directory [default: the crate workspace's own].
    #[arg(long)]
    target_dir: Option<PathBuf>,
    /// Show cargo's progress.
    #[arg(long, short)]
    verbose: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = BuildOptions {
        out_dir: args.out.clone(),
        target_dir: args.target_dir.clone(),
        verbose: args.verbose,
        ..BuildOptions::default()
    };
    for path in &args.paths {
        let built = match crate::python::build(path, args.out.as_deref())? {
            Some(built) => built,
            None => berth_build::build(path, &opts)?,
        };
        for built in built {
            println!(
                "built {:<12} {} ({} bytes)",
                built.name,
                built.path.display(),
                built.component.len()
            );
        }
    }
    Ok(())
}
