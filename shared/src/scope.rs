//! The one list of scopes. Both services, the authorization-server metadata and the
//! protected-resource metadata derive their scope lists from [`Scope::ALL`].

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    OpenId,
    Profile,
    Email,
    OfflineAccess,
    NotesRead,
    NotesWrite,
    FilesRead,
    FilesWrite,
    CalendarRead,
    CalendarWrite,
    ContactsRead,
    ContactsWrite,
    TasksRead,
    TasksWrite,
    SharingRead,
    SharingWrite,
    DeckRead,
    DeckWrite,
    TalkRead,
    TalkWrite,
}

impl Scope {
    pub const ALL: [Scope; 20] = [
        Scope::OpenId,
        Scope::Profile,
        Scope::Email,
        Scope::OfflineAccess,
        Scope::NotesRead,
        Scope::NotesWrite,
        Scope::FilesRead,
        Scope::FilesWrite,
        Scope::CalendarRead,
        Scope::CalendarWrite,
        Scope::ContactsRead,
        Scope::ContactsWrite,
        Scope::TasksRead,
        Scope::TasksWrite,
        Scope::SharingRead,
        Scope::SharingWrite,
        Scope::DeckRead,
        Scope::DeckWrite,
        Scope::TalkRead,
        Scope::TalkWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
            Scope::Email => "email",
            Scope::OfflineAccess => "offline_access",
            Scope::NotesRead => "notes:read",
            Scope::NotesWrite => "notes:write",
            Scope::FilesRead => "files:read",
            Scope::FilesWrite => "files:write",
            Scope::CalendarRead => "calendar:read",
            Scope::CalendarWrite => "calendar:write",
            Scope::ContactsRead => "contacts:read",
            Scope::ContactsWrite => "contacts:write",
            Scope::TasksRead => "tasks:read",
            Scope::TasksWrite => "tasks:write",
            Scope::SharingRead => "sharing:read",
            Scope::SharingWrite => "sharing:write",
            Scope::DeckRead => "deck:read",
            Scope::DeckWrite => "deck:write",
            Scope::TalkRead => "talk:read",
            Scope::TalkWrite => "talk:write",
        }
    }

    /// Plain-language wording for the consent page.
    pub const fn description(self) -> &'static str {
        match self {
            Scope::OpenId => "Confirm who you are",
            Scope::Profile => "See your name and basic profile",
            Scope::Email => "See your email address",
            Scope::OfflineAccess => "Keep access while you are not using it",
            Scope::NotesRead => "Read your notes",
            Scope::NotesWrite => "Create, change and delete your notes",
            Scope::FilesRead => "Read your files and folders",
            Scope::FilesWrite => "Create, change, move and delete your files",
            Scope::CalendarRead => "See your calendars and events",
            Scope::CalendarWrite => "Create, change and delete calendar events",
            Scope::ContactsRead => "See your contacts",
            Scope::ContactsWrite => "Create, change and delete your contacts",
            Scope::TasksRead => "See your tasks and to-do lists",
            Scope::TasksWrite => "Create, change, complete and delete your tasks",
            Scope::SharingRead => "See what you share, with whom, and the public links to it",
            // Sharing and Talk reach other people: the wording says so, as the person approving
            // must know the application can act towards others in their name.
            Scope::SharingWrite => {
                "Share your files and folders with other people or by public links anyone can \
                 open, and change or stop those shares"
            }
            Scope::DeckRead => "See your Deck boards, cards and comments",
            Scope::DeckWrite => {
                "Create, change, move and delete Deck boards and cards, comment on them, and \
                 assign cards to other people"
            }
            Scope::TalkRead => "Read your Talk conversations and the messages in them",
            Scope::TalkWrite => {
                "Send Talk messages to other people in your name and start conversations with them"
            }
        }
    }

    /// Identity scopes describe the user; the rest grant access to Nextcloud data.
    pub const fn is_identity(self) -> bool {
        matches!(
            self,
            Scope::OpenId | Scope::Profile | Scope::Email | Scope::OfflineAccess
        )
    }

    /// The scopes this one implies: write access to an app includes read access.
    pub const fn implied(self) -> Option<Scope> {
        match self {
            Scope::NotesWrite => Some(Scope::NotesRead),
            Scope::FilesWrite => Some(Scope::FilesRead),
            Scope::CalendarWrite => Some(Scope::CalendarRead),
            Scope::ContactsWrite => Some(Scope::ContactsRead),
            Scope::TasksWrite => Some(Scope::TasksRead),
            Scope::SharingWrite => Some(Scope::SharingRead),
            Scope::DeckWrite => Some(Scope::DeckRead),
            Scope::TalkWrite => Some(Scope::TalkRead),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("unknown scope `{0}`")]
    Unknown(String),
    #[error("scope must be space-delimited printable ASCII (RFC 6749 §3.3)")]
    Malformed,
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| ScopeError::Unknown(s.chars().take(64).collect()))
    }
}

