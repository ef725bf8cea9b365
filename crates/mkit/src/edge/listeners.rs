//! The `subscriptions/listen` streams a caller's `McpSessions` object keeps open
//! (`mcp::listen`), and what it sends on them.

use futures_channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use serde::Deserialize;
use serde_json::Value;

use crate::mcp::listen;

/// Streams one caller may keep open.
const MAX_OPEN: usize = 32;

/// A `subscriptions/listen` the Worker checked.
#[derive(Deserialize)]
pub(super) struct Listening {
    id: Value,
    uris: Vec<String>,
    acknowledged: Value,
}

/// Open streams: subscription id, resources, stream; oldest first.
#[derive(Default)]
pub(super) struct Listeners(Vec<(Value, Vec<String>, UnboundedSender<Vec<u8>>)>);

fn event(message: &Value) -> Vec<u8> {
    format!("event: message\ndata: {message}\n\n").into_bytes()
}

impl Listeners {
    /// A new stream, its acknowledgment first. A client's hang-up does not always reach the
    /// object, so past the limit the oldest stream is ended, cleanly, rather than refusing: a
    /// caller is never locked out by streams it abandoned.
    pub(super) fn open(&mut self, l: Listening) -> UnboundedReceiver<Vec<u8>> {
        self.0.retain(|(_, _, tx)| !tx.is_closed());
        if self.0.len() >= MAX_OPEN {
            let (id, _, oldest) = self.0.remove(0);
            let _ = oldest.unbounded_send(event(&listen::closing(&id)));
            oldest.close_channel();
        }
        let (tx, rx) = mpsc::unbounded();
        let _ = tx.unbounded_send(event(&l.acknowledged));
        self.0.push((l.id, l.uris, tx));
        rx
    }

    /// `notifications/resources/updated` on each stream agreed to `uri`: how many got it.
    pub(super) fn publish(&mut self, uri: &str) -> usize {
        let mut sent = 0;
        self.0.retain(|(id, uris, tx)| {
            !uris.iter().any(|u| u == uri)
                || tx.unbounded_send(event(&listen::updated(id, uri))).map(|_| sent += 1).is_ok()
        });
        sent
    }
}
