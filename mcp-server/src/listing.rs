//! `tools/list` answered from a cached serialisation (ADR 0022).
//!
//! A `tools/list` answer holds every listed tool's schemas and descriptions (50-100 KB), and
//! writing it out as JSON was most of what such a request cost. Yet it is the same bytes for
//! everybody who may see the same tools. So rmcp still handles every `tools/list` request — its
//! Host, Origin, Accept, Content-Type and protocol-version checks, the JSON-RPC envelope, the
//! result fields of the negotiated version — but when the guard hands the request a
//! [`ListingSlot`], the handler answers with an empty list and leaves the serialised tools,
//! cached per set of tools, in the slot; the guard then writes them where rmcp wrote the empty
//! list ([`splice`]). Tests keep the answer byte for byte what rmcp writes without the slot.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::{Bytes, BytesMut};
use moka::future::Cache;

use crate::tools::{self, ToolSpec};

/// The serialised tool lists kept at most: a few sets per scope combination a deployment sees.
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Serialised `tools` arrays, keyed by which tools they hold.
#[derive(Clone)]
pub struct Listings {
    cache: Cache<u128, Bytes>,
}

impl Default for Listings {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .weigher(|_, bytes: &Bytes| u32::try_from(bytes.len()).unwrap_or(u32::MAX))
                .max_capacity(MAX_BYTES)
                .build(),
        }
    }
}

impl Listings {
    /// The JSON array of these tools (as `Tool`s, in this order), serialised once per set.
    /// `None` when the set cannot be keyed (more tools than the key has bits).
    pub async fn serialized(&self, specs: &[&'static ToolSpec]) -> Option<Bytes> {
        let key = key(specs)?;
        Some(
            self.cache
                .get_with(key, async {
                    let tools: Vec<_> = specs.iter().map(|spec| spec.to_tool()).collect();
                    // A Vec of Tools always serialises (string keys, no failing Serialize impl).
                    Bytes::from(serde_json::to_vec(&tools).unwrap_or_default())
                })
                .await,
        )
    }
}

/// Which tools of the table these are, one bit each; `None` for more than 128 tools, a name
/// not in the table, or a set out of table order. The table's order is fixed, so a set has one
/// key. (By name, not by address: a `const` table may have more than one copy in a release
/// build, so the same tool can sit at two addresses.)
fn key(specs: &[&'static ToolSpec]) -> Option<u128> {
    let mut key = 0u128;
    let mut table = tools::all().enumerate();
    for spec in specs {
        // Listings keep the table's order: search on from the last match.
        let (index, _) = table.find(|(_, t)| t.name == spec.name)?;
        key |= 1u128.checked_shl(u32::try_from(index).ok()?)?;
    }
    Some(key)
}

/// Handed from the guard to the `tools/list` handler in the request's extensions: the handler
/// leaves the serialised tools here (and answers an empty list); the guard puts them in.
#[derive(Clone, Default)]
pub struct ListingSlot(Arc<OnceLock<Bytes>>);

impl ListingSlot {
    /// Leaves the serialised tools for the guard.
    pub fn fill(&self, tools: Bytes) -> bool {
        self.0.set(tools).is_ok()
    }

    /// What the handler left, if it answered with an empty list. (The handler's copy of the
    /// slot may outlive its answer: rmcp drops the request context in its own task.)
    pub fn taken(&self) -> Option<Bytes> {
        self.0.get().cloned()
    }
}

/// How rmcp's compact JSON ends an answer whose `tools` (the last field of the result, the
/// result the last of the response) is empty: after other result fields, or alone.
const EMPTY_AFTER_FIELDS: &[u8] = br#","tools":[]}}"#;
const EMPTY_ALONE: &[u8] = br#"{"tools":[]}}"#;

/// An answer with the tools in place: rmcp's answer up to its empty list, the cached array
/// (shared, not copied), and the closing braces. Sent as three chunks of a body whose length
/// is known, so the tool list is copied once, into the connection's write buffer.
#[derive(Debug)]
pub struct Spliced {
    parts: [Bytes; 3],
    next: usize,
}

impl Spliced {
    /// The whole answer in one piece (tests and logs; the response streams the parts).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len());
        for part in &self.parts {
            out.extend_from_slice(part);
        }
        out.freeze()
    }

    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MessageBody for Spliced {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(
            self.parts[self.next.min(2)..]
                .iter()
                .map(|p| p.len() as u64)
                .sum(),
        )
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        while self.next < self.parts.len() {
            let next = self.next;
            let part = std::mem::take(&mut self.parts[next]);
            self.next += 1;
            if !part.is_empty() {
                return Poll::Ready(Some(Ok(part)));
            }
        }
        Poll::Ready(None)
    }
}

/// `answer` (rmcp's JSON-RPC response with an empty tool list) with `tools` (a JSON array) in
/// the place of the empty list; `None` when `answer` is not such a response.
pub fn splice(answer: Bytes, tools: Bytes) -> Option<Spliced> {
    if !answer.starts_with(br#"{"jsonrpc":"2.0","#) {
        return None;
    }
    // Keep `,"tools":` or `{"tools":` of rmcp's answer; drop its `[]}}`.
    let head = if answer.ends_with(EMPTY_AFTER_FIELDS) {
        answer.len() - EMPTY_AFTER_FIELDS.len()
    } else if answer.ends_with(EMPTY_ALONE) {
        answer.len() - EMPTY_ALONE.len()
    } else {
        return None;
    } + br#","tools":"#.len();
    Some(Spliced {
        parts: [answer.slice(..head), tools, Bytes::from_static(b"}}")],
        next: 0,
    })
}

#[cfg(test)]
mod tests;
