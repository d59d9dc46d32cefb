//! Client for the beads server, the store of Gas Town's state: the bd daemon
//! (`bd daemon`) or `bd serve` (the beads HTTP API v0), behind one interface,
//! [`Beads`].
//!
//! - [`Beads`] picks the protocol ([`Protocol`], or [`Beads::detect`]) and offers
//!   what the operator needs: [`Beads::snapshot`], the pod records, and
//!   [`Beads::changes`].
//! - [`ServeClient`] speaks `bd serve` (`/v0/beads/…`, problem+json errors,
//!   capabilities, the events journal); see the `serve` module.
//!
//! - [`BeadsClient`] speaks both wire protocols — HTTP (`POST /bd.v1.BeadsService/<Method>`,
//!   `/healthz`, `/readyz`, SSE `/events`) and newline-delimited JSON over TCP — chosen by
//!   the [`Endpoint`] scheme (`http://` or `tcp://`).
//! - [`BeadsClient::mutations`] is a never-ending stream of [`MutationEvent`]s that resumes
//!   after reconnects, falling back to polling `get_mutations` where SSE is missing.
//! - [`projection`] turns one batched set of answers ([`TownSnapshot`]) into the town and
//!   rig summaries the operator writes into its status.
//!
//! Robustness rules: every request has a timeout; reads are retried with exponential
//! backoff, writes never; answers are decoded tolerantly (unknown fields ignored,
//! missing ones defaulted, unknown enumeration values kept as `Other`); the token is a
//! [`Token`] that prints as `***` and is scrubbed from any daemon text put into an error.
//!
//! Transport security: the client has no TLS stack (`https://` is refused). The daemon
//! is reached over the cluster network on its plain HTTP or TCP listener; TLS would
//! need a rustls crypto provider wired through reqwest, which this crate avoids.

mod backend;
mod client;
mod endpoint;
mod error;
mod lenient;
pub mod model;
mod mutations;
pub mod projection;
pub mod serve;
mod token;
mod transport;

pub use backend::{Beads, Change, Protocol, ServerInfo, UnknownProtocol};
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
pub use serve::ServeClient;
pub use token::{REDACTED, Token};

pub type Result<T, E = BeadsError> = std::result::Result<T, E>;
