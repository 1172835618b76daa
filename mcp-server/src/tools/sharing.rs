//! Sharing tools (files_sharing OCS API; scopes `sharing:read`, `sharing:write`; they need
//! [`App::Sharing`](crate::nextcloud::capabilities::App::Sharing)). Empty until the family
//! lands (issue 15), so that it touches only this file.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];
