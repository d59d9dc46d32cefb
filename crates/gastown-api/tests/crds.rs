//! The generated CRDs: names, printer columns, defaults, list semantics and CEL rules are
//! what the API promises, and every CEL rule compiles with a cost a real API server accepts.

use gastown_api::{AgentPool, GasTown, Rig};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};

fn schema_of(crd: &CustomResourceDefinition) -> Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("derived CRDs carry a schema");
    serde_json::to_value(schema).unwrap()
}

/// The schema node at a dotted path of property names (`spec.daemon.port`); `[]` steps into
/// list items and `{}` into map values.
fn node<'a>(schema: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(schema, |node, step| {
        let step_into = |node: &'a Value, name: &str| {
            node.get("properties")
                .and_then(|p| p.get(name))
                .unwrap_or_else(|| panic!("no property {name} on the way to {path}"))
        };
        if let Some(name) = step.strip_suffix("[]") {
            &step_into(node, name)["items"]
        } else if let Some(name) = step.strip_suffix("{}") {
            &step_into(node, name)["additionalProperties"]
        } else {
            step_into(node, step)
        }
    })
}

fn rules_at(schema: &Value, path: &str) -> Vec<String> {
    node(schema, path)["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn names_scope_and_subresources() {
    let crds = gastown_api::crds();
    let names: Vec<_> = crds
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "gastowns.gastown.io",
            "rigs.gastown.io",
            "agentpools.gastown.io"
        ]
    );
    for crd in &crds {
        assert_eq!(crd.spec.group, gastown_api::GROUP);
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, gastown_api::VERSION);
        assert!(version.served && version.storage);
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&[gastown_api::CATEGORY.to_string()][..])
        );
    }
}

/// Short names of the built-in kinds (kubectl 1.33 discovery) and the resource names a
/// `kubectl get <word>` could mean.
const BUILT_IN_SHORT_NAMES: &[&str] = &[
    "cs",
    "cm",
    "ep",
    "ev",
    "limits",
    "ns",
    "no",
    "pvc",
    "pv",
    "po",
    "podtemplates",
    "rc",
    "quota",
    "sa",
    "svc",
    "crd",
    "crds",
    "ds",
    "deploy",
    "rs",
    "sts",
    "hpa",
    "cj",
    "csr",
    "ing",
    "netpol",
    "pdb",
    "pc",
    "sc",
    "vac",
    "ingclass",
    "ipa",
    "sva",
    "mwc",
    "vwc",
    "vap",
    "vapb",
    "psp",
    "rb",
    "crb",
    "ds",
    "all",
];

#[test]
fn short_names_and_category_collide_with_nothing() {
    let crds = gastown_api::crds();
    let mut resource_words = Vec::new();
    for crd in &crds {
        resource_words.push(crd.spec.names.plural.clone());
        resource_words.extend(crd.spec.names.singular.clone());
        resource_words.push(crd.spec.names.kind.to_lowercase());
    }
    let short_names: Vec<String> = crds
        .iter()
        .flat_map(|c| c.spec.names.short_names.clone().unwrap_or_default())
        .collect();
    assert_eq!(short_names, ["gt", "rg", "ap"]);
    for short in &short_names {
        assert!(
            !BUILT_IN_SHORT_NAMES.contains(&short.as_str()),
            "{short} shadows a built-in"
        );
        assert!(
            !resource_words.contains(short),
            "{short} is also a resource name"
        );
    }
    // kubectl resolves resource names before categories: a category named like a resource
    // would never list anything, and `kubectl get gastown` must stay the GasTown kind.
    assert!(!resource_words.contains(&gastown_api::CATEGORY.to_string()));
    assert!(!short_names.contains(&gastown_api::CATEGORY.to_string()));
    assert!(!BUILT_IN_SHORT_NAMES.contains(&gastown_api::CATEGORY));
}

