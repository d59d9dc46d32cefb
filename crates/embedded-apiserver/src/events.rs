//! `events.k8s.io/v1` Events are stored as core `v1` Events, as upstream
//! does, so an event recorded by kube-runtime's `Recorder` shows in
//! `kubectl describe` (which reads core Events). These functions convert
//! between the two forms, following upstream's conversion functions.

use crate::registry::Served;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// Core fields and their `events.k8s.io/v1` names.
const RENAMED: [(&str, &str); 7] = [
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// Fields with the same name in both forms.
const SHARED: [&str; 8] = [
    "metadata",
    "reason",
    "type",
    "action",
    "related",
    "eventTime",
    "series",
    "reportingInstance",
];

fn copy(
    from: &Map<String, Value>,
    to: &mut Map<String, Value>,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
) {
    for (source, target) in pairs {
        if let Some(value) = from.get(source).filter(|v| !v.is_null()) {
            to.insert(target.to_owned(), value.clone());
        }
    }
}

/// An `events.k8s.io/v1` Event as the core `v1` Event it is stored as.
pub fn to_core(event: &Value) -> Value {
    let Some(from) = event.as_object() else {
        return event.clone();
    };
    let mut core = Map::new();
    core.insert("apiVersion".into(), json!("v1"));
    core.insert("kind".into(), json!("Event"));
    copy(from, &mut core, SHARED.iter().map(|f| (*f, *f)));
    copy(
        from,
        &mut core,
        RENAMED.iter().map(|(core, v1)| (*v1, *core)),
    );
    // Upstream fills the deprecated source from the reporting fields when it is absent.
    if !core.contains_key("source") {
        let mut source = Map::new();
        copy(
            from,
            &mut source,
            [
                ("reportingController", "component"),
                ("reportingInstance", "host"),
            ]
            .into_iter(),
        );
        if !source.is_empty() {
            core.insert("source".into(), Value::Object(source));
        }
    }
    Value::Object(core)
}

/// A stored core `v1` Event as `events.k8s.io/v1` presents it.
pub fn from_core(core: &Value) -> Value {
    let Some(from) = core.as_object() else {
        return core.clone();
    };
    let mut event = Map::new();
    event.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    event.insert("kind".into(), json!("Event"));
    copy(from, &mut event, SHARED.iter().map(|f| (*f, *f)));
    copy(
        from,
        &mut event,
        RENAMED.iter().map(|(core, v1)| (*core, *v1)),
    );
    if !event.contains_key("reportingController")
        && let Some(component) = core.pointer("/source/component")
    {
        event.insert("reportingController".into(), component.clone());
    }
    Value::Object(event)
}

/// Whether `served` is the `events.k8s.io` view of core Events.
pub fn is_v1_view(served: &Served) -> bool {
    served.is("events.k8s.io", "Event")
}

/// A stored object in the form the requested resource presents.
pub fn present<'a>(served: &Served, stored: &'a Value) -> Cow<'a, Value> {
    if is_v1_view(served) {
        Cow::Owned(from_core(stored))
    } else {
        Cow::Borrowed(stored)
    }
}

/// A request body in the form it is stored in.
pub fn store_form(served: &Served, body: Value) -> Value {
    if is_v1_view(served) {
        to_core(&body)
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_events_become_core_events_and_back() {
        let recorded = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": { "name": "gt.1", "namespace": "ns" },
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "regarding": { "kind": "GasTown", "name": "gt", "namespace": "ns", "uid": "u" },
            "note": "Reconciled", "reason": "Synced", "type": "Normal", "action": "Reconcile",
            "reportingController": "gastown-operator", "reportingInstance": "pod-1"
        });
        let core = to_core(&recorded);
        assert_eq!(core["involvedObject"]["name"], "gt");
        assert_eq!(core["message"], "Reconciled");
        assert_eq!(
            core["source"],
            json!({ "component": "gastown-operator", "host": "pod-1" })
        );
        assert_eq!(core["reportingComponent"], "gastown-operator");
        let mut back = from_core(&core);
        back.as_object_mut().unwrap().remove("deprecatedSource");
        assert_eq!(back, recorded);
    }

    #[test]
    fn core_events_show_their_source_as_reporting_controller() {
        let core = json!({ "metadata": {}, "message": "m", "source": { "component": "kubelet" }, "count": 3 });
        let event = from_core(&core);
        assert_eq!(event["reportingController"], "kubelet");
        assert_eq!(event["deprecatedCount"], 3);
        assert_eq!(event["note"], "m");
    }
}
