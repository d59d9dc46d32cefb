//! The daemon's bearer token, kept out of every log line, error and status.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// What a redacted secret prints as.
pub const REDACTED: &str = "***";

/// The bd daemon token (`BD_DAEMON_TOKEN`).
///
/// `Debug` and `Display` print `***`; the only way to the text is
/// [`Token::expose`], which the transports call when they build a request.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// Wraps a token value, dropping surrounding whitespace (Secrets and files often
    /// end with a newline). An empty value is `None`: the daemon treats a missing
    /// token and an empty one alike.
    pub fn new(value: impl AsRef<str>) -> Option<Self> {
        let trimmed = value.as_ref().trim();
        (!trimmed.is_empty()).then(|| Self(Arc::from(trimmed)))
    }

    /// Reads a token from a file such as a mounted Secret key.
    /// The error names the file, never its content.
    pub fn from_file(path: impl AsRef<Path>) -> std::io::Result<Option<Self>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot read token file {}: {error}", path.display()),
            )
        })?;
        Ok(Self::new(text))
    }

    /// The secret text itself; for building requests only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the token in `text` by `***`.
    /// Used on text that comes back from the daemon before it goes into an error.
    pub fn redact(&self, text: &str) -> String {
        text.replace(self.expose(), REDACTED)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let token = Token::new("s3cr3t-value").expect("non-empty");
        assert_eq!(format!("{token:?}"), REDACTED);
        assert_eq!(format!("{token}"), REDACTED);
        assert_eq!(token.expose(), "s3cr3t-value");
    }

    #[test]
    fn whitespace_is_trimmed_and_empty_is_none() {
        assert_eq!(
            Token::new("  abc\n").map(|t| t.expose().to_owned()),
            Some("abc".into())
        );
        assert!(Token::new(" \n").is_none());
    }

    #[test]
    fn redact_removes_every_occurrence() {
        let token = Token::new("tok").expect("non-empty");
        assert_eq!(token.redact("bad tok, tok!"), "bad ***, ***!");
    }

    #[test]
    fn from_file_reads_and_trims() {
        let dir = std::env::temp_dir().join(format!("beads-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "file-token\n").unwrap();
        let token = Token::from_file(&path).unwrap().expect("non-empty");
        assert_eq!(token.expose(), "file-token");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
