//! The town's backups as they run: what their Jobs say (for the status,
//! [`crate::controllers::backup_status`]), and the one Job an on-demand
//! request (`gastown.io/backup-now=<token>`) starts.

use gastown_api::GasTown;
use gastown_api::gastown::GasTownStatus;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use crate::builders::town::backup::manual_backup_job;
use crate::context::Context;
use crate::controllers::backup_status::Run;
use crate::error::{Error, Result};
use crate::naming;
use crate::reconcile::kinds::cached;

/// How a finished Job ended, from its `Complete` or `Failed` condition.
pub fn run_of(job: &Job) -> Option<Run> {
    let status = job.status.as_ref()?;
    let ended = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed"))?;
    let at = |t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| t.map(|t| t.0);
    let finished = if ended.type_ == "Complete" {
        at(status.completion_time.as_ref()).or(at(ended.last_transition_time.as_ref()))
    } else {
        at(ended.last_transition_time.as_ref())
    }?;
    let outcome = if ended.type_ == "Complete" {
        Ok(())
    } else {
        let reason = ended.reason.as_deref().unwrap_or("Failed");
        let message = ended.message.as_deref().unwrap_or_default();
        Err(format!("{reason}: {message}"))
    };
    Some(Run {
        job: job.name_any(),
        finished,
        outcome,
    })
}

/// The town's backup CronJob, if cached.
pub fn cron_job(ctx: &Context, town: &GasTown) -> Option<std::sync::Arc<CronJob>> {
    let ns = town.namespace().unwrap_or_default();
    cached::<CronJob>(ctx, &ns, &naming::dolt_backup(&town.name_any()))
}

/// The finished runs of `cron_job`: the Jobs it controls (scheduled and on demand).
pub fn runs(ctx: &Context, town: &GasTown, cron_job: &CronJob) -> Vec<Run> {
    let ns = town.namespace().unwrap_or_default();
    let uid = cron_job.uid();
    ctx.cache
        .jobs
        .of_town(&ns, &town.name_any())
        .iter()
        .filter(|job| {
            job.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && Some(&o.uid) == uid.as_ref())
        })
        .filter_map(|job| run_of(job))
        .collect()
}

/// The on-demand backup: when the town's `gastown.io/backup-now` token has
/// not run yet, starts its Job (named after the token, so it is made once).
/// Returns the token whose Job exists, which the status then records.
pub async fn start_on_demand(
    ctx: &Context,
    town: &GasTown,
    previous: Option<&GasTownStatus>,
    cron_job: &CronJob,
) -> Result<Option<String>> {
    let Some(token) = town.annotations().get(naming::BACKUP_NOW_ANNOTATION) else {
        return Ok(None);
    };
    let recorded = previous
        .and_then(|s| s.backup.as_ref())
        .and_then(|b| b.last_manual_token.as_ref());
    if recorded == Some(token) {
        return Ok(None);
    }
    let Some(job) = manual_backup_job(cron_job, token) else {
        return Ok(None);
    };
    let ns = town.namespace().unwrap_or_default();
    if cached::<Job>(ctx, &ns, &job.name_any()).is_none() {
        let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
        match api.create(&PostParams::default(), &job).await {
            Ok(_) => {
                tracing::info!(job = %job.name_any(), %token, "started an on-demand backup");
            }
            // Made by an earlier pass the cache has not seen yet.
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(source) => return Err(Error::kube("create the on-demand backup Job", source)),
        }
    }
    Ok(Some(token.clone()))
}

/// When the CronJob was created: backups are scheduled since then.
pub fn since(cron_job: &CronJob) -> Option<Timestamp> {
    cron_job.meta().creation_timestamp.as_ref().map(|t| t.0)
}
