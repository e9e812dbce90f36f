//! `berth device push | list | rm`: a running device's admin endpoint
//! (`/_berth/plugins`, berth-embedded's `admin`), over HTTP with the `[admin] token`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::blocking::{Client, Response};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where the device is and how to get in.
#[derive(clap::Args)]
pub struct Device {
    /// The device's base URL (`http://192.168.1.50`).
    #[arg(long, env = "BERTH_DEVICE_URL")]
    url: String,
    /// The device's `[admin] token`.
    #[arg(long, env = "BERTH_DEVICE_TOKEN", hide_env_values = true)]
    token: String,
}

/// `berth device push`.
#[derive(clap::Args)]
pub struct PushArgs {
    #[command(flatten)]
    device: Device,
    /// The plugin component; the plugin's name is the file stem unless --name is given.
    file: PathBuf,
    /// The name to store it under (replacing the plugin of that name, if any).
    #[arg(long)]
    name: Option<String>,
}

/// `berth device list`.
#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    device: Device,
}

/// `berth device rm`.
#[derive(clap::Args)]
pub struct RmArgs {
    #[command(flatten)]
    device: Device,
    /// The plugin to remove.
    name: String,
}

impl Device {
    fn client(&self) -> anyhow::Result<Client> {
        // A device validates an upload (compile, setup) before it answers: give it time.
        Ok(Client::builder()
            .timeout(Duration::from_secs(300))
            .build()?)
    }

    fn endpoint(&self, name: Option<&str>) -> String {
        let base = self.url.trim_end_matches('/');
        match name {
            Some(name) => format!("{base}/_berth/plugins/{name}"),
            None => format!("{base}/_berth/plugins"),
        }
    }
}

/// The JSON body of a 2xx answer, or the device's error as an error.
fn answer(response: Response, what: &str) -> anyhow::Result<(StatusCode, Value)> {
    let status = response.status();
    let body = response.text().unwrap_or_default();
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        let why = json["error"].as_str().map_or(body.as_str(), |e| e);
        match status {
            StatusCode::UNAUTHORIZED => bail!("{what}: {status}: wrong or missing token ({why})"),
            StatusCode::NOT_FOUND if json["error"] == "Not Found" => bail!(
                "{what}: {status}: the device has no admin endpoint (is `[admin] token` packed into its store?)"
            ),
            _ => bail!("{what}: {status}: {why}"),
        }
    }
    Ok((status, json))
}

pub fn push(args: PushArgs) -> anyhow::Result<()> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(String::from)
            .with_context(|| format!("{}: no plugin name in it", args.file.display()))?,
    };
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if !bytes.starts_with(b"\0asm") {
        bail!("{} is not a Wasm file", args.file.display());
    }
    let sha256 = hex(&Sha256::digest(&bytes));
    let device = &args.device;
    let response = device
        .client()?
        .put(device.endpoint(Some(&name)))
        .bearer_auth(&device.token)
        .header("content-type", "application/wasm")
        .body(bytes.clone())
        .send()
        .with_context(|| format!("cannot reach {}", device.url))?;
    let (status, json) = answer(response, &format!("push {name}"))?;
    if json["sha256"].as_str() != Some(sha256.as_str()) {
        bail!(
            "push {name}: the device stored sha256 {}, not {sha256}",
            json["sha256"]
        );
    }
    let how = if status == StatusCode::CREATED {
        "added"
    } else {
        "replaced"
    };
    println!("{name}: {how}, {} bytes, sha256 {sha256}", bytes.len());
    Ok(())
}

pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let device = &args.device;
    let response = device
        .client()?
        .get(device.endpoint(None))
        .bearer_auth(&device.token)
        .send()
        .with_context(|| format!("cannot reach {}", device.url))?;
    let (_, json) = answer(response, "list")?;
    let plugins = json["plugins"]
        .as_array()
        .context("list: no plugin list in the answer")?;
    println!("{:<24} {:>10}  {:<64}  state", "NAME", "SIZE", "SHA256");
    for p in plugins {
        let state = if p["running"] == true {
            "running"
        } else {
            "stored (failed to load at boot)"
        };
        println!(
            "{:<24} {:>10}  {:<64}  {state}",
            p["name"].as_str().unwrap_or("?"),
            p["size"].as_u64().unwrap_or(0),
            p["sha256"].as_str().unwrap_or("?"),
        );
    }
    if let (Some(used), Some(free)) = (json["heap"]["used"].as_u64(), json["heap"]["free"].as_u64())
    {
        println!("heap: {used} bytes used, {free} free");
    }
    Ok(())
}

pub fn rm(args: RmArgs) -> anyhow::Result<()> {
    let device = &args.device;
    let response = device
        .client()?
        .delete(device.endpoint(Some(&args.name)))
        .bearer_auth(&device.token)
        .send()
        .with_context(|| format!("cannot reach {}", device.url))?;
    answer(response, &format!("rm {}", args.name))?;
    println!("{}: removed", args.name);
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
