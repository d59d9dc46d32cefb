//! Client for the beads daemon (`bd daemon`), the store of Gas Town's state.
//!
//! - [`BeadsClient`] speaks both wire protocols — HTTP (`POST /bd.v1.BeadsService/<Method>`,
//!   `/healthz`, `/readyz`, SSE `/events`) and newline-delimited JSON over TCP — chosen by
//!   the [`Endpoint`] scheme (`http://` or `tcp://`).
//! - [`BeadsClient::mutations`] is a never-ending stream of [`MutationEvent`]s that resumes
//!   after reconnects, falling back to polling `get_mutations` where SSE is missing.
//! - [`projection`] turns one batched set of answers ([`TownSnapshot`]) into the town and
//!   rig summaries the operator writes into its status.

mod client;
mod endpoint;
mod error;
mod lenient;
pub mod model;
mod mutations;
pub mod projection;
mod token;
mod transport;

pub use client::{BeadsClient, ClientConfig, MutationStreamConfig};
pub use endpoint::Endpoint;
pub use error::BeadsError;
/// The time library of this crate's public types.
pub use jiff;
pub use model::*;
pub use projection::{
    AgentSummary, DaemonSummary, HookedWork, RigSummary, TownSnapshot, TownSummary, desired_agents,
    fetch_snapshot, project,
};
pub use token::{REDACTED, Token};

pub type Result<T, E = BeadsError> = std::result::Result<T, E>;
