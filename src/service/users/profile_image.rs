//! `GET /users/{id}/profile/image`: a user's avatar as an `<img>` loads it — the stored data URL
//! decoded, an external URL forwarded to, or the default avatar.

use base64::Engine;

use crate::app::App;
use crate::auth::Caller;
use crate::config::ProfileImages;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store;

/// The default avatar (a grey silhouette, 96×96 PNG), served for every user without an image of
/// their own.
pub const DEFAULT_AVATAR: &[u8] = include_bytes!("../../../assets/user.png");

/// The path that serves user `id`'s avatar (what a session answer and an empty stored URL give).
pub fn route(id: &str) -> String {
    format!("/api/v1/users/{id}/profile/image")
}

/// How to answer for an avatar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileImage {
    /// The image is elsewhere: send the client there (a `302` with `Location`).
    Elsewhere(String),
    /// An image decoded from the stored data URL, with its media type.
    Image { media_type: String, bytes: Vec<u8> },
    /// The built-in `DEFAULT_AVATAR` (`image/png`).
    Default,
}

/// The avatar of user `id` (verified callers); 400 `NOT_FOUND` for an unknown id.
pub async fn profile_image(app: &App, caller: &Caller, id: &str) -> AppResult<ProfileImage> {
    caller.require_verified()?;
    let user =
        store::users::get(&app.db, id).await?.ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))?;
    Ok(image_of(&user.profile_image_url, &app.config.profile_images))
}

/// What a stored profile image URL is served as: `http…` URLs are forwarded to (when
/// `forward_urls`), `data:image…` URLs of an allowed type decoded (undecodable ones, and
/// everything else, are the default).
pub fn image_of(url: &str, policy: &ProfileImages) -> ProfileImage {
    if url.starts_with("http") {
        return if policy.forward_urls {
            ProfileImage::Elsewhere(url.to_string())
        } else {
            ProfileImage::Default
        };
    }
    if url.starts_with("data:image")
        && let Some((header, data)) = url.split_once(',')
    {
        let media_type =
            header.split(';').next().unwrap_or("").trim_start_matches("data:").to_ascii_lowercase();
        if !policy.allowed_types.contains(&media_type) {
            return ProfileImage::Default;
        }
        let data: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        if let Ok(bytes) = engine.decode(data.as_bytes()) {
            return ProfileImage::Image { media_type, bytes };
        }
    }
    ProfileImage::Default
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> ProfileImages {
        ProfileImages {
            forward_urls: true,
            allowed_types: ["image/png", "image/jpeg", "image/gif", "image/webp"].map(String::from).to_vec(),
        }
    }

    #[test]
    fn stored_urls_map_to_answers() {
        let image_of = |url: &str| image_of(url, &defaults());
        assert_eq!(
            image_of("https://example.com/a.png"),
            ProfileImage::Elsewhere("https://example.com/a.png".into())
        );
        assert_eq!(
            image_of("data:image/PNG;base64,iVBO"),
            ProfileImage::Image { media_type: "image/png".into(), bytes: vec![0x89, 0x50, 0x4e] }
        );
        assert_eq!(image_of("data:image/svg+xml;base64,PHN2Zz4="), ProfileImage::Default);
        assert_eq!(image_of("data:image/png;base64,%%%"), ProfileImage::Default);
        assert_eq!(image_of("/user.png"), ProfileImage::Default);
        assert_eq!(image_of(""), ProfileImage::Default);
    }

    #[test]
    fn forwarding_off_and_narrower_types_serve_the_default() {
        let policy = ProfileImages { forward_urls: false, allowed_types: vec!["image/jpeg".into()] };
        assert_eq!(image_of("https://example.com/a.png", &policy), ProfileImage::Default);
        assert_eq!(image_of("data:image/png;base64,iVBO", &policy), ProfileImage::Default);
        assert_eq!(
            image_of("data:image/jpeg;base64,/9j/", &policy),
            ProfileImage::Image { media_type: "image/jpeg".into(), bytes: vec![0xff, 0xd8, 0xff] }
        );
    }

    #[test]
    fn the_default_avatar_is_a_png() {
        assert!(DEFAULT_AVATAR.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
