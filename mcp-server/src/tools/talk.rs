//! Talk tools (spreed OCS API; scopes `talk:read`, `talk:write`; they need
//! [`App::Talk`](crate::nextcloud::capabilities::App::Talk)). Empty until the family lands
//! (issue 15), so that it touches only this file.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];
