//! What the real container images do with the pod spec they are given.
//!
//! [`verdict`] looks at one container (and its pod spec, for security
//! contexts and volumes), recognises the image family by the image
//! reference's repository and says how the program inside would fare: it
//! runs, it runs but can never pass its probes, or it exits with its own
//! error. Unknown images run, as they always have in the simulation.
//!
//! Each rule cites its fact in `/work/shared/reference/container-contracts.md`
//! (keys D1..G6); messages are the programs' own, from their upstream source,
//! except where a comment says `unconfirmed:`.
//!
//! The families:
//! - `dolt` — `dolthub/dolt-sql-server` (the entrypoint script and `dolt`);
//! - `beads` — repositories ending in `/beads`: `bd daemon start` and `bd serve`;
//! - `agent` — repositories ending in `gastown-agent`: the agent entrypoint.

mod agent;
mod beads;
mod container;
mod dolt;
mod probes;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use container::image_repository;

/// How a container's program fares with the spec it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It starts and, as far as the simulation knows, passes its probes.
    Runs,
    /// The process runs, but its probes can never pass.
    NeverReady {
        /// Why, for people reading test failures (a real kubelet reports
        /// this only in events).
        reason: String,
    },
    /// The program exits on its own, printing `message`.
    Crashes {
        /// The exit status.
        exit_code: i32,
        /// What the program prints last, as it prints it.
        message: String,
    },
}

/// The verdict for `container` (a container object) in a pod with `pod_spec`.
pub fn verdict(container: &Value, pod_spec: &Value) -> Verdict {
    let view = container::Container::new(container, pod_spec);
    let repository = image_repository(view.image());
    if repository == "dolthub/dolt-sql-server" {
        dolt::verdict(&view)
    } else if repository.ends_with("/beads") {
        // Not a bare `beads`: that would be Docker Hub's `library/beads`.
        beads::verdict(&view)
    } else if repository.ends_with("gastown-agent") {
        agent::verdict(&view)
    } else {
        Verdict::Runs
    }
}

/// The crash verdict for an error the program prints.
fn crash(exit_code: i32, message: impl Into<String>) -> Verdict {
    Verdict::Crashes {
        exit_code,
        message: message.into(),
    }
}
