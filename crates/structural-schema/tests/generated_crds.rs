//! The project's generated CRDs (`config/crd/`, from `cargo xtask crdgen`)
//! and examples (`examples/`), taken through admission.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use structural_schema::StructuralSchema;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_yaml(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The schema of the first version of the generated CRD for `plural`.
fn schema(plural: &str) -> StructuralSchema {
    let crd = read_yaml(&repo_root().join(format!("config/crd/{plural}.gastown.io.yaml")));
    StructuralSchema::new_at(
        &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
        "spec.versions[0].schema.openAPIV3Schema",
    )
    .unwrap_or_else(|e| panic!("{plural}: {e}"))
}

fn plural_of(kind: &str) -> &'static str {
    match kind {
        "GasTown" => "gastowns",
        "Rig" => "rigs",
        "AgentPool" => "agentpools",
        other => panic!("no CRD for kind {other}"),
    }
}

fn example(name: &str) -> Value {
    read_yaml(&repo_root().join("examples").join(name))
}

fn rendered(errors: &structural_schema::FieldErrors) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn every_example_is_admitted_by_its_crd() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_root().join("examples")).expect("examples/ exists") {
        let path = entry.expect("readable directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let mut object = read_yaml(&path);
        let kind = object["kind"]
            .as_str()
            .expect("examples name their kind")
            .to_string();
        if let Err(errors) = schema(plural_of(&kind)).admit(&mut object, None) {
            panic!("{} is refused: {errors}", path.display());
        }
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the GasTown, Rig and AgentPool examples, found {checked}"
    );
}

#[test]
fn gastown_refusals_carry_kube_apiserver_messages() {
    let schema = schema("gastowns");
    let mut town = example("gastown-minimal.yaml");
    town["spec"]
        .as_object_mut()
        .expect("spec is an object")
        .remove("dolt");
    town["spec"]["daemon"]["port"] = json!(70000);
    let errors = schema.admit(&mut town, None).unwrap_err();
    assert_eq!(
        rendered(&errors),
        vec![
            "spec.daemon.port: Invalid value: 70000: spec.daemon.port in body should be less than or equal to 65535",
            "spec.dolt: Required value: spec.dolt is required unless spec.daemon.external names a bd daemon that brings its own database",
        ]
    );
}

#[test]
fn rig_names_are_checked_and_immutable() {
    let schema = schema("rigs");
    let mut bad = example("rig-standalone.yaml");
    bad["spec"]["name"] = json!("Bad");
    assert_eq!(
        rendered(&schema.admit(&mut bad, None).unwrap_err()),
        vec![
            r#"spec.name: Invalid value: "Bad": spec.name in body should match '^[a-z]([-a-z0-9]*[a-z0-9])?$'"#
        ]
    );

    let mut old = example("rig-standalone.yaml");
    schema.admit(&mut old, None).expect("example is valid");
    let mut renamed = old.clone();
    renamed["spec"]["name"] = json!("other");
    let errors = schema.admit(&mut renamed, Some(&old)).unwrap_err();
    assert_eq!(
        errors.invalid_message("Rig.gastown.io", "tools"),
        r#"Rig.gastown.io "tools" is invalid: spec.name: Invalid value: "string": spec.name is immutable: it is the beads rig name"#
    );
}

#[test]
fn agentpool_enum_errors_block_cel_rules() {
    let schema = schema("agentpools");
    let mut pool = example("agentpool-polecats.yaml");
    pool["spec"]["role"] = json!("foo");
    let errors = schema.admit(&mut pool, None).unwrap_err();
    assert_eq!(
        rendered(&errors),
        vec![
            r#"spec.role: Unsupported value: "foo": supported values: "polecat", "crew", "witness", "refinery", "mayor", "deacon""#,
            r#"<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#,
        ]
    );
}
