//! What the paged tools share: the default and largest page size, and opaque cursors (a
//! serialised position, base64url-encoded, so a model passes it back unchanged and cannot
//! mistake it for an id).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::ToolError;

/// Items per page when a list tool is not given `limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items a list tool returns at once.
pub const MAX_LIMIT: usize = 200;

/// The cursor for the position `at`.
pub fn encode_cursor<T: Serialize>(at: &T) -> String {
    // Positions are plain data (strings, numbers, tuples): serialising them cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(at).unwrap_or_default())
}

/// The position a cursor from [`encode_cursor`] names; anything else is refused with
/// `refusal` (which says where valid cursors come from).
pub fn decode_cursor<T: DeserializeOwned>(cursor: &str, refusal: &str) -> Result<T, ToolError> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ToolError::InvalidArguments(refusal.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_anything_else_is_refused() {
        let at = (String::from("zoë"), 7_u64);
        assert_eq!(
            decode_cursor::<(String, u64)>(&encode_cursor(&at), "x").unwrap(),
            at
        );
        for bad in ["", "nope", "e30", &encode_cursor(&at)[1..]] {
            let e = decode_cursor::<(String, u64)>(bad, "not a cursor of ours").unwrap_err();
            assert_eq!(
                e.to_string(),
                "invalid arguments: not a cursor of ours",
                "{bad}"
            );
        }
    }
}
