//! `search` and `fetch` over Nextcloud's unified search. Empty until they land (issue 15), so
//! that they touch only this file.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];

/// Each tool's pinned hints (see `Hints`): one row per tool of this file.
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[];
