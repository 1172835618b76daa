//! Keeping the connection on answers given before the request body was read. actix-http closes
//! a keep-alive connection when an answer goes out while part of the request body is still
//! unread (it cannot know where the next request starts), and both services answer some
//! requests on their headers alone: mcp-server's bearer guard refuses on the `Authorization`
//! header, and 404s, 405s and GET endpoints sent a body never look at it. Without this every
//! such refusal cost the client a new TCP handshake. This middleware reads and discards what
//! the handler left of a body whose declared length is within the body limit, before the answer
//! goes out. A larger body, or one that does not arrive within [`DRAIN_WAIT`], still costs its
//! connection: that is the price of an oversized or stalled request, not of a refusal.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};

/// How long an answer waits for the rest of a body it does not need.
pub const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// The request's payload, shared between the handler (which reads it through [`Shared`]) and
/// this middleware (which reads the rest once the handler is done).
struct Shared(Rc<RefCell<Payload>>);

impl Stream for Shared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.0.try_borrow_mut() {
            Ok(mut payload) => Pin::new(&mut *payload).poll_next(cx),
            // Never borrowed across a poll; if it were, the body is gone for the reader.
            Err(_) => Poll::Ready(None),
        }
    }
}

/// The declared body length, when it is a `Content-Length` within `limit`.
fn drainable_length(req: &ServiceRequest, limit: usize) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<usize>()
        .ok()
        .filter(|&length| length > 0 && length <= limit)
}

/// Middleware (`from_fn(move |req, next| drain_unread_body(limit, req, next))`): after the
/// handler answers, reads what is left of a request body of at most `limit` declared bytes.
pub async fn drain_unread_body(
    limit: usize,
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if drainable_length(&req, limit).is_none() {
        return next.call(req).await;
    }
    let payload = Rc::new(RefCell::new(req.parts_mut().1.take()));
    req.set_payload(Payload::Stream {
        payload: Box::pin(Shared(payload.clone())),
    });
    let response = next.call(req).await;
    // The handler's reader is done (it may still hold the shared payload, it no longer polls).
    let mut rest = payload.replace(Payload::None);
    let drained = tokio::time::timeout(DRAIN_WAIT, async {
        while let Some(Ok(_)) = rest.next().await {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!("request body still incomplete when answering; the connection closes");
    }
    response
}
