//! Role proofs: `SignedIn`, `Verified`, `Admin` and `Human` exist only for a caller that passed
//! the check, so a function taking one cannot run before it. REST gets them as extractors (which
//! run before the body is read, so a caller without the role gets 401 before any 422); GraphQL
//! resolvers make one on their first line.

use super::caller::{Caller, Principal};
use crate::error::AppResult;

macro_rules! proof {
    ($(#[$doc:meta])* $name:ident, $check:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl $name {
            /// The proof for `caller`, or the error the reference answers for it.
            pub fn of(caller: &Caller) -> AppResult<$name> {
                caller.$check()?;
                Ok($name(caller.clone()))
            }

            /// The checked principal.
            pub fn principal(&self) -> &Principal {
                self.0.principal().expect("a proof holds an authenticated caller")
            }
        }
    };
}

proof!(
    /// Any signed-in caller, any role (the reference's `get_current_user`).
    SignedIn,
    require_user
);
proof!(
    /// Role `user` or `admin` (the reference's `get_verified_user`).
    Verified,
    require_verified
);
proof!(
    /// Role `admin` (the reference's `get_admin_user`).
    Admin,
    require_admin
);
proof!(
    /// A person's session: not an API key, not an automation token.
    Human,
    require_human
);
