//! Jobs and CronJobs, after `printJob` and `printCronJob` in kube-apiserver's
//! `pkg/printers/internalversion/printers.go` (1.33: a Status column for
//! Jobs, a Timezone column for CronJobs).

use super::{
    AGE, Column, NAME_COLUMN, Printer, Row, age, age_of, container_images, container_names, decode,
    format_label_selector, name, template_containers,
};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobCondition};

const CONTAINERS: Column = Column::new(
    "Containers",
    "string",
    "Names of each container in the template.",
)
.wide();
const IMAGES: Column = Column::new(
    "Images",
    "string",
    "Images referenced by each container in the template.",
)
.wide();

pub(in crate::table) static JOB: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Status", "string", "Status of the job."),
        Column::new("Completions", "string", "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs."),
        Column::new("Duration", "string", "Time required to complete the job."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors").wide(),
    ],
    row: |object, now| {
        let job: Job = decode(object)?;
        let spec = job.spec.clone().unwrap_or_default();
        let status = job.status.clone().unwrap_or_default();
        let succeeded = status.succeeded.unwrap_or(0);
        let completions = match (spec.completions, spec.parallelism.unwrap_or(0)) {
            (Some(completions), _) => format!("{succeeded}/{completions}"),
            (None, parallelism) if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            (None, _) => format!("{succeeded}/1"),
        };
        let duration = match (&status.start_time, &status.completion_time) {
            (None, _) => String::new(),
            (Some(start), None) => age::human_duration(now.duration_since(start.0)),
            (Some(start), Some(end)) => age::human_duration(end.0.duration_since(start.0)),
        };
        let conditions = status.conditions.clone().unwrap_or_default();
        let has = |kind: &str| {
            conditions
                .iter()
                .any(|c: &JobCondition| c.type_ == kind && c.status == "True")
        };
        let state = if has("Complete") {
            "Complete"
        } else if has("Failed") {
            "Failed"
        } else if job.metadata.deletion_timestamp.is_some() {
            "Terminating"
        } else if has("Suspended") {
            "Suspended"
        } else if has("FailureTarget") {
            "FailureTarget"
        } else if has("SuccessCriteriaMet") {
            "SuccessCriteriaMet"
        } else {
            "Running"
        };
        let containers = template_containers(spec.template.spec.as_ref());
        Some(Row::new(vec![
            name(&job.metadata),
            state.into(),
            completions.into(),
            duration.into(),
            age_of(&job.metadata, now),
            container_names(containers).into(),
            container_images(containers).into(),
            format_label_selector(spec.selector.as_ref()).into(),
        ]))
    },
};

pub(in crate::table) static CRON_JOB: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
        Column::new("Timezone", "string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
        Column::new("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false."),
        Column::new("Active", "integer", "A list of pointers to currently running jobs."),
        Column::new("Last Schedule", "string", "Information when was the last time the job was successfully scheduled."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors").wide(),
    ],
    row: |object, now| {
        let cron_job: CronJob = decode(object)?;
        let spec = cron_job.spec.clone().unwrap_or_default();
        let status = cron_job.status.clone().unwrap_or_default();
        let last_schedule = match &status.last_schedule_time {
            Some(time) => age::since(Some(time.0), now),
            None => "<none>".to_owned(),
        };
        let suspend = match spec.suspend {
            Some(true) => "True",
            Some(false) => "False",
            None => "<unset>",
        };
        let job_spec = spec.job_template.spec.clone().unwrap_or_default();
        let containers = template_containers(job_spec.template.spec.as_ref());
        Some(Row::new(vec![
            name(&cron_job.metadata),
            spec.schedule.clone().into(),
            spec.time_zone.clone().unwrap_or_else(|| "<none>".into()).into(),
            suspend.into(),
            (status.active.as_ref().map_or(0, Vec::len) as i64).into(),
            last_schedule.into(),
            age_of(&cron_job.metadata, now),
            container_names(containers).into(),
            container_images(containers).into(),
            format_label_selector(job_spec.selector.as_ref()).into(),
        ]))
    },
};
