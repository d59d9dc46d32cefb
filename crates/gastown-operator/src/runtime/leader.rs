//! Leader election: only the replica holding the Lease runs the controllers
//! (and their caches); the others stand by. Losing the Lease stops the
//! controllers; shutting down releases it so a standby takes over at once.

use futures::FutureExt;
use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tokio_util::sync::CancellationToken;

use super::http::{Health, Readiness};
use super::{LeaderElection, RuntimeError, Shared, lead};
use crate::cache::Scope;

pub(super) async fn run_elected(
    client: &Client,
    election: &LeaderElection,
    scopes: &[Scope],
    shared: &Shared,
    health: &Health,
    shutdown: &CancellationToken,
) -> Result<(), RuntimeError> {
    let failed = |source| RuntimeError::LeaderElection {
        namespace: election.lease_namespace.clone(),
        name: election.lease_name.clone(),
        source,
    };
    let mut builder = LeaseManagerBuilder::new(client.clone(), &election.lease_name)
        .with_namespace(&election.lease_namespace)
        .with_duration(election.lease_duration_secs)
        .with_grace(election.renew_grace_secs);
    if let Some(identity) = &election.identity {
        builder = builder.with_identity(identity);
    }
    let manager = builder.build().await.map_err(failed)?;
    // The manager's task keeps trying to acquire (and, once held, renew) the
    // Lease and reports every change of leadership on this channel.
    let (mut leading, manager_task) = manager.watch().await;
    let mut outcome = Ok(());

    'terms: loop {
        health.set(Readiness::StandingBy);
        loop {
            let leader = *leading.borrow_and_update();
            if leader {
                break;
            }
            tokio::select! {
                changed = leading.changed() => if changed.is_err() { break 'terms },
                () = shutdown.cancelled() => break 'terms,
            }
        }
        tracing::info!(lease = %election.lease_name, "acquired the lease; starting controllers");
        let term = shutdown.child_token();
        let mut controllers = std::pin::pin!(lead(client, scopes, shared, health, term.clone()));
        tokio::select! {
            result = &mut controllers => {
                // The controllers stopped on their own: an error, or shutdown.
                if result.is_err() {
                    outcome = result;
                }
                break 'terms;
            }
            channel_closed = leading.wait_for(|leader| !leader).map(|lost| lost.is_err()) => {
                tracing::warn!(lease = %election.lease_name, "lost the lease; stopping controllers");
                term.cancel();
                if let Err(error) = controllers.await {
                    tracing::warn!(%error, "controllers stopped with an error");
                }
                if channel_closed {
                    break 'terms;
                }
            }
        }
    }

    // Closing the channel makes the manager release the Lease and end.
    drop(leading);
    let stopped_by_itself = !shutdown.is_cancelled() && outcome.is_ok();
    match manager_task.await {
        Ok(Ok(_)) if stopped_by_itself => Err(RuntimeError::LeaderElectionStopped),
        Ok(Ok(_)) => outcome,
        Ok(Err(error)) if stopped_by_itself => Err(failed(error)),
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not release the lease");
            outcome
        }
        Err(error) => Err(RuntimeError::Panicked(error.to_string())),
    }
}