#[test]
fn printer_columns() {
    let columns = |crd: CustomResourceDefinition| -> Vec<(String, String, String)> {
        crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.name, c.type_, c.json_path))
            .collect()
    };
    let col =
        |name: &str, ty: &str, path: &str| (name.to_string(), ty.to_string(), path.to_string());
    assert_eq!(
        columns(GasTown::crd()),
        [
            col("Phase", "string", ".status.phase"),
            col("Rigs", "integer", ".status.rigCount"),
            col("Agents", "integer", ".status.agentCount"),
            col(
                "Dolt",
                "string",
                r#".status.conditions[?(@.type=="DoltReady")].status"#
            ),
            col(
                "Daemon",
                "string",
                r#".status.conditions[?(@.type=="DaemonReady")].status"#
            ),
            col("Updated", "integer", ".status.updatedAgents"),
            col("Age", "date", ".metadata.creationTimestamp"),
        ]
    );
    assert_eq!(
        columns(Rig::crd()),
        [
            col("Town", "string", r".metadata.labels.gastown\.io/town"),
            col("Phase", "string", ".status.phase"),
            col("Polecats", "integer", ".status.polecatCount"),
            col("Crew", "integer", ".status.crewCount"),
            col("Queue", "integer", ".status.mergeQueue.depth"),
            col("Updated", "integer", ".status.updatedAgents"),
            col("Age", "date", ".metadata.creationTimestamp"),
        ]
    );
    assert_eq!(
        columns(AgentPool::crd()),
        [
            col("Rig", "string", ".spec.rig"),
            col("Role", "string", ".spec.role"),
            col("Active", "integer", ".status.active"),
            col("Pending", "integer", ".status.pending"),
            col("Age", "date", ".metadata.creationTimestamp"),
        ]
    );
    // The Town column reads the label the operator sets.
    assert_eq!(gastown_api::labels::TOWN, "gastown.io/town");
}

#[test]
fn defaults_are_in_the_schemas() {
    let town = schema_of(&GasTown::crd());
    let rig = schema_of(&Rig::crd());
    let pool = schema_of(&AgentPool::crd());
    let cases: &[(&Value, &str, Value)] = &[
        (&town, "spec.daemon.port", json!(9876)),
        (&town, "spec.daemon.httpPort", json!(9080)),
        // No defaults under spec.daemon.external: a defaulted port beside
        // `url` would break the rule that the url carries the port; the
        // operator resolves them (DaemonSpec::endpoint).
        (&town, "spec.daemon.external.port", json!(null)),
        (&town, "spec.daemon.external.httpPort", json!(null)),
        (&town, "spec.dolt.persistence", json!({})),
        (&town, "spec.dolt.persistence.retainOnDelete", json!(true)),
        (&town, "spec.dolt.persistence.size", json!("10Gi")),
        (&town, "spec.rpcServer.enabled", json!(false)),
        (&town, "spec.mayor.enabled", json!(true)),
        (&town, "spec.deacon.enabled", json!(true)),
        (&town, "spec.terminationGracePeriod", json!("10m")),
        (&town, "spec.syncInterval", json!("60s")),
        // No defaults inside list items: a merge patch (client-side apply) replaces a list
        // whole, so a default the server fills into a stored item makes every re-apply of an
        // unchanged manifest a change. The operator resolves these through the accessors
        // (RigSpec::polecats().max_count(), ExternalSecretSpec::refresh_interval(), ...);
        // the same fields of a Rig, outside any list, keep their defaults (below).
        (&town, "spec.rigs[].polecats", json!(null)),
        (&town, "spec.rigs[].polecats.maxCount", json!(null)),
        (&town, "spec.rigs[].polecats.cpu", json!(null)),
        (&town, "spec.rigs[].polecats.memory", json!(null)),
        (&town, "spec.rigs[].polecats.maxRuntime", json!(null)),
        (&town, "spec.rigs[].polecats.cleanupAfter", json!(null)),
        (&town, "spec.rigs[].workspace", json!(null)),
        (&town, "spec.rigs[].workspace.size", json!(null)),
        (&town, "spec.rigs[].workspace.reclaimPolicy", json!(null)),
        (&town, "spec.rigs[].witness", json!(null)),
        (&town, "spec.rigs[].witness.enabled", json!(null)),
        (&town, "spec.rigs[].refinery", json!(null)),
        (&town, "spec.rigs[].refinery.enabled", json!(null)),
        (&town, "spec.rigs[].networkPolicy", json!(null)),
        (&town, "spec.rigs[].networkPolicy.enabled", json!(null)),
        (
            &town,
            "spec.secrets.externalSecrets[].refreshInterval",
            json!(null),
        ),
        (
            &town,
            "spec.secrets.externalSecrets[].secretStoreRef.kind",
            json!(null),
        ),
        (&rig, "spec.workspace", json!({})),
        (&rig, "spec.workspace.size", json!("10Gi")),
        (&rig, "spec.workspace.reclaimPolicy", json!("Retain")),
        (&rig, "spec.witness.enabled", json!(true)),
        (&rig, "spec.refinery.enabled", json!(true)),
        (&rig, "spec.polecats.maxCount", json!(5)),
        (&rig, "spec.polecats.cpu", json!("500m")),
        (&rig, "spec.polecats.memory", json!("1Gi")),
        (&rig, "spec.polecats.maxRuntime", json!("2h")),
        (&rig, "spec.polecats.cleanupAfter", json!("5m")),
        (&rig, "spec.networkPolicy.enabled", json!(true)),
        (&pool, "spec.beadSelector", json!(["execution_target:k8s"])),
    ];
    for (schema, path, expected) in cases {
        assert_eq!(
            &node(schema, path)["default"],
            expected,
            "default of {path}"
        );
    }
}

