//! Paths (paths.rs) and the URLs built from them: no path leaves the user's files.

use proptest::prelude::*;

use crate::nextcloud::paths::{encode_path, path_segments, validate_name};
use crate::nextcloud::xml::decode_href;

fn user_path() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                "[a-zA-Z0-9 ._~-]{1,8}",
                Just("..".to_owned()),
                Just(".".to_owned()),
                Just("%2e%2e".to_owned()),
                Just("%2F".to_owned()),
                Just("a\\..\\b".to_owned()),
                Just("?#".to_owned()),
                Just(String::new()),
                Just("\u{ff0e}\u{ff0e}".to_owned()),
            ],
            0..5,
        )
        .prop_map(|s| s.join("/")),
    ]
}

pub(super) fn nextcloud() -> crate::nextcloud::Nextcloud {
    crate::nextcloud::Nextcloud::new(
        reqwest::Client::new(),
        url::Url::parse("https://cloud.example.com/nc").unwrap(),
        crate::metrics::Metrics::new().unwrap(),
    )
}

/// The user's part of a URL below `prefix`, percent-decoded segment by segment.
fn segments_below(url: &url::Url, prefix: &str) -> Option<Vec<String>> {
    let rest = url.path().strip_prefix(prefix)?;
    Some(
        rest.split('/')
            .filter(|s| !s.is_empty())
            .map(decode_href)
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// No path a model gives leaves the user's files: a URL built from it is on the Nextcloud
    /// host, below `/nc/remote.php/dav/files/<user>/`, without query or fragment, and its
    /// segments there decode to exactly the path's segments (`.`/`..` refused, `/`, `%`, `?`,
    /// `#` and `\` encoded inside a segment). The same holds for calendar and address book ids
    /// and object names, which are single segments.
    #[test]
    fn no_path_escapes_the_users_root(
        path in user_path(),
        user in prop_oneof![Just("alice".to_owned()), "[a-z@. ]{1,10}", any::<String>().prop_filter("non-empty", |s| !s.is_empty())],
        id in user_path(),
        name in user_path(),
    ) {
        let nc = nextcloud();
        let session = crate::nextcloud::Session::new(&nc, crate::nextcloud::NcAuth::Bearer(mcp_shared::Secret::new("t")), user.clone());
        let user_segment = crate::nextcloud::paths::encode_segment(&user);
        if let Ok(url) = session.files_url(&path) {
            prop_assert_eq!(url.host_str(), Some("cloud.example.com"));
            prop_assert!(url.query().is_none() && url.fragment().is_none());
            let prefix = format!("/nc/remote.php/dav/files/{user_segment}/");
            let below = segments_below(&url, &prefix);
            prop_assert!(below.is_some(), "{url} escapes {prefix}");
            let expected: Vec<String> = path_segments(&path).unwrap().into_iter().map(str::to_owned).collect();
            prop_assert_eq!(below.unwrap(), expected);
            prop_assert!(encode_path(&path).is_ok());
        } else {
            prop_assert!(encode_path(&path).is_err() || matches!(user.as_str(), "." | ".."));
        }
        for kind in [&crate::nextcloud::caldav::CALENDARS, &crate::nextcloud::carddav::ADDRESS_BOOKS] {
            if let Ok(url) = session.object_url(kind, &id, &name) {
                prop_assert!(validate_name(&id, "id").is_ok() && validate_name(&name, "name").is_ok());
                prop_assert!(url.query().is_none() && url.fragment().is_none());
                let prefix = format!("/nc/remote.php/dav/{}/{user_segment}/", kind.home);
                let below = segments_below(&url, &prefix);
                prop_assert_eq!(below, Some(vec![id.clone(), name.clone()]), "{}", url);
            }
            if let Ok(url) = session.collection_url(kind, &id) {
                let prefix = format!("/nc/remote.php/dav/{}/{user_segment}/", kind.home);
                prop_assert_eq!(segments_below(&url, &prefix), Some(vec![id.clone()]), "{}", url);
            }
        }
    }
}
