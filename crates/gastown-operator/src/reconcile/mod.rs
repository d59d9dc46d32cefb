//! The parts every controller's pipeline shares.
//!
//! Each controller reconciles in the same five steps — dereference → validate
//! → build → apply → status — and these modules are the shared ones:
//! - [`secrets`]: the referenced Secrets that are missing (dereference);
//! - [`desired`], [`agent_slot`]: what a pure build returns — every object an
//!   owner wants, by kind, and its declared agents;
//! - [`applier`], [`kinds`]: apply a [`desired::Desired`] in order and prune
//!   what the owner no longer wants;
//! - [`finalizer`], [`teardown`]: the drain-order teardown once the owner is
//!   being deleted, planned purely and carried out by one executor.

pub mod agent_slot;
pub mod applier;
pub mod desired;
pub mod finalizer;
pub mod kinds;
pub mod rollout;
pub mod secrets;
pub mod teardown;