/// No schema default anywhere inside a list item, in any CRD: CRDs take JSON merge patches,
/// which replace lists whole, so a default the server fills into a stored item makes the live
/// list differ from the manifest's for ever (client-side `kubectl apply` says `configured`
/// each time; Argo CD shows drift). Defaults on the list field itself are fine.
#[test]
fn no_defaults_inside_list_items() {
    fn walk(path: &str, node: &Value, in_list: bool, found: &mut Vec<String>) {
        if in_list && node.get("default").is_some() {
            found.push(format!("{path}: {}", node["default"]));
        }
        if let Some(properties) = node.get("properties").and_then(Value::as_object) {
            for (name, child) in properties {
                walk(&format!("{path}.{name}"), child, in_list, found);
            }
        }
        if let Some(items) = node.get("items").filter(|c| c.is_object()) {
            walk(&format!("{path}[]"), items, true, found);
        }
        if let Some(values) = node.get("additionalProperties").filter(|c| c.is_object()) {
            walk(&format!("{path}{{}}"), values, in_list, found);
        }
    }
    for crd in gastown_api::crds() {
        let mut found = Vec::new();
        walk("", &schema_of(&crd), false, &mut found);
        assert!(
            found.is_empty(),
            "{}: defaults inside list items: {found:#?}",
            crd.spec.names.kind
        );
    }
}

