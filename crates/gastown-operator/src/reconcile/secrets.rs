//! The Secrets a town's spec references that do not exist, found once per
//! reconcile while dereferencing, and told with one message wherever they
//! block something (a workload, a town agent, a rig's agents).

use std::collections::BTreeMap;

use gastown_api::gastown::{BeadsProtocol, GasTownSpec};

/// Referenced Secrets that are missing, by name, each with what needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MissingSecrets {
    missing: BTreeMap<String, &'static str>,
}

/// The Secret names a town's spec references, by what they are for.
#[derive(Clone, Copy, Debug, Default)]
pub struct SecretNames<'a> {
    pub daemon_token: Option<&'a str>,
    pub dolt_root_password: Option<&'a str>,
    pub anthropic_api_key: Option<&'a str>,
    pub claude_credentials: Option<&'a str>,
    pub git_credentials: Option<&'a str>,
    /// Storage credentials of dolt's backups (the server reads them, D5).
    pub backup_credentials: Option<&'a str>,
    /// Storage credentials of the restore of a new town.
    pub restore_credentials: Option<&'a str>,
    /// What agents need to reach beads: the daemon's token, or with
    /// `bd serve` (agents use Dolt directly) dolt's root password.
    pub agents_beads: Option<&'a str>,
}

impl<'a> SecretNames<'a> {
    pub fn of(spec: &'a GasTownSpec) -> Self {
        let dolt = spec.dolt.as_ref();
        let secrets = spec.secrets.as_ref();
        let daemon_token = spec
            .daemon
            .token_secret_ref
            .as_ref()
            .map(|r| r.name.as_str());
        let dolt_root_password = dolt
            .and_then(|d| d.root_password_secret_ref.as_ref())
            .map(|r| r.name.as_str());
        Self {
            daemon_token,
            dolt_root_password,
            agents_beads: match spec.daemon.protocol() {
                BeadsProtocol::Daemon => daemon_token,
                BeadsProtocol::Serve => dolt_root_password,
            },
            anthropic_api_key: secrets
                .and_then(|s| s.anthropic_api_key_secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            claude_credentials: secrets
                .and_then(|s| s.claude_credentials_secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            git_credentials: secrets
                .and_then(|s| s.git_credentials_secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            backup_credentials: dolt
                .and_then(|d| d.backup.as_ref()?.credentials_secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            restore_credentials: dolt
                .and_then(|d| d.restore_from.as_ref()?.credentials_secret_ref.as_ref())
                .map(|r| r.name.as_str()),
        }
    }

    /// Each referenced name with what needs it, as the message tells it.
    fn referenced(&self) -> [(Option<&'a str>, &'static str); 7] {
        [
            (
                self.daemon_token,
                "the bd daemon token (spec.daemon.tokenSecretRef)",
            ),
            (
                self.claude_credentials,
                "Claude Code's credentials (spec.secrets.claudeCredentialsSecretRef)",
            ),
            (
                self.dolt_root_password,
                "dolt's root password (spec.dolt.rootPasswordSecretRef)",
            ),
            (
                self.anthropic_api_key,
                "the Anthropic API key (spec.secrets.anthropicApiKeySecretRef)",
            ),
            (
                self.git_credentials,
                "git credentials (spec.secrets.gitCredentialsSecretRef)",
            ),
            (
                self.backup_credentials,
                "dolt's backup credentials (spec.dolt.backup.credentialsSecretRef)",
            ),
            (
                self.restore_credentials,
                "the restore's credentials (spec.dolt.restoreFrom.credentialsSecretRef)",
            ),
        ]
    }
}

impl MissingSecrets {
    /// The Secrets `spec` references that `exists` does not find.
    pub fn of(spec: &GasTownSpec, exists: impl Fn(&str) -> bool) -> Self {
        let missing = SecretNames::of(spec)
            .referenced()
            .into_iter()
            .filter_map(|(name, what)| name.map(|name| (name, what)))
            .filter(|(name, _)| !exists(name))
            .map(|(name, what)| (name.to_string(), what))
            .collect();
        Self { missing }
    }

    /// Why something that needs `secrets` cannot run: the first missing one.
    pub fn blocking<'a>(
        &self,
        secrets: impl IntoIterator<Item = Option<&'a str>>,
    ) -> Option<String> {
        secrets.into_iter().flatten().find_map(|name| {
            self.missing
                .get(name)
                .map(|what| format!("Secret {name} ({what}) does not exist"))
        })
    }

    /// Every missing Secret with what needs it.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.missing
            .iter()
            .map(|(name, what)| (name.as_str(), *what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_secrets_name_what_needs_them() {
        let spec: GasTownSpec = serde_json::from_value(serde_json::json!({
            "dolt": {"image": "dolt:1", "rootPasswordSecretRef": {"name": "dolt-root", "key": "password"}},
            "daemon": {"image": "bd:1", "tokenSecretRef": {"name": "bd-token", "key": "token"}},
            "secrets": {"anthropicApiKeySecretRef": {"name": "anthropic", "key": "key"},
                        "claudeCredentialsSecretRef": {"name": "aws"}}
        }))
        .unwrap();
        let missing = MissingSecrets::of(&spec, |name| name == "aws");
        assert_eq!(
            missing.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            ["anthropic", "bd-token", "dolt-root"]
        );
        let what: BTreeMap<_, _> = missing.iter().collect();
        assert!(what["dolt-root"].contains("spec.dolt.rootPasswordSecretRef"));
        assert!(what["bd-token"].contains("tokenSecretRef"));
        assert_eq!(
            missing.blocking([Some("bd-token")]).unwrap(),
            "Secret bd-token (the bd daemon token (spec.daemon.tokenSecretRef)) does not exist"
        );
        assert!(missing.blocking([Some("aws"), None]).is_none());
        // The first missing one blocks.
        assert_eq!(
            missing.blocking([None, Some("aws"), Some("dolt-root"), Some("bd-token")]),
            missing.blocking([Some("dolt-root")])
        );
    }
}