/// A set of known scopes, ordered, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses an RFC 6749 `scope` value: space-separated tokens of `%x21 / %x23-5B / %x5D-7E`.
    /// Repeated spaces are tolerated (clients send them), unknown scopes are refused.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        if !value
            .chars()
            .all(|c| c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\'))
        {
            return Err(ScopeError::Malformed);
        }
        value
            .split(' ')
            .filter(|token| !token.is_empty())
            .map(Scope::from_str)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn all() -> Self {
        Self(Scope::ALL.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0.insert(scope);
    }

    /// This set with every implied scope added (write ⇒ read).
    pub fn expanded(&self) -> ScopeSet {
        let mut out = self.0.clone();
        out.extend(self.0.iter().filter_map(|s| s.implied()));
        Self(out)
    }

    /// Whether a token carrying this set may perform an operation needing `required`.
    pub fn satisfies(&self, required: &ScopeSet) -> bool {
        let granted = self.expanded();
        required.0.iter().all(|scope| granted.0.contains(scope))
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).copied().collect())
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        ScopeSet::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_scopes_in_any_order_without_duplicates() {
        let set = ScopeSet::parse("notes:write openid  notes:write files:read").unwrap();
        assert_eq!(set.to_string(), "openid notes:write files:read");
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn empty_value_is_an_empty_set() {
        assert!(ScopeSet::parse("").unwrap().is_empty());
        assert!(ScopeSet::parse("   ").unwrap().is_empty());
    }

    #[test]
    fn unknown_scope_is_refused_by_name() {
        assert_eq!(
            ScopeSet::parse("openid admin"),
            Err(ScopeError::Unknown("admin".into()))
        );
        // Case matters: scope tokens are case-sensitive (RFC 6749 §3.3).
        assert!(ScopeSet::parse("Notes:Read").is_err());
    }

    #[test]
    fn malformed_characters_are_refused() {
        for bad in [
            "notes:read\tfiles:read",
            "a\"b",
            "a\\b",
            "notes:read\n",
            "é",
        ] {
            assert_eq!(ScopeSet::parse(bad), Err(ScopeError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn write_implies_read_but_not_the_reverse() {
        let granted = ScopeSet::parse("notes:write calendar:read").unwrap();
        assert!(granted.satisfies(&ScopeSet::parse("notes:read").unwrap()));
        assert!(granted.satisfies(&ScopeSet::parse("notes:read notes:write").unwrap()));
        assert!(!granted.satisfies(&ScopeSet::parse("calendar:write").unwrap()));
        assert!(!granted.satisfies(&ScopeSet::parse("files:read").unwrap()));
        assert!(granted.satisfies(&ScopeSet::new()));
    }

    #[test]
    fn every_scope_round_trips_through_its_string() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert!(!scope.description().is_empty());
        }
    }

    #[test]
    fn every_app_has_a_read_and_a_write_scope_and_write_implies_read() {
        let data: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| !s.is_identity())
            .collect();
        let names: Vec<&str> = data.iter().map(|s| s.as_str()).collect();
        for app in [
            "notes", "files", "calendar", "contacts", "tasks", "sharing", "deck", "talk",
        ] {
            let read: Scope = format!("{app}:read").parse().unwrap();
            let write: Scope = format!("{app}:write").parse().unwrap();
            assert_eq!(write.implied(), Some(read), "{app}");
            assert_eq!(read.implied(), None, "{app}");
            let granted: ScopeSet = [write].into_iter().collect();
            assert!(granted.satisfies(&[read].into_iter().collect()), "{app}");
        }
        assert_eq!(names.len(), 16, "{names:?}");
    }

    #[test]
    fn scopes_that_reach_other_people_say_so_on_the_consent_page() {
        for scope in [Scope::SharingWrite, Scope::DeckWrite, Scope::TalkWrite] {
            assert!(
                scope.description().contains("other people"),
                "{scope}: {}",
                scope.description()
            );
        }
        assert!(Scope::SharingWrite.description().contains("public link"));
        for scope in Scope::ALL {
            let d = scope.description();
            assert!(!d.contains(':') && !d.contains('_'), "plain language: {d}");
        }
    }

    #[test]
    fn serde_uses_the_space_delimited_form() {
        let set = ScopeSet::parse("files:write openid").unwrap();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, "\"openid files:write\"");
        let back: ScopeSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, set);
        assert!(serde_json::from_str::<ScopeSet>("\"nope\"").is_err());
    }
}
