//! `pattern` regular expressions with Go (RE2) semantics on top of the
//! `regex` crate.
//!
//! Both engines share RE2 syntax; the difference that matters for CRD
//! patterns is that Go's Perl classes (`\d`, `\w`, `\s`, `\b`) are ASCII-only
//! while the `regex` crate makes them Unicode-aware. We rewrite those classes
//! to their ASCII sets before compiling. Known remaining gaps: Go's `\Q…\E`
//! literal quoting and `\C` are not supported and are reported as invalid.

use regex::Regex;

/// A compiled `pattern`, remembering its source for error messages.
#[derive(Clone, Debug)]
pub(crate) struct GoRegex {
    source: String,
    regex: Regex,
}

impl GoRegex {
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        let regex = Regex::new(&to_rust_syntax(source))?;
        Ok(Self {
            source: source.to_string(),
            regex,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

/// Rewrites Go's ASCII-only Perl classes into explicit ASCII sets.
fn to_rust_syntax(go: &str) -> String {
    let mut out = String::with_capacity(go.len() + 16);
    let mut in_class = false;
    let mut chars = go.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let (plain, negated) = match next {
                    'd' => (Some("0-9"), false),
                    'D' => (Some("0-9"), true),
                    'w' => (Some("0-9A-Za-z_"), false),
                    'W' => (Some("0-9A-Za-z_"), true),
                    's' => (Some("\\t\\n\\f\\r "), false),
                    'S' => (Some("\\t\\n\\f\\r "), true),
                    _ => (None, false),
                };
                match (plain, next) {
                    (Some(set), _) => {
                        let caret = if negated { "^" } else { "" };
                        if in_class && !negated {
                            out.push_str(set);
                        } else {
                            out.push_str(&format!("[{caret}{set}]"));
                        }
                    }
                    (None, 'b') if !in_class => out.push_str("(?-u:\\b)"),
                    (None, 'B') if !in_class => out.push_str("(?-u:\\B)"),
                    (None, other) => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading `^` and/or `]` belong to the class itself.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_class => {
                // `[[:alpha:]]`-style named classes are passed through whole.
                if chars.peek() == Some(&':') {
                    out.push('[');
                    for n in chars.by_ref() {
                        out.push(n);
                        if n == ']' {
                            break;
                        }
                    }
                } else {
                    // A literal `[` inside a Go class; the regex crate would read
                    // it as a nested class.
                    out.push_str("\\[");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii_only_like_go() {
        let digits = GoRegex::new(r"^\d+$").unwrap();
        assert!(digits.is_match("0123"));
        assert!(
            !digits.is_match("١٢٣"),
            "Arabic-Indic digits are not \\d in Go"
        );
        let word = GoRegex::new(r"^[\w.-]+$").unwrap();
        assert!(word.is_match("a_b.c-d"));
        assert!(!word.is_match("é"));
        let not_space = GoRegex::new(r"^\S+$").unwrap();
        assert!(!not_space.is_match("a b"));
        assert!(GoRegex::new(r"\bfoo\b").unwrap().is_match("a foo b"));
    }

    #[test]
    fn classes_with_brackets_and_named_sets() {
        assert!(GoRegex::new(r"^[]a]+$").unwrap().is_match("]a"));
        assert!(GoRegex::new(r"^[[:alpha:]]+$").unwrap().is_match("abc"));
        assert!(GoRegex::new(r"^[a[]+$").unwrap().is_match("a[["));
        assert!(GoRegex::new(r"^[^\d]+$").unwrap().is_match("abc"));
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        assert!(GoRegex::new("(").is_err());
    }
}
