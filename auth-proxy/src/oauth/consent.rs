//! The decision on the consent page: approve (with the scopes still ticked) or deny.

use mcp_shared::ScopeSet;

/// Why the client gets `access_denied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The user pressed deny.
    Denied,
    /// The user approved with every data permission unticked.
    NothingAllowed,
}

impl Denial {
    /// The `error_description` sent to the client.
    pub fn description(self) -> &'static str {
        match self {
            Self::Denied => "the user denied the request",
            Self::NothingAllowed => "the user allowed none of the requested permissions",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on with these scopes: never more than requested.
    Approved(ScopeSet),
    Denied(Denial),
}

/// The form's `decision` is neither `approve` nor `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownDecision;

/// `decision` as submitted; `ticked`, when the page offered a choice of scopes (`scope_choice`),
/// names the data scopes whose checkbox stayed ticked. Identity scopes are not optional.
pub fn decide(
    decision: &str,
    requested: &ScopeSet,
    ticked: Option<&[&str]>,
) -> Result<Decision, UnknownDecision> {
    match decision {
        "approve" => {}
        "deny" => return Ok(Decision::Denied(Denial::Denied)),
        _ => return Err(UnknownDecision),
    }
    let Some(ticked) = ticked else {
        return Ok(Decision::Approved(requested.clone()));
    };
    let granted: ScopeSet = requested
        .iter()
        .filter(|s| s.is_identity() || ticked.contains(&s.as_str()))
        .collect();
    let wanted_data = requested.iter().any(|s| !s.is_identity());
    if wanted_data && !granted.iter().any(|s| !s.is_identity()) {
        return Ok(Decision::Denied(Denial::NothingAllowed));
    }
    Ok(Decision::Approved(granted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn approval_grants_what_stayed_ticked_and_never_more() {
        let requested = set("openid notes:read files:read");
        assert_eq!(
            decide("approve", &requested, None),
            Ok(Decision::Approved(requested.clone()))
        );
        assert_eq!(
            decide(
                "approve",
                &requested,
                Some(&["notes:read", "calendar:write"])
            ),
            Ok(Decision::Approved(set("openid notes:read")))
        );
        assert_eq!(
            decide("approve", &requested, Some(&[])),
            Ok(Decision::Denied(Denial::NothingAllowed))
        );
        // Only identity requested: nothing to untick.
        assert_eq!(
            decide("approve", &set("openid"), Some(&[])),
            Ok(Decision::Approved(set("openid")))
        );
    }

    #[test]
    fn deny_and_unknown_decisions() {
        let requested = set("notes:read");
        assert_eq!(
            decide("deny", &requested, Some(&["notes:read"])),
            Ok(Decision::Denied(Denial::Denied))
        );
        assert_eq!(decide("maybe", &requested, None), Err(UnknownDecision));
    }
}
