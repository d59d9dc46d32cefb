//! What a simulated container writes to its log: a line when it starts,
//! one when it becomes ready, what the program prints when it fails (its
//! contract's message), and one when it exits. Read through `pods/log`,
//! with the kubelet's errors for containers that have no log (yet).

use super::contracts::{self, Verdict};
use serde_json::Value;

/// One log line and when it was written (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: String,
    pub text: String,
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The log of `container` in `pod` (the previous instance's with
/// `previous`), or the message of the 400 the kubelet and API server answer.
pub fn container_log(pod: &Value, container: &str, previous: bool) -> Result<Vec<LogLine>, String> {
    let pod_name = str_at(pod, "/metadata/name");
    let spec = &pod["spec"];
    let find = |field: &str| {
        spec[field]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == container)
    };
    let Some(definition) = find("containers")
        .or_else(|| find("initContainers"))
        .or_else(|| find("ephemeralContainers"))
    else {
        // pkg/registry/core/pod/strategy.go, `LogLocation`.
        return Err(format!(
            "container {container} is not valid for pod {pod_name}"
        ));
    };
    let status = [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|field| {
        pod.pointer(&format!("/status/{field}"))
            .and_then(Value::as_array)
    })
    .flatten()
    .find(|s| s["name"] == container);
    let state = if previous {
        // pkg/kubelet/kubelet_pods.go, `validateContainerLogStatus`.
        match status.and_then(|s| s.pointer("/lastState/terminated")) {
            Some(terminated) => terminated,
            None => {
                return Err(format!(
                    "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
                ));
            }
        }
    } else {
        match status.map(|s| (&s["state"], s.pointer("/lastState/terminated"))) {
            Some((state, _)) if state.get("running").is_some() => &state["running"],
            Some((state, _)) if state.get("terminated").is_some() => &state["terminated"],
            // Back-off: the last run's log is the current one.
            Some((state, Some(last)))
                if state
                    .pointer("/waiting/reason")
                    .is_some_and(|r| r == "CrashLoopBackOff") =>
            {
                last
            }
            Some((state, _)) => {
                let reason = state
                    .pointer("/waiting/reason")
                    .and_then(Value::as_str)
                    .unwrap_or("ContainerCreating");
                return Err(format!(
                    "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
                ));
            }
            None => {
                return Err(format!(
                    "container \"{container}\" in pod \"{pod_name}\" is waiting to start: ContainerCreating"
                ));
            }
        }
    };
    let started = state["startedAt"].as_str().unwrap_or_default().to_owned();
    let image = definition["image"].as_str().unwrap_or_default();
    let line = |time: &str, text: String| LogLine {
        time: time.to_owned(),
        text,
    };
    let mut lines = vec![line(
        &started,
        format!("[simulation] container {container} started (image {image})"),
    )];
    let ready = status.is_some_and(|s| s["ready"] == true) && !previous;
    let running = state.get("finishedAt").is_none();
    if running {
        if ready {
            lines.push(line(
                &started,
                format!("[simulation] container {container} is ready"),
            ));
        } else if let Verdict::NeverReady { reason } = contracts::verdict(definition, spec) {
            lines.push(line(&started, reason));
        }
        return Ok(lines);
    }
    let finished = state["finishedAt"].as_str().unwrap_or(&started).to_owned();
    let exit_code = state["exitCode"].as_i64().unwrap_or(0);
    if let Verdict::Crashes { message, .. } = contracts::verdict(definition, spec) {
        lines.extend(message.lines().map(|text| line(&finished, text.to_owned())));
    }
    lines.push(line(
        &finished,
        format!("[simulation] container {container} exited with code {exit_code}"),
    ));
    Ok(lines)
}

/// What `pods/log` sends for `lines`, after its query parameters
/// (`timestamps`, `tailLines`, `sinceTime`/`sinceSeconds` against `now`, `limitBytes`).
pub fn render(lines: &[LogLine], options: &LogOptions, now: jiff::Timestamp) -> String {
    let since = options
        .since_time
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .or_else(|| {
            options
                .since_seconds
                .and_then(|s| now.checked_sub(jiff::SignedDuration::from_secs(s)).ok())
        });
    let kept: Vec<&LogLine> = lines
        .iter()
        .filter(|l| {
            since.is_none_or(|since| l.time.parse::<jiff::Timestamp>().is_ok_and(|t| t >= since))
        })
        .collect();
    let skip = options.tail_lines.map_or(0, |tail| {
        kept.len()
            .saturating_sub(usize::try_from(tail).unwrap_or(0))
    });
    let mut text = String::new();
    for line in &kept[skip..] {
        if options.timestamps {
            // RFC 3339 with nanoseconds, as the kubelet prefixes lines.
            text.push_str(&line.time.replace('Z', ".000000000Z"));
            text.push(' ');
        }
        text.push_str(&line.text);
        text.push('\n');
    }
    if let Some(limit) = options.limit_bytes.and_then(|l| usize::try_from(l).ok())
        && text.len() > limit
    {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The `PodLogOptions` the simulation honours.
#[derive(Debug, Default, Clone)]
pub struct LogOptions {
    pub timestamps: bool,
    pub tail_lines: Option<i64>,
    pub since_seconds: Option<i64>,
    pub since_time: Option<String>,
    pub limit_bytes: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(state: Value, last: Value) -> Value {
        json!({
            "metadata": { "name": "web" },
            "spec": { "containers": [{ "name": "app", "image": "nginx:1" }] },
            "status": { "containerStatuses": [{
                "name": "app", "ready": true, "state": state, "lastState": last,
            }] },
        })
    }

    #[test]
    fn a_running_container_says_it_started_and_is_ready() {
        let pod = pod(
            json!({ "running": { "startedAt": "2026-01-01T10:00:00Z" } }),
            json!({}),
        );
        let lines = container_log(&pod, "app", false).unwrap();
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            text,
            [
                "[simulation] container app started (image nginx:1)",
                "[simulation] container app is ready"
            ]
        );
        let options = LogOptions {
            timestamps: true,
            tail_lines: Some(1),
            ..LogOptions::default()
        };
        assert_eq!(
            render(&lines, &options, jiff::Timestamp::now()),
            "2026-01-01T10:00:00.000000000Z [simulation] container app is ready\n"
        );
    }

    #[test]
    fn kubelet_errors_for_missing_logs() {
        let running = pod(
            json!({ "running": { "startedAt": "2026-01-01T10:00:00Z" } }),
            json!({}),
        );
        assert_eq!(
            container_log(&running, "app", true).unwrap_err(),
            "previous terminated container \"app\" in pod \"web\" not found"
        );
        assert_eq!(
            container_log(&running, "db", false).unwrap_err(),
            "container db is not valid for pod web"
        );
        let waiting = pod(
            json!({ "waiting": { "reason": "PodInitializing" } }),
            json!({}),
        );
        assert_eq!(
            container_log(&waiting, "app", false).unwrap_err(),
            "container \"app\" in pod \"web\" is waiting to start: PodInitializing"
        );
    }
}
