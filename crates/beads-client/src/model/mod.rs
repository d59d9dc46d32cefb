//! What the daemon answers, decoded tolerantly: unknown fields are ignored, missing
//! ones default, and unknown enumeration values are kept as `Other(text)`.

mod agent;
mod issue;
mod mutation;
mod wire;

pub use agent::{AgentBead, AgentState, PodFields, Role};
pub(crate) use issue::marks;
pub use issue::{Issue, IssueStatus, description_field};
pub(crate) use mutation::{MutationCursor, Positioned};
pub use mutation::{MutationEvent, MutationKind};
pub use wire::{
    AgentPodDeregistered, AgentPodInfo, AgentPodList, AgentPodRegistered, AgentPodRegistration,
    AgentPodStatusChanged, HealthReport, HealthStatus, ListQuery, Liveness, PodStatus, Readiness,
    Stats,
};

/// Declares a string-valued enumeration that keeps values it does not know.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this client does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                let trimmed = text.trim();
                $( if trimmed.eq_ignore_ascii_case($text) { return Self::$variant; } )+
                Self::Other(trimmed.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self::from(text.as_str())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.as_str().to_owned()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use open_enum;
