//! Who may get a grant here at all (ADR 0021): allowed users (by upstream `sub`), groups (from a
//! configured claim) and e-mail domains, checked after the upstream sign-in at `/callback` and
//! for the subject of an identity assertion (jwt-bearer grant). Pure: the caller supplies the
//! identity. With every list empty everyone is allowed; otherwise a person matching any list is
//! allowed. An e-mail address counts only when `email_verified` is `true` (missing = false).

use crate::config::PolicySettings;

/// What the policy looks at, from a verified ID token (or userinfo answer) or ID-JAG.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: Option<bool>,
    pub groups: &'a [&'a str],
}

/// Why the policy refused. [`Denial::label`] is the metric and audit reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Only a user list is configured and the subject is not on it.
    User,
    /// Groups are configured and the person is in none of them (and no other list matched).
    Group,
    /// E-mail domains are configured and the address (if any) is in none of them.
    EmailDomain,
    /// The address is in an allowed domain but the IdP does not say it is verified.
    EmailUnverified,
}

impl Denial {
    pub fn label(self) -> &'static str {
        match self {
            Self::User => "policy_user",
            Self::Group => "policy_group",
            Self::EmailDomain => "policy_email_domain",
            Self::EmailUnverified => "policy_email_unverified",
        }
    }
}

/// Whether `identity` may be granted access under `policy`.
pub fn check(policy: &PolicySettings, identity: &Identity<'_>) -> Result<(), Denial> {
    if policy.is_open() {
        return Ok(());
    }
    if policy.allowed_users.iter().any(|u| u == identity.subject) {
        return Ok(());
    }
    if identity
        .groups
        .iter()
        .any(|g| policy.allowed_groups.iter().any(|a| a == g))
    {
        return Ok(());
    }
    let domain_allowed =
        identity
            .email
            .and_then(|e| e.rsplit_once('@'))
            .is_some_and(|(_, domain)| {
                policy
                    .allowed_email_domains
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(domain))
            });
    if domain_allowed {
        return if identity.email_verified == Some(true) {
            Ok(())
        } else {
            Err(Denial::EmailUnverified)
        };
    }
    // The most specific list that was configured names the refusal.
    Err(if !policy.allowed_email_domains.is_empty() {
        Denial::EmailDomain
    } else if !policy.allowed_groups.is_empty() {
        Denial::Group
    } else {
        Denial::User
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(users: &[&str], groups: &[&str], domains: &[&str]) -> PolicySettings {
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        PolicySettings {
            allowed_users: own(users),
            allowed_groups: own(groups),
            groups_claim: "groups".into(),
            allowed_email_domains: own(domains),
        }
    }

    fn who<'a>(
        sub: &'a str,
        email: Option<&'a str>,
        verified: Option<bool>,
        groups: &'a [&'a str],
    ) -> Identity<'a> {
        Identity {
            subject: sub,
            email,
            email_verified: verified,
            groups,
        }
    }

    #[test]
    fn empty_lists_allow_everyone() {
        assert_eq!(
            check(&policy(&[], &[], &[]), &who("x", None, None, &[])),
            Ok(())
        );
    }

    #[test]
    fn any_matching_list_allows() {
        let p = policy(&["alice"], &["staff"], &["example.org"]);
        assert_eq!(check(&p, &who("alice", None, None, &[])), Ok(()));
        assert_eq!(check(&p, &who("bob", None, None, &["x", "staff"])), Ok(()));
        assert_eq!(
            check(&p, &who("carol", Some("c@EXAMPLE.org"), Some(true), &[])),
            Ok(())
        );
    }

    #[test]
    fn refusals_name_the_list_that_did_not_match() {
        let users = policy(&["alice"], &[], &[]);
        assert_eq!(
            check(&users, &who("bob", None, None, &[])),
            Err(Denial::User)
        );
        let groups = policy(&["alice"], &["staff"], &[]);
        assert_eq!(
            check(&groups, &who("bob", None, None, &["Staff"])),
            Err(Denial::Group)
        );
        let domains = policy(&[], &["staff"], &["example.org"]);
        assert_eq!(
            check(
                &domains,
                &who("bob", Some("b@evil.example"), Some(true), &[])
            ),
            Err(Denial::EmailDomain)
        );
        // A sub-domain is another domain; a look-alike suffix too.
        assert_eq!(
            check(
                &domains,
                &who("bob", Some("b@x.example.org"), Some(true), &[])
            ),
            Err(Denial::EmailDomain)
        );
        assert_eq!(
            check(
                &domains,
                &who("bob", Some("b@badexample.org"), Some(true), &[])
            ),
            Err(Denial::EmailDomain)
        );
    }

    #[test]
    fn an_email_counts_only_when_verified() {
        let p = policy(&[], &[], &["example.org"]);
        for verified in [None, Some(false)] {
            assert_eq!(
                check(&p, &who("bob", Some("b@example.org"), verified, &[])),
                Err(Denial::EmailUnverified)
            );
        }
    }
}
