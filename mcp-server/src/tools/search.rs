//! `search` and `fetch` over Nextcloud's unified search. Empty until they land (issue 15), so
//! that they touch only this file.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];
