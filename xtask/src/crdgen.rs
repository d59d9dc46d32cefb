//! `cargo xtask crdgen`: CRD manifests from the API crate's types.
//! Filled in by the API crate work (issue 2).

pub fn run(_check: bool) -> anyhow::Result<()> {
    anyhow::bail!("crdgen is not built yet (issue 2)")
}
