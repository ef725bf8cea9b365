//! Request bodies, read under a byte cap: a body is never buffered past its cap, whether or not
//! it declares a `Content-Length` (a chunked upload is cut off the moment it passes the cap).

use futures_util::StreamExt;
use worker::Request;

pub enum BodyError {
    /// Over the cap: answer 413.
    TooLarge,
    /// The client went away or the stream failed mid-body.
    Unreadable,
}

pub async fn read_capped(req: &mut Request, cap: usize) -> Result<Vec<u8>, BodyError> {
    let declared = req.headers().get("Content-Length").ok().flatten().and_then(|l| l.trim().parse::<u64>().ok());
    if declared.is_some_and(|l| l > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    // A declared length within the cap is read in one piece (the runtime holds the body to
    // it): one promise instead of a reader, its reads and its release.
    if declared.is_some() {
        let body = req.bytes().await.map_err(|_| BodyError::Unreadable)?;
        return if body.len() > cap { Err(BodyError::TooLarge) } else { Ok(body) };
    }
    // No body at all (e.g. a bodiless POST) reads as empty.
    let Ok(mut stream) = req.stream() else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
