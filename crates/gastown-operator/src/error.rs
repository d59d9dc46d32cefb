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
}

impl Error {
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            action: action.into(),
            source,
        }
    }

    /// Whether the error is one the object's owner has to act on — the API
    /// server refused a write as bad (400), invalid (422) or forbidden (403),
    /// or a desired object cannot be built — rather than a transient failure
    /// (a conflict, a timeout, a daemon that is down) that a retry cures.
    pub fn needs_attention(&self) -> bool {
        match self {
            Error::Kube {
                source: kube::Error::Api(status),
                ..
            } => matches!(status.code, 400 | 403 | 422),
            Error::Build { .. } => true,
            _ => false,
        }
    }

    /// A short, stable label for the error metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube",
            Error::Beads(_) => "beads",
            Error::Build { .. } => "build",
            Error::NotStored { .. } => "not_stored",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> Error {
        Error::kube(
            "apply Service ns/x",
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: "refused".into(),
                ..Default::default()
            })),
        )
    }

    #[test]
    fn refusals_and_build_errors_need_attention_transient_failures_do_not() {
        for code in [400, 403, 422] {
            assert!(api(code).needs_attention(), "{code}");
        }
        for code in [404, 409, 410, 429, 500, 503] {
            assert!(!api(code).needs_attention(), "{code}");
        }
        let build = Error::Build {
            what: "x".into(),
            reason: "y".into(),
        };
        assert!(build.needs_attention());
        let not_stored = Error::NotStored {
            kind: "Rig",
            name: "x".into(),
        };
        assert!(!not_stored.needs_attention());
    }
}
