//! `berth`: serve Wasm plugins over HTTP, build them, inspect them.

mod build;
mod dev;
mod device;
mod embedded;
mod inspect;
mod logging;
mod new;
mod python;
mod sdk;
mod serve;
mod signal;
mod statics;
mod trace;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A host server for WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load the plugins and serve HTTP.
    Serve(serve::Args),
    /// Build plugin crates into plugin components (plugins/<name>.wasm).
    Build(build::Args),
    /// Print what a plugin file registers: name, routes, middleware, hooks.
    Inspect(inspect::Args),
    /// Create a new plugin crate from a template.
    New(new::Args),
    /// Device tasks: `berth device pack` builds a plugin-store image for the flash.
    #[command(subcommand)]
    Device(device::Command),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        logging::init_default();
    }
    match cli.command {
        // Logging for `serve` comes from the config's `[log]`, so it starts there.
        Command::Serve(args) => serve::run(args),
        Command::Build(args) => build::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::New(args) => new::run(args),
        Command::Device(command) => device::run(command),
    }
}
