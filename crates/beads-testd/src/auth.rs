//! Token checks of both listeners, with the daemon's error texts.

/// Why an HTTP request was refused (the `error` of the 401 body).
pub(crate) fn check_bearer(
    expected: &str,
    reject_all: bool,
    authorization: Option<&str>,
) -> Result<(), &'static str> {
    if expected.is_empty() && !reject_all {
        return Ok(()); // a daemon without a token does not authenticate
    }
    let header = authorization.ok_or("missing Authorization header")?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or("invalid Authorization header format")?;
    if reject_all || token != expected {
        Err("invalid token")
    } else {
        Ok(())
    }
}

/// The TCP listener's refusal text.
pub(crate) const TCP_AUTH_FAILED: &str = "authentication failed: invalid or missing token";

pub(crate) fn check_tcp_token(
    expected: &str,
    reject_all: bool,
    token: Option<&str>,
) -> Result<(), &'static str> {
    if expected.is_empty() && !reject_all {
        return Ok(());
    }
    if reject_all || token != Some(expected) {
        Err(TCP_AUTH_FAILED)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_table() {
        let cases = [
            ("s3cret", false, None, Err("missing Authorization header")),
            (
                "s3cret",
                false,
                Some("Basic abc"),
                Err("invalid Authorization header format"),
            ),
            ("s3cret", false, Some("Bearer nope"), Err("invalid token")),
            ("s3cret", false, Some("Bearer s3cret"), Ok(())),
            ("s3cret", true, Some("Bearer s3cret"), Err("invalid token")),
            ("", false, None, Ok(())),
            ("", true, Some("Bearer "), Err("invalid token")),
        ];
        for (expected, reject_all, header, outcome) in cases {
            assert_eq!(
                check_bearer(expected, reject_all, header),
                outcome,
                "{expected:?} {reject_all} {header:?}"
            );
        }
    }

    #[test]
    fn tcp_table() {
        assert_eq!(check_tcp_token("s3cret", false, Some("s3cret")), Ok(()));
        assert_eq!(
            check_tcp_token("s3cret", false, Some("other")),
            Err(TCP_AUTH_FAILED)
        );
        assert_eq!(check_tcp_token("s3cret", false, None), Err(TCP_AUTH_FAILED));
        assert_eq!(
            check_tcp_token("s3cret", true, Some("s3cret")),
            Err(TCP_AUTH_FAILED)
        );
        assert_eq!(check_tcp_token("", false, None), Ok(()));
    }
}
