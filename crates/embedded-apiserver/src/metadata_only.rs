//! `PartialObjectMetadata`: clients that need only metadata (kube-runtime's
//! `metadata_watcher`, `Api::get_metadata`, client-go's metadata informers)
//! ask for `Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`
//! (`...List` for lists) and get each object's metadata only.
//! Upstream: apiserver's endpoints/handlers/response.go (`transformObject`,
//! `asPartialObjectMetadataList` sets every item's kind and apiVersion).

use http::{HeaderMap, header};
use serde_json::{Value, json};

pub const API_VERSION: &str = "meta.k8s.io/v1";

/// Whether the `Accept` header asks for metadata only, in JSON.
pub fn requested(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let params: Vec<&str> = range.split(';').map(str::trim).collect();
            matches!(params.first(), Some(&("application/json" | "*/*")))
                && params.contains(&"g=meta.k8s.io")
                && params.contains(&"v=v1")
                && (params.contains(&"as=PartialObjectMetadata")
                    || params.contains(&"as=PartialObjectMetadataList"))
        })
}

/// One object as `PartialObjectMetadata`.
pub fn object(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": API_VERSION,
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A list's items as a `PartialObjectMetadataList`.
pub fn list<'a>(metadata: Value, items: impl Iterator<Item = &'a Value>) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": API_VERSION,
        "metadata": metadata,
        "items": items.map(object).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
                .parse()
                .unwrap(),
        );
        assert!(requested(&headers));
        headers.insert(
            header::ACCEPT,
            "application/json;as=Table;g=meta.k8s.io;v=v1"
                .parse()
                .unwrap(),
        );
        assert!(!requested(&headers));
    }
}
