//! Where the daemon listens; the URL scheme chooses the transport.

use std::fmt;
use std::str::FromStr;

use reqwest::Url;

use crate::error::BeadsError;

/// A bd daemon address.
///
/// - `http://host:port` — the HTTP listener (`POST /bd.v1.BeadsService/<Method>`, `/events`).
/// - `tcp://host:port` — the newline-delimited JSON listener.
///
/// `https://` is refused: the client is built without a TLS stack (the daemon is
/// reached inside the cluster; TLS would pull in a crypto provider the operator
/// does not otherwise need for this hop).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Http { base: Url },
    Tcp { authority: String },
}

impl Endpoint {
    /// Builds the URL of a path on the HTTP listener, or `None` on TCP.
    pub(crate) fn http_url(&self, path: &str) -> Option<Url> {
        match self {
            Self::Http { base } => base.join(path).ok(),
            Self::Tcp { .. } => None,
        }
    }
}

impl FromStr for Endpoint {
    type Err = BeadsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| BeadsError::InvalidEndpoint {
            endpoint: text.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(text.trim()).map_err(|error| invalid(&error.to_string()))?;
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("no host"))?;
        if !url.username().is_empty() || url.password().is_some() {
            // Credentials belong in the token, never in an address that gets logged.
            return Err(invalid(
                "credentials in the URL are not accepted; use the token",
            ));
        }
        match url.scheme() {
            "http" => {
                let mut base = url.clone();
                base.set_query(None);
                base.set_fragment(None);
                // Joining relative paths needs a trailing slash on the base path.
                if !base.path().ends_with('/') {
                    let path = format!("{}/", base.path());
                    base.set_path(&path);
                }
                Ok(Self::Http { base })
            }
            "tcp" => {
                let port = url.port().ok_or_else(|| invalid("tcp:// needs a port"))?;
                if !matches!(url.path(), "" | "/") {
                    return Err(invalid("tcp:// takes no path"));
                }
                // `host_str` keeps the brackets of an IPv6 literal.
                Ok(Self::Tcp {
                    authority: format!("{host}:{port}"),
                })
            }
            "https" => Err(invalid(
                "https is not supported by this build; reach the daemon over http:// or tcp://",
            )),
            other => Err(invalid(&format!(
                "unknown scheme {other:?}; expected http:// or tcp://"
            ))),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http { base } => write!(f, "{}", base.as_str().trim_end_matches('/')),
            Self::Tcp { authority } => write!(f, "tcp://{authority}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_tcp_choose_the_transport() {
        let http: Endpoint = "http://127.0.0.1:9080".parse().unwrap();
        assert_eq!(http.to_string(), "http://127.0.0.1:9080");
        assert_eq!(
            http.http_url("bd.v1.BeadsService/List").unwrap().as_str(),
            "http://127.0.0.1:9080/bd.v1.BeadsService/List"
        );
        let tcp: Endpoint = "tcp://bd-daemon:9876".parse().unwrap();
        assert_eq!(
            tcp,
            Endpoint::Tcp {
                authority: "bd-daemon:9876".into()
            }
        );
        assert_eq!(tcp.to_string(), "tcp://bd-daemon:9876");
        assert!(tcp.http_url("x").is_none());
    }

    #[test]
    fn http_base_path_is_kept() {
        let http: Endpoint = "http://gw:80/beads".parse().unwrap();
        assert_eq!(
            http.http_url("healthz").unwrap().as_str(),
            "http://gw/beads/healthz"
        );
    }

    #[test]
    fn bad_endpoints_are_refused_with_a_reason() {
        for (text, needle) in [
            ("https://x:1", "https is not supported"),
            ("ftp://x:1", "unknown scheme"),
            ("tcp://x", "needs a port"),
            ("http://user:pw@x:1", "credentials"),
            ("not a url", "invalid beads server endpoint"),
        ] {
            let error = text.parse::<Endpoint>().unwrap_err();
            assert!(error.to_string().contains(needle), "{text}: {error}");
        }
    }
}