#[test]
fn validation_rules_are_in_the_schemas() {
    let town = schema_of(&GasTown::crd());
    let rig = schema_of(&Rig::crd());
    let pool = schema_of(&AgentPool::crd());

    assert_eq!(
        node(&rig, "spec.name")["pattern"],
        "^[a-z]([-a-z0-9]*[a-z0-9])?$"
    );
    // Names that become parts of other objects' names and of label values are bounded
    // at the root, the only place a rule can read metadata.name.
    let root_rules = |schema: &Value| -> Vec<String> {
        schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["rule"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        root_rules(&town),
        [
            "self.metadata.name.size() <= 40 && !self.metadata.name.contains('.')",
            "!has(self.spec.rigs) || self.spec.rigs.all(rig, self.metadata.name.size() + rig.name.size() <= 52)",
        ]
    );
    assert_eq!(root_rules(&rig), ["self.metadata.name.size() <= 54"]);
    assert_eq!(root_rules(&pool), ["self.metadata.name.size() <= 63"]);
    assert_eq!(rules_at(&rig, "spec.name"), ["self == oldSelf"]);
    assert_eq!(rules_at(&pool, "spec.role"), ["self == oldSelf"]);
    assert!(
        rules_at(&town, "spec.daemon")
            .contains(&"has(self.image) != has(self.external)".to_string())
    );
    assert_eq!(
        rules_at(&town, "spec").len(),
        3,
        "dolt required / forbidden by daemon kind, no dolt.s3"
    );
    assert_eq!(
        rules_at(&pool, "spec").len(),
        3,
        "rig per role, singleton ceiling, immutable rig"
    );
    assert_eq!(rules_at(&rig, "spec.roleOverrides").len(), 1);
    assert!(
        rules_at(&rig, "spec.podOverrides.resources").is_empty(),
        "no requests-within-limits rule: it would need string() or type() (see schema.rs)"
    );

    for (schema, path, keys) in [
        (&town, "spec.rigs", ["name"]),
        (&town, "spec.rigs[].crew", ["name"]),
        (&town, "spec.defaults.env", ["name"]),
        (&town, "spec.secrets.externalSecrets", ["name"]),
        (&town, "status.conditions", ["type"]),
        (&rig, "spec.crew", ["name"]),
        (&pool, "status.agents", ["name"]),
    ] {
        let list = node(schema, path);
        assert_eq!(list["x-kubernetes-list-type"], "map", "{path}");
        assert_eq!(list["x-kubernetes-list-map-keys"], json!(keys), "{path}");
        assert!(
            list["maxItems"].is_u64() || path.starts_with("status"),
            "{path} is bounded"
        );
    }

    for (schema, path, values) in [
        (
            &rig,
            "spec.workspace.reclaimPolicy",
            json!(["Retain", "Delete"]),
        ),
        (
            &rig,
            "spec.podOverrides.imagePullPolicy",
            json!(["Always", "IfNotPresent", "Never"]),
        ),
        (
            &pool,
            "spec.role",
            json!(["polecat", "crew", "witness", "refinery", "mayor", "deacon"]),
        ),
    ] {
        assert_eq!(node(schema, path)["enum"], values, "{path}");
    }

    for path in [
        "spec.daemon.port",
        "spec.daemon.httpPort",
        "spec.rpcServer.port",
    ] {
        let port = node(&town, path);
        assert_eq!(
            (port["minimum"].as_f64(), port["maximum"].as_f64()),
            (Some(1.0), Some(65535.0)),
            "{path}"
        );
    }
    let max_count = node(&rig, "spec.polecats.maxCount");
    assert_eq!(
        (max_count["minimum"].as_f64(), max_count["maximum"].as_f64()),
        (Some(0.0), Some(100.0))
    );

    let quantity = node(&rig, "spec.polecats.memory");
    assert_eq!(quantity["x-kubernetes-int-or-string"], true);
    assert_eq!(quantity["pattern"], gastown_api::schema::QUANTITY_PATTERN);
    assert_eq!(
        node(&town, "spec.syncInterval")["pattern"],
        gastown_api::duration::DURATION_PATTERN
    );
}

#[test]
fn every_field_is_documented() {
    fn walk(path: &str, node: &Value, missing: &mut Vec<String>) {
        if let Some(properties) = node.get("properties").and_then(Value::as_object) {
            // Upstream Kubernetes types carry only their top-level description.
            let own = properties.values().any(|p| p.get("description").is_some());
            for (name, child) in properties {
                let child_path = format!("{path}.{name}");
                if own && child.get("description").is_none() {
                    missing.push(child_path.clone());
                }
                walk(&child_path, child, missing);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = node.get(key).filter(|c| c.is_object()) {
                walk(path, child, missing);
            }
        }
    }
    for crd in gastown_api::crds() {
        let schema = schema_of(&crd);
        let mut missing = Vec::new();
        for part in ["spec", "status"] {
            walk(part, &schema["properties"][part], &mut missing);
        }
        // apiVersion/kind/metadata come from kube and are documented by Kubernetes.
        assert!(
            missing.is_empty(),
            "{}: undocumented fields {missing:#?}",
            crd.spec.names.kind
        );
    }
}

/// Every CEL rule compiles, uses only `self`/`oldSelf`, and has a bounded cost estimate
/// (the API server refuses CRDs whose rules could exceed the per-rule budget).
#[test]
fn cel_rules_compile_with_bounded_cost() {
    fn walk(path: &str, node: &Value, found: &mut usize, problems: &mut Vec<String>) {
        if let Some(rules) = node
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
        {
            let compiled = kube_cel::compile_schema(node);
            for error in compiled.compilation_errors() {
                problems.push(format!("{path}: {error}"));
            }
            for rule in rules {
                *found += 1;
                let rule = rule["rule"].as_str().unwrap();
                for warning in
                    kube_cel::analyze_rule(rule, &compiled, kube_cel::ScopeContext::CrdValidation)
                {
                    if !is_false_scope_warning(rule, &warning) {
                        problems.push(format!("{path}: {rule}: {}", warning.message));
                    }
                }
            }
        }
        if let Some(properties) = node.get("properties").and_then(Value::as_object) {
            for (name, child) in properties {
                walk(&format!("{path}.{name}"), child, found, problems);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = node.get(key).filter(|c| c.is_object()) {
                walk(&format!("{path}[]"), child, found, problems);
            }
        }
    }
    for crd in gastown_api::crds() {
        let (mut found, mut problems) = (0, Vec::new());
        walk("", &schema_of(&crd), &mut found, &mut problems);
        assert!(found > 0, "{} has CEL rules", crd.spec.names.kind);
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}",
            crd.spec.names.kind
        );
    }
}

/// kube-cel's scope check also reports identifiers that are in scope: the variables macros
/// such as `all(name, ...)` bind, and CEL's type names (`type(x) != string`).
fn is_false_scope_warning(rule: &str, warning: &kube_cel::AnalysisWarning) -> bool {
    const TYPE_NAMES: [&str; 9] = [
        "bool",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "list",
        "map",
        "null_type",
    ];
    let Some(identifier) = warning.message.split('\'').nth(1) else {
        return false;
    };
    warning.kind == kube_cel::WarningKind::WrongScope
        && (TYPE_NAMES.contains(&identifier)
            || ["all", "exists", "exists_one", "map", "filter"]
                .iter()
                .any(|m| rule.contains(&format!(".{m}({identifier},"))))
}

/// The schemas are structural, and every default is valid against the schema it sits in
/// (kube-apiserver refuses CRDs whose defaults would be pruned or invalid).
#[test]
fn schemas_are_structural_with_valid_defaults() {
    fn walk(path: &str, node: &Value, checked: &mut usize, problems: &mut Vec<String>) {
        if let Some(default) = node.get("default") {
            *checked += 1;
            // Validate the default as the only property of a synthetic object.
            let wrapper = json!({"type": "object", "properties": {"value": node}});
            let schema = structural_schema::StructuralSchema::new(&wrapper).unwrap();
            let mut object = json!({ "value": default });
            let before = object.clone();
            schema.prune(&mut object);
            if object != before {
                problems.push(format!("{path}: default {default} is pruned to {object}"));
            }
            let errors = schema.validate(&object, None);
            if !errors.is_empty() {
                problems.push(format!("{path}: default {default}: {errors}"));
            }
        }
        if let Some(properties) = node.get("properties").and_then(Value::as_object) {
            for (name, child) in properties {
                walk(&format!("{path}.{name}"), child, checked, problems);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = node.get(key).filter(|c| c.is_object()) {
                walk(&format!("{path}[]"), child, checked, problems);
            }
        }
    }
    for crd in gastown_api::crds() {
        let schema = schema_of(&crd);
        if let Err(error) = structural_schema::StructuralSchema::new(&schema) {
            panic!("{}: {error}", crd.spec.names.kind);
        }
        let (mut checked, mut problems) = (0, Vec::new());
        walk("", &schema, &mut checked, &mut problems);
        assert!(checked > 0, "{} has defaults", crd.spec.names.kind);
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}",
            crd.spec.names.kind
        );
    }
}

