//! OpenAPI v2 and v3 documents for built-in and custom resources, as served at
//! `/openapi/v2` and `/openapi/v3[/<group-version>]`.

use crate::resource::ResourceInfo;
use serde_json::{Value, json};

/// `GET /openapi/v3`: the index of group-version documents.
pub fn v3_index(_resources: &[ResourceInfo]) -> Value {
    json!({ "paths": {} })
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`; `None` when not served.
pub fn v3_group_version(_group: &str, _version: &str, _resources: &[ResourceInfo]) -> Option<Value> {
    None
}

/// `GET /openapi/v2` as JSON.
pub fn v2(_resources: &[ResourceInfo]) -> Value {
    json!({ "swagger": "2.0", "info": { "title": "Kubernetes", "version": "v1.33.0" }, "paths": {}, "definitions": {} })
}
