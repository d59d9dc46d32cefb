//! `cargo xtask ci`: the one command CI runs. It installs what the tests need
//! and runs every check in the order that fails fastest.

use anyhow::{Context, bail};
use std::process::Command;

pub fn run() -> anyhow::Result<()> {
    let root = crate::repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    step("cargo fmt --check", Command::new(&cargo).args(["fmt", "--all", "--check"]))?;
    step(
        "cargo clippy",
        Command::new(&cargo).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    println!("==> crdgen --check");
    crate::crdgen::run(true)?;
    require_kubectl()?;
    step(
        "cargo test",
        Command::new(&cargo)
            .current_dir(&root)
            .args(["test", "--workspace", "--locked", "--no-fail-fast"]),
    )?;
    Ok(())
}

fn step(name: &str, cmd: &mut Command) -> anyhow::Result<()> {
    println!("==> {name}");
    let status = cmd
        .current_dir(crate::repo_root())
        .status()
        .with_context(|| format!("could not start {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

/// The kubectl-driven tests need the real kubectl, which every machine here has.
fn require_kubectl() -> anyhow::Result<()> {
    let out = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .context("kubectl is not on PATH; the kubectl-driven tests need it")?;
    if !out.status.success() {
        bail!("`kubectl version --client` failed");
    }
    Ok(())
}