#[test]
fn typed_objects_round_trip_minimally() {
    use gastown_api::gastown::{DaemonSpec, GasTownSpec};
    let spec = GasTownSpec {
        daemon: DaemonSpec {
            external: Some(gastown_api::gastown::ExternalDaemon {
                host: Some("bd.example.com".into()),
                ..Default::default()
            }),
            ..DaemonSpec::default()
        },
        ..GasTownSpec::default()
    };
    let town = GasTown::new("t", spec);
    let value = serde_json::to_value(&town).unwrap();
    // Unset optional fields are left out, so a server-side apply owns only what was set.
    assert_eq!(
        value["spec"],
        json!({"daemon": {"external": {"host": "bd.example.com"}}})
    );
    let back: GasTown = serde_json::from_value(value).unwrap();
    assert_eq!(back.spec, town.spec);
    assert_eq!(back.spec.daemon.endpoint("unused").port, 9876);
    assert_eq!(
        back.spec.sync_interval(),
        std::time::Duration::from_secs(60)
    );
}

#[test]
fn reference_documents_every_kind_and_the_pod_template() {
    let markdown = gastown_api::reference::markdown(&gastown_api::crds());
    for heading in [
        "## GasTown",
        "## Rig",
        "## AgentPool",
        "## PodTemplate",
        "### Rig.spec",
        "### AgentPool.status",
    ] {
        assert!(markdown.contains(heading), "missing {heading}");
    }
    assert!(markdown.contains("| `spec.daemon.port` | integer | `9876` | 1..65535 |"));
    assert!(markdown.contains("See [PodTemplate](#podtemplate)"));
    assert!(
        markdown.contains("See [Rig.spec](#rigspec)"),
        "GasTown.spec.rigs links to the Rig spec"
    );
}
