//! Object name rules and the messages upstream's `k8s.io/apimachinery/pkg/util/validation` gives.

/// Which rule a kind's `metadata.name` follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: most kinds.
    Dns1123Subdomain,
    /// RFC 1123 label: namespaces.
    Dns1123Label,
    /// RFC 1035 label: services.
    Dns1035Label,
    /// Any name usable as a URL path segment: RBAC kinds.
    PathSegment,
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_1123_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label_1123(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// The details of what is wrong with `name`, or empty when it is valid.
/// Each entry is one upstream message (`must be no more than 63 characters`, ...).
pub fn problems(rule: NameRule, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    match rule {
        NameRule::Dns1123Subdomain => {
            if name.len() > 253 {
                problems.push("must be no more than 253 characters".to_owned());
            }
            if !name.split('.').all(is_label_1123) {
                problems.push(SUBDOMAIN_MSG.to_owned());
            }
        }
        NameRule::Dns1123Label => {
            if name.len() > 63 {
                problems.push("must be no more than 63 characters".to_owned());
            }
            if !is_label_1123(name) {
                problems.push(LABEL_1123_MSG.to_owned());
            }
        }
        NameRule::Dns1035Label => {
            if name.len() > 63 {
                problems.push("must be no more than 63 characters".to_owned());
            }
            if !is_label_1123(name) || !name.as_bytes()[0].is_ascii_lowercase() {
                problems.push(LABEL_1035_MSG.to_owned());
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                problems.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    problems.push(format!("may not contain '{bad}'"));
                }
            }
        }
    }
    problems
}

const QUALIFIED_NAME_FMT: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the shape of label values and
/// of the name part of qualified names.
fn is_qualified_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// Upstream's `IsQualifiedName`: an optional DNS subdomain prefix and `/`,
/// then a name of at most 63 characters (label keys, annotation keys).
pub fn qualified_name_problems(key: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_owned());
            } else {
                for problem in self::problems(NameRule::Dns1123Subdomain, prefix) {
                    problems.push(format!("prefix part {problem}"));
                }
            }
            *name
        }
        _ => {
            problems.push(format!(
                "a qualified name {QUALIFIED_NAME_FMT} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return problems;
        }
    };
    if name.is_empty() {
        problems.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        problems.push("name part must be no more than 63 characters".to_owned());
    }
    if !name.is_empty() && !is_qualified_part(name) {
        problems.push(format!("name part {QUALIFIED_NAME_FMT}"));
    }
    problems
}

/// Upstream's `IsValidLabelValue`.
pub fn label_value_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > 63 {
        problems.push("must be no more than 63 characters".to_owned());
    }
    if !value.is_empty() && !is_qualified_part(value) {
        problems.push(LABEL_VALUE_MSG.to_owned());
    }
    problems
}

/// Characters upstream's `generateName` suffix is drawn from (no vowels, no look-alikes).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `generateName` plus five random characters, with the prefix cut so the
/// whole name stays within 63 characters like upstream.
pub fn generate(prefix: &str) -> String {
    let prefix: String = prefix.chars().take(58).collect();
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let suffix: String = bytes[..5]
        .iter()
        .map(|b| SUFFIX_ALPHABET[*b as usize % SUFFIX_ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_allow_dots_but_not_capitals_or_underscores() {
        assert!(problems(NameRule::Dns1123Subdomain, "web.example-1").is_empty());
        assert_eq!(
            problems(NameRule::Dns1123Subdomain, "Foo_bar"),
            vec![SUBDOMAIN_MSG.to_owned()]
        );
        assert_eq!(problems(NameRule::Dns1123Subdomain, "a.").len(), 1);
        assert_eq!(
            problems(NameRule::Dns1123Subdomain, &"a".repeat(254)).len(),
            1
        );
    }

    #[test]
    fn labels_refuse_dots_and_1035_needs_a_leading_letter() {
        assert!(problems(NameRule::Dns1123Label, "ns-1").is_empty());
        assert_eq!(problems(NameRule::Dns1123Label, "a.b").len(), 1);
        assert!(problems(NameRule::Dns1123Label, "1abc").is_empty());
        assert_eq!(
            problems(NameRule::Dns1035Label, "1abc"),
            vec![LABEL_1035_MSG.to_owned()]
        );
        assert_eq!(
            problems(NameRule::Dns1123Label, &"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn label_keys_are_qualified_names_and_values_short_plain_words() {
        for key in [
            "app",
            "app.kubernetes.io/name",
            "gastown.io/town",
            "A_b.c-1",
        ] {
            assert!(qualified_name_problems(key).is_empty(), "{key}");
        }
        assert_eq!(
            qualified_name_problems("Example.com/x"),
            vec![format!("prefix part {SUBDOMAIN_MSG}")]
        );
        assert_eq!(
            qualified_name_problems("bad key"),
            vec![format!("name part {QUALIFIED_NAME_FMT}")]
        );
        assert_eq!(qualified_name_problems("a/b/c").len(), 1);
        assert_eq!(
            qualified_name_problems(&"k".repeat(64)),
            vec!["name part must be no more than 63 characters"]
        );
        for value in ["", "minimal", "Nux_1", "v1.2-rc"] {
            assert!(label_value_problems(value).is_empty(), "{value:?}");
        }
        assert_eq!(label_value_problems("-x"), vec![LABEL_VALUE_MSG.to_owned()]);
        assert_eq!(
            label_value_problems("a b"),
            vec![LABEL_VALUE_MSG.to_owned()]
        );
        assert_eq!(
            label_value_problems(&"v".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn path_segments_refuse_slashes() {
        assert!(problems(NameRule::PathSegment, "system:controller:x").is_empty());
        assert_eq!(
            problems(NameRule::PathSegment, "a/b"),
            vec!["may not contain '/'"]
        );
    }

    #[test]
    fn generated_names_keep_the_prefix_and_add_five_characters() {
        let name = generate("web-");
        assert!(name.starts_with("web-"));
        assert_eq!(name.len(), 9);
        assert!(problems(NameRule::Dns1123Subdomain, &name).is_empty());
    }
}
