//! `GET /models/model/profile/image?id=`: a model's avatar as an `<img>` loads it — the stored
//! data URL decoded, an external URL forwarded to, or the default model image. A caller who may
//! not read the model gets the default image too, so ids cannot be probed.

use base64::Engine;

use super::access::{bypass_admin, has_grant};
use crate::app::App;
use crate::auth::Caller;
use crate::config::ProfileImages;
use crate::error::AppResult;
use crate::store::models as db_models;

/// The default model image (a white spark on a slate disc, 96×96 PNG, drawn for duet), for every
/// model without a usable image of its own. The reference redirects to its `/static/favicon.png`,
/// which duet does not serve.
pub const DEFAULT_MODEL_IMAGE: &[u8] = include_bytes!("../../../assets/model.png");

/// How to answer for a model's avatar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelImage {
    /// The image is at an `http(s)` URL: send the client there.
    Elsewhere(String),
    /// An image decoded from the stored data URL; `version` (the model's `updated_at`) is its
    /// entity tag.
    Image { media_type: String, bytes: Vec<u8>, version: i64 },
    /// `DEFAULT_MODEL_IMAGE` (`image/png`).
    Default,
}

/// The avatar of model `id` for a verified caller (unknown and unreadable ids: the default).
pub async fn profile_image(app: &App, caller: &Caller, id: &str) -> AppResult<ModelImage> {
    let p = caller.require_verified()?;
    let Some(row) = db_models::get(&app.db, id).await? else { return Ok(ModelImage::Default) };
    let readable = app.config.bypass_model_access_control
        || bypass_admin(app, p)
        || row.user_id == p.user.id
        || has_grant(app, p, id, "read").await?;
    if !readable {
        return Ok(ModelImage::Default);
    }
    let url = row.meta.0.get("profile_image_url").and_then(|v| v.as_str()).unwrap_or("");
    Ok(image_of(url, row.updated_at, &app.config.profile_images))
}

/// What a stored profile image URL is served as: `http…` URLs are forwarded to (unless
/// `ENABLE_PROFILE_IMAGE_URL_FORWARDING` is off), `data:image…` URLs of a type
/// `PROFILE_IMAGE_ALLOWED_MIME_TYPES` names decoded; undecodable ones, other types, `/static/…`
/// paths (the web app's own images, which duet does not serve) and everything else are the default.
fn image_of(url: &str, version: i64, policy: &ProfileImages) -> ModelImage {
    if url.starts_with("http") {
        return if policy.forward_urls {
            ModelImage::Elsewhere(url.to_string())
        } else {
            ModelImage::Default
        };
    }
    if url.starts_with("data:image")
        && let Some((header, data)) = url.split_once(',')
    {
        let media_type =
            header.split(';').next().unwrap_or("").trim_start_matches("data:").to_ascii_lowercase();
        if !policy.allowed_types.contains(&media_type) {
            return ModelImage::Default;
        }
        let data: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        if let Ok(bytes) = engine.decode(data.as_bytes()) {
            return ModelImage::Image { media_type, bytes, version };
        }
    }
    ModelImage::Default
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(forward_urls: bool) -> ProfileImages {
        let allowed_types = ["image/png", "image/jpeg", "image/gif", "image/webp"].map(String::from).to_vec();
        ProfileImages { forward_urls, allowed_types }
    }

    #[test]
    fn stored_urls_map_to_answers() {
        let p = policy(true);
        assert_eq!(
            image_of("https://example.com/m.png", 1, &p),
            ModelImage::Elsewhere("https://example.com/m.png".into())
        );
        assert_eq!(image_of("https://example.com/m.png", 1, &policy(false)), ModelImage::Default);
        assert_eq!(
            image_of("data:image/PNG;base64,iVBO", 7, &p),
            ModelImage::Image { media_type: "image/png".into(), bytes: vec![0x89, 0x50, 0x4e], version: 7 }
        );
        assert_eq!(image_of("data:image/svg+xml;base64,PHN2Zz4=", 1, &p), ModelImage::Default);
        assert_eq!(image_of("data:image/png;base64,%%%", 1, &p), ModelImage::Default);
        assert_eq!(image_of("/static/favicon.png", 1, &p), ModelImage::Default);
        assert_eq!(image_of("", 1, &p), ModelImage::Default);
    }

    #[test]
    fn the_default_image_is_a_png() {
        assert!(DEFAULT_MODEL_IMAGE.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
