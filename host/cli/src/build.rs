//! `berth build`: plugin crates → plugin components.

use std::path::PathBuf;
use std::time::Instant;

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
    /// Run this Binaryen `wasm-opt` over each module before componentizing it: smaller
    /// code for a device, which holds every plugin's code in RAM (a recent Binaryen:
    /// `npm install binaryen`; Debian's 108 cannot read one-byte pages).
    #[arg(long, value_name = "PATH")]
    wasm_opt: Option<PathBuf>,
    /// Show cargo's progress.
    #[arg(long, short)]
    verbose: bool,
    /// Do not list the crates as they compile.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = BuildOptions {
        out_dir: args.out.clone(),
        target_dir: args.target_dir.clone(),
        verbose: args.verbose,
        // cargo's own lines already say what compiles when verbose.
        progress: !args.quiet && !args.verbose,
        wasm_opt: args.wasm_opt.clone(),
        ..BuildOptions::default()
    };
    let started = Instant::now();
    let mut total = 0;
    for path in &args.paths {
        let built = match crate::python::build(path, args.out.as_deref())? {
            Some(built) => built,
            None => {
                // A crate from `berth new` depends on the SDK this berth carries: unpack
                // it again if the cache was cleared.
                let manifest = std::fs::read_to_string(path.join("Cargo.toml")).unwrap_or_default();
                if crate::sdk::used_by(&manifest) {
                    crate::sdk::unpack()?;
                }
                berth_build::build(path, &opts)?
            }
        };
        for built in built {
            total += built.component.len();
            println!(
                "built {:<12} {} ({} bytes; core module {} bytes)",
                built.name,
                built.path.display(),
                built.component.len(),
                built.core_size
            );
        }
    }
    println!(
        "{total} bytes of plugins in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
