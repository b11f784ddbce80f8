//! Authentication core: roles, password hashing, session tokens, API keys and the `Caller` guard
//! shared by REST and GraphQL.

pub mod caller;
pub mod jwt;
pub mod password;
pub mod proof;

pub use caller::{Caller, Credential, Principal};
pub use proof::{Admin, Human, SignedIn, Verified};

/// A user's role. Unknown stored roles are kept verbatim and treated as unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Admin,
    User,
    Pending,
    Other(String),
}

impl Role {
    /// One of the three roles duet accepts on input.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            "pending" => Some(Role::Pending),
            _ => None,
        }
    }

    /// A role read from storage (never fails).
    pub fn from_stored(text: &str) -> Role {
        Role::parse(text).unwrap_or_else(|| Role::Other(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Pending => "pending",
            Role::Other(s) => s,
        }
    }

    /// `user` or `admin`.
    pub fn is_verified(&self) -> bool {
        matches!(self, Role::Admin | Role::User)
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Role::Admin)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
