//! Built-in kinds served for protocol completeness rather than for the
//! operator: CertificateSigningRequests, TokenReviews, ComponentStatuses,
//! APIServices, Endpoints and EndpointSlices (the bootstrap `kubernetes`
//! Service's).

use crate::builtin::{BuiltinKind, DEFAULT, Spec, decode_as, kind, schema_of};
use crate::names::NameRule;
use crate::resource::ResourceInfo;
use k8s_openapi::api::{authentication, certificates, core, discovery};
use serde_json::{Value, json};

/// A kind k8s-openapi has no listable type for, served with `verbs`.
fn by_hand(
    info: ResourceInfo,
    decode: fn(&Value) -> Result<(), Vec<crate::errors::FieldError>>,
    schema: fn() -> Value,
) -> BuiltinKind {
    BuiltinKind {
        info,
        name_rule: NameRule::Dns1123Subdomain,
        tracks_generation: false,
        selectable_fields: &[],
        decode,
        schema,
    }
}

fn info(group: &str, kind: &str, plural: &str, namespaced: bool, verbs: &[&str]) -> ResourceInfo {
    ResourceInfo {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: Vec::new(),
        categories: Vec::new(),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        status_subresource: false,
        printer_columns: Vec::new(),
        schema: None,
        custom: false,
    }
}

fn accept_any(_: &Value) -> Result<(), Vec<crate::errors::FieldError>> {
    Ok(())
}

fn object_schema() -> Value {
    json!({ "type": "object" })
}

pub fn kinds() -> Vec<BuiltinKind> {
    let csr = kind::<certificates::v1::CertificateSigningRequest>(Spec {
        plural: "certificatesigningrequests",
        singular: "certificatesigningrequest",
        short_names: &["csr"],
        status: true,
        ..DEFAULT
    });
    let mut component_statuses = kind::<core::v1::ComponentStatus>(Spec {
        plural: "componentstatuses",
        singular: "componentstatus",
        short_names: &["cs"],
        ..DEFAULT
    });
    // Read-only, like upstream's (deprecated since 1.19) componentstatuses.
    component_statuses.info.verbs = vec!["get".into(), "list".into()];
    let mut api_services = by_hand(
        info(
            "apiregistration.k8s.io",
            "APIService",
            "apiservices",
            false,
            &crate::builtin::ALL_VERBS,
        ),
        accept_any,
        object_schema,
    );
    api_services.info.status_subresource = true;
    // `v1.` names the core group's APIService (ValidateAPIServiceName).
    api_services.name_rule = NameRule::PathSegment;
    api_services.info.categories = vec!["api-extensions".into()];
    vec![
        csr,
        by_hand(
            info(
                "authentication.k8s.io",
                "TokenReview",
                "tokenreviews",
                false,
                &["create"],
            ),
            decode_as::<authentication::v1::TokenReview>,
            schema_of::<authentication::v1::TokenReview>,
        ),
        component_statuses,
        api_services,
        kind::<core::v1::Endpoints>(Spec {
            plural: "endpoints",
            singular: "endpoints",
            short_names: &["ep"],
            ..DEFAULT
        }),
        kind::<discovery::v1::EndpointSlice>(Spec {
            plural: "endpointslices",
            singular: "endpointslice",
            ..DEFAULT
        }),
    ]
}
