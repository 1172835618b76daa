//! Deck tools (Deck REST API; scopes `deck:read`, `deck:write`; they need
//! [`App::Deck`](crate::nextcloud::capabilities::App::Deck)). Empty until the family lands
//! (issue 15), so that it touches only this file.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];

/// Each tool's pinned hints (see `Hints`): one row per tool of this file.
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[];
