//! Channels (the reference's `routers/channels.py`): duet has none and reports them off in
//! `/api/config`, so listing them answers as the reference does with channels switched off. The
//! web app asks for the list each time its socket connects.

use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};

/// The reference's `ERROR_MESSAGES.FEATURE_DISABLED('Channels')`.
pub const CHANNELS_DISABLED: &str = "Channels is disabled";

/// `GET /channels/` (verified): refused, channels being off.
pub fn list(caller: &Caller) -> AppResult<()> {
    caller.require_verified()?;
    Err(AppError::forbidden_with(ErrorCode::AccessProhibited, CHANNELS_DISABLED))
}
