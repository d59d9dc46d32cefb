//! Errors of a reconcile. Each says what failed and on which object; none
//! carries a secret value.

use beads_client::BeadsError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API call failed: {action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },

    #[error("bd daemon: {0}")]
    Beads(#[from] BeadsError),

    #[error("cannot build {what}: {reason}")]
    Build { what: String, reason: String },

    #[error("{kind} {name} has no namespace or uid yet")]
    NotStored { kind: &'static str, name: String },

    #[error("finalizer: {0}")]
    Finalizer(String),
}

impl Error {
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            action: action.into(),
            source,
        }
    }

    /// A short, stable label for the error metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube",
            Error::Beads(_) => "beads",
            Error::Build { .. } => "build",
            Error::NotStored { .. } => "not_stored",
            Error::Finalizer(_) => "finalizer",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
