//! apimachinery's `ValidateAnnotationsSize`: the keys and values of
//! `metadata.annotations` together may not exceed 256 KiB
//! (`TotalAnnotationSizeLimitB`, pkg/api/validation/objectmeta.go).

use crate::errors::{FieldError, FieldErrorKind};
use serde_json::Value;

pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

pub fn size_errors(object: &Value) -> Option<FieldError> {
    let annotations = object.pointer("/metadata/annotations")?.as_object()?;
    let total: usize = annotations
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    (total > TOTAL_ANNOTATION_SIZE_LIMIT).then(|| FieldError {
        field: "metadata.annotations".into(),
        kind: FieldErrorKind::TooLong(TOTAL_ANNOTATION_SIZE_LIMIT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_limit_counts_keys_and_values() {
        let at_limit = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1);
        assert!(
            size_errors(&json!({ "metadata": { "annotations": { "a": at_limit } } })).is_none()
        );
        let over = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let error = size_errors(&json!({ "metadata": { "annotations": { "a": over } } })).unwrap();
        assert_eq!(
            error.to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
    }
}
