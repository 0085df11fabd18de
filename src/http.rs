//! One HTTP(S) request to a witness, a time-stamping authority or a ledger server, its
//! answer bounded in time and size, any status returned to the caller to judge.

use crate::error::{Error, Result};
use std::time::Duration;

/// What a server answered.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// Its `Content-Type`, if it sent one.
    pub content_type: Option<String>,
    /// Its body (at most the limit asked for).
    pub body: Vec<u8>,
}

/// POSTs `body` as `content_type` to `url`, within `timeout`, reading at most `limit` bytes
/// of the answer; a server that cannot be reached, is too slow or says too much is
/// [`Error::Unreachable`].
pub fn post(
    url: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
    limit: u64,
) -> Result<Answer> {
    let resp = agent(timeout)
        .post(url)
        .header("Content-Type", content_type)
        .send(body);
    answer(url, resp, limit)
}

/// GETs `url` within `timeout`, reading at most `limit` bytes of the answer.
pub fn get(url: &str, timeout: Duration, limit: u64) -> Result<Answer> {
    answer(url, agent(timeout).get(url).call(), limit)
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn answer(
    url: &str,
    resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<Answer> {
    let unreachable = |e: ureq::Error| Error::Unreachable(format!("{url}: {e}"));
    let mut resp = resp.map_err(unreachable)?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(unreachable)?;
    Ok(Answer {
        status,
        content_type,
        body,
    })
}
