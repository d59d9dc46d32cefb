//! Validation, defaulting and pruning of custom objects with their CRD
//! version's structural schema (the `structural-schema` crate).

use crate::cluster::Subresource;
use crate::errors::ApiError;
use serde_json::Value;
use structural_schema::{FieldErrors, SchemaError, StructuralSchema};

/// The compiled schema of one served CRD version.
pub struct CustomValidator {
    kind: String,
    schema: StructuralSchema,
}

impl CustomValidator {
    /// Compiles a CRD version's schema; `at` is where it sits in the CRD
    /// (`spec.versions[0].schema.openAPIV3Schema`), for error paths.
    pub fn new(schema: &Value, kind: &str, at: &str) -> Result<Self, SchemaError> {
        Ok(Self {
            kind: kind.to_owned(),
            schema: StructuralSchema::new_at(schema, at)?,
        })
    }

    /// Prunes, defaults and validates `object` in place; `old` is the stored
    /// object on updates (transition rules see it as `oldSelf`). Status
    /// writes are checked on `status` only, like upstream's status strategy.
    /// Returns the paths of the unknown fields that were pruned.
    pub fn admit(
        &self,
        object: &mut Value,
        old: Option<&Value>,
        subresource: Subresource,
        group: &str,
        name: &str,
    ) -> Result<Vec<String>, ApiError> {
        let unknown = self.schema.prune_reporting_unknown(object);
        self.schema.default(object);
        let errors = match (subresource, old) {
            (Subresource::Status, Some(old)) => self.schema.validate_status_update(object, old),
            _ => self.schema.validate(object, old),
        };
        if errors.is_empty() {
            Ok(unknown)
        } else {
            Err(invalid(&self.kind, group, name, &errors))
        }
    }
}

/// A 422 from structural-schema's field errors.
pub fn invalid(kind: &str, group: &str, name: &str, errors: &FieldErrors) -> ApiError {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    ApiError::Invalid {
        kind: kind.to_owned(),
        group: group.to_owned(),
        name: name.to_owned(),
        message: errors.invalid_message(&qualified, name),
        causes: errors.status_causes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator() -> CustomValidator {
        let schema = json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "size": { "type": "integer", "minimum": 1, "default": 3 },
                        "mode": { "type": "string", "enum": ["fast", "safe"] }
                    }
                }
            }
        });
        CustomValidator::new(&schema, "Widget", "openAPIV3Schema").unwrap()
    }

    #[test]
    fn defaults_prunes_and_refuses_with_the_kind_in_the_message() {
        let v = validator();
        let mut ok = json!({ "metadata": { "name": "w" }, "spec": { "extra": 1 } });
        v.admit(&mut ok, None, Subresource::Main, "example.com", "w")
            .unwrap();
        assert_eq!(ok["spec"], json!({ "size": 3 }));
        let mut bad = json!({ "metadata": { "name": "w" }, "spec": { "mode": "slow" } });
        let err = v
            .admit(&mut bad, None, Subresource::Main, "example.com", "w")
            .unwrap_err();
        let status = err.status();
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .starts_with("Widget.example.com \"w\" is invalid: spec.mode")
        );
        assert_eq!(status["details"]["kind"], "Widget");
        assert_eq!(status["code"], 422);
    }
}
