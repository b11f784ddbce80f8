//! One provider's model list as it answers (`GET /openai/models/{url_idx}`,
//! `GET /ollama/api/tags/{url_idx}`): its status and body, asked at once (no cache, no cooldown)
//! under the model-list timeout, with the connection's key.

use super::chat::{Body, Failure};
use super::{Kind, MAX_BODY, Upstream};

/// What a provider answered to a list request.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub status: u16,
    pub body: Body,
}

impl Upstream {
    /// Asks connection `index` of `kind` for its models; `None` when there is no such connection
    /// (or its kind is switched off).
    pub async fn list_one(&self, kind: Kind, index: usize) -> Option<Result<Listing, Failure>> {
        let connection = self.connection(kind, index)?;
        let url = match kind {
            Kind::OpenAi => format!("{}/models", connection.url),
            Kind::Ollama => format!("{}/api/tags", connection.url),
        };
        let mut request = self.client.get(url);
        if !connection.key.is_empty() {
            request = request.bearer_auth(&connection.key);
        }
        let answer = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_BODY {
                    return Err(Failure::Broken(format!("answer larger than {MAX_BODY} bytes")));
                }
            }
            Ok(Listing { status, body: Body::read(&bytes) })
        };
        Some(match tokio::time::timeout(self.config.timeout, answer).await {
            Ok(result) => result,
            Err(_) => Err(Failure::TimedOut),
        })
    }
}
