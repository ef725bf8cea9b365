//! Outbound GETs of small JSON documents (issuer metadata, JWK sets): no redirects, a size cap
//! enforced while streaming, and one deadline over the whole exchange, headers and body alike,
//! so an upstream that trickles its body cannot hold a request (or a shared refresh) open.

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::time::Duration;
use worker::wasm_bindgen::JsValue;
use worker::{web_sys, Delay, Fetch, Headers, Method, Request, Response};

/// Why a GET failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchError {
    BadUrl,
    Failed,
    Timeout,
    Redirected,
    Status,
    TooLarge,
}

impl FetchError {
    pub fn code(self) -> &'static str {
        match self {
            FetchError::BadUrl => "fetch_bad_url",
            FetchError::Failed => "fetch_failed",
            FetchError::Timeout => "fetch_timeout",
            FetchError::Redirected => "fetch_redirected",
            FetchError::Status => "fetch_status",
            FetchError::TooLarge => "fetch_too_large",
        }
    }
}

/// An outbound request of the pay pages (Stripe's API, the issuer's token endpoint).
pub struct Outbound<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Body>,
}

/// An outbound request's body, by its content type.
pub enum Body {
    /// `application/x-www-form-urlencoded` (OAuth endpoints, Stripe's API).
    Form(String),
    /// `application/json` (an x402 facilitator).
    #[cfg_attr(not(feature = "billing"), allow(dead_code))]
    Json(String),
}

impl Body {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Body::Form(text) => ("application/x-www-form-urlencoded", text),
            Body::Json(text) => ("application/json", text),
        }
    }
}

/// Sends `out`: the status and at most `cap` bytes of body, all within `deadline`, no redirects.
pub async fn send(out: Outbound<'_>, cap: usize, deadline: Duration) -> Result<(u16, Vec<u8>), FetchError> {
    let exchange = Box::pin(async move {
        let headers = Headers::new();
        for (name, value) in &out.headers {
            headers.set(name, value).map_err(|_| FetchError::BadUrl)?;
        }
        let body = out.body.as_ref().map(Body::parts);
        if let Some((content_type, _)) = body {
            let _ = headers.set("content-type", content_type);
        }
        let req = new_request(out.url, out.method, &headers, body.map(|(_, text)| text), false)
            .map_err(|_| FetchError::BadUrl)?;
        let resp = Fetch::Request(req).send().await.map_err(|_| FetchError::Failed)?;
        let status = resp.status_code();
        Ok((status, read_capped(resp, cap).await?))
    });
    match select(exchange, Box::pin(Delay::from(deadline))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(FetchError::Timeout),
    }
}

/// GET `url` as JSON: at most `cap` bytes, all within `deadline`.
pub async fn get_document(url: &str, cap: usize, deadline: Duration) -> Result<Vec<u8>, FetchError> {
    let exchange = Box::pin(exchange(url, cap));
    match select(exchange, Box::pin(Delay::from(deadline))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(FetchError::Timeout),
    }
}

async fn exchange(url: &str, cap: usize) -> Result<Vec<u8>, FetchError> {
    let headers = Headers::new();
    let _ = headers.set("accept", "application/json");
    let req = new_request(url, Method::Get, &headers, None, false).map_err(|_| FetchError::BadUrl)?;
    let resp = Fetch::Request(req).send().await.map_err(|_| FetchError::Failed)?;
    match resp.status_code() {
        200 => read_capped(resp, cap).await,
        300..=399 => Err(FetchError::Redirected),
        _ => Err(FetchError::Status),
    }
}

/// An outbound request, built on web-sys's `RequestInit`: `worker::RequestInit` would also
/// convert its `cf` properties (and bring their serialiser into the bundle, about 12 KiB of
/// code), and mKit sets none. `follow`: whether redirects are followed (else `manual`).
pub(super) fn new_request(
    url: &str,
    method: Method,
    headers: &Headers,
    body: Option<&str>,
    follow: bool,
) -> Result<Request, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(method.as_ref());
    init.set_redirect(if follow { web_sys::RequestRedirect::Follow } else { web_sys::RequestRedirect::Manual });
    init.set_headers(headers.as_ref());
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    web_sys::Request::new_with_str_and_init(url, &init).map(Request::from)
}

async fn read_capped(mut resp: Response, cap: usize) -> Result<Vec<u8>, FetchError> {
    let declared = resp.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > cap) {
        return Err(FetchError::TooLarge);
    }
    let Ok(mut stream) = resp.stream() else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| FetchError::Failed)?;
        if body.len() + chunk.len() > cap {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
