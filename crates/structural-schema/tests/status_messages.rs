//! The 422 Status pieces kube-apiserver builds from field errors.

use serde_json::json;
use structural_schema::{ErrorType, FieldError, FieldErrors};

#[test]
fn single_error_is_inline_and_several_are_bracketed() {
    let one: FieldErrors = vec![FieldError::required("spec.gitURL", "")].into();
    assert_eq!(
        one.invalid_message("GasTown.gastown.io", "x"),
        r#"GasTown.gastown.io "x" is invalid: spec.gitURL: Required value"#
    );
    let two: FieldErrors = vec![
        FieldError::required("spec.gitURL", ""),
        FieldError::invalid("spec.port", json!(70000), "too big"),
        FieldError::required("spec.gitURL", ""),
    ]
    .into();
    assert_eq!(
        two.invalid_message("GasTown.gastown.io", "x"),
        r#"GasTown.gastown.io "x" is invalid: [spec.gitURL: Required value, spec.port: Invalid value: 70000: too big]"#
    );
    assert_eq!(
        FieldErrors::new().invalid_message("GasTown.gastown.io", "x"),
        r#"GasTown.gastown.io "x" is invalid"#
    );
}

#[test]
fn causes_carry_reason_body_and_field() {
    let errors: FieldErrors = vec![
        FieldError::not_supported(
            "spec.role",
            json!("foo"),
            &["polecat".into(), "crew".into()],
        ),
        FieldError::too_many("spec.rigs", 5, 3),
    ]
    .into();
    assert_eq!(
        errors.status_causes(),
        vec![
            json!({"reason": "FieldValueNotSupported", "message": r#"Unsupported value: "foo": supported values: "polecat", "crew""#, "field": "spec.role"}),
            json!({"reason": "FieldValueTooMany", "message": "Too many: 5: must have at most 3 items", "field": "spec.rigs"}),
        ]
    );
}

#[test]
fn bad_values_render_like_go() {
    let cases = vec![
        (
            FieldError::invalid("f", json!("a\"b"), "d"),
            r#"f: Invalid value: "a\"b": d"#,
        ),
        (
            FieldError::invalid("f", json!(1.5), "d"),
            "f: Invalid value: 1.5: d",
        ),
        (
            FieldError::invalid("f", json!(true), ""),
            "f: Invalid value: true",
        ),
        (
            FieldError::invalid("f", json!(null), "d"),
            r#"f: Invalid value: "null": d"#,
        ),
        (
            FieldError::invalid("f", json!(["a", 1]), "d"),
            r#"f: Invalid value: []interface {}{"a", 1}: d"#,
        ),
        (
            FieldError::forbidden("f", "not allowed"),
            "f: Forbidden: not allowed",
        ),
        (
            FieldError::too_long("f", 63),
            "f: Too long: may not be more than 63 bytes",
        ),
        (FieldError::internal("f", "boom"), "f: Internal error: boom"),
    ];
    for (error, want) in cases {
        assert_eq!(error.to_string(), want);
    }
    assert_eq!(
        FieldError::forbidden("f", "x").error_type.reason(),
        "FieldValueForbidden"
    );
    assert_eq!(ErrorType::TypeInvalid.reason(), "FieldValueTypeInvalid");
}
