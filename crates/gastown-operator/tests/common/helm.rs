//! Helm's own Go library (PyPI `helm-sdkpy`) driving the repository's chart,
//! through the chart's `ci/helm_check.py`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// Helm waits up to 60 s itself (see helm_check.py); this bounds the process.
const HELM_TIMEOUT: Duration = Duration::from_secs(120);

/// charts/gastown-operator.
pub fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/gastown-operator")
}

/// The python of a virtualenv with helm-sdkpy, from `HELM_SDK_PYTHON`; `None`,
/// loudly, without it.
pub fn python() -> Option<PathBuf> {
    match std::env::var_os("HELM_SDK_PYTHON") {
        Some(python) if !python.is_empty() => Some(PathBuf::from(python)),
        _ => {
            eprintln!(
                "\n*** SKIPPED: this test drives Helm and needs HELM_SDK_PYTHON, the python of a \
                 virtualenv with helm-sdkpy (see embedded-apiserver/tests/helm.rs). \
                 `cargo xtask ci` sets it. ***\n"
            );
            None
        }
    }
}

/// One release of the chart in one namespace, as an admin with `kubeconfig`.
pub struct Release {
    pub python: PathBuf,
    pub kubeconfig: PathBuf,
    /// Helm's cache, config and data homes go here, not into the user's home.
    pub scratch: PathBuf,
    pub name: String,
    pub namespace: String,
}

impl Release {
    /// `helm install` with `values`, not waiting: the manifest, notes and revision.
    pub async fn install(&self, values: &Value) -> Value {
        let values = values.to_string();
        self.run(&["render"], &[&chart_arg(), "--values", &values])
            .await
    }

    /// `helm upgrade` with `values` (the chart's defaults for the rest), not waiting.
    pub async fn upgrade(&self, values: &Value) -> Value {
        let values = values.to_string();
        self.run(&["upgrade"], &[&chart_arg(), "--values", &values])
            .await
    }

    /// `helm uninstall`, waiting until the release's objects are gone.
    pub async fn uninstall(&self) -> Value {
        self.run(&["uninstall"], &[]).await
    }

    async fn run(&self, action: &[&str], rest: &[&str]) -> Value {
        let mut command = tokio::process::Command::new(&self.python);
        command
            .arg(chart().join("ci/helm_check.py"))
            .args(action)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--namespace", &self.namespace, &self.name])
            .args(rest)
            .env("HELM_CACHE_HOME", self.scratch.join("helm-cache"))
            .env("HELM_CONFIG_HOME", self.scratch.join("helm-config"))
            .env("HELM_DATA_HOME", self.scratch.join("helm-data"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(HELM_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("helm {action:?} finishes within {HELM_TIMEOUT:?}"))
            .expect("helm_check.py runs");
        assert!(
            output.status.success(),
            "helm {action:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("helm_check.py prints JSON")
    }
}

fn chart_arg() -> String {
    chart().to_str().expect("a UTF-8 path").to_owned()
}
