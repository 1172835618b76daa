use super::*;
use crate::nextcloud::xml::{parse_multistatus, parse_xml};

#[test]
fn entries_from_a_listing() {
    let body = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:response><d:href>/remote.php/dav/files/alice/Docs/</d:href>
  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><d:getlastmodified>Tue, 05 Mar 2024 10:00:00 GMT</d:getlastmodified><d:getetag>"f1"</d:getetag><oc:size>1234</oc:size></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><d:getcontentlength/><d:getcontenttype/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/files/alice/Docs/a%20b.md</d:href>
  <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>5</d:getcontentlength><d:getcontenttype>text/markdown</d:getcontenttype><d:getetag>&quot;e2&quot;</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
</d:multistatus>"#;
    let responses = parse_multistatus(body).unwrap();
    let entries: Vec<FileEntry> = responses
        .iter()
        .filter_map(|r| Session::file_entry("alice", r))
        .collect();
    assert_eq!(entries[0].path, "Docs");
    assert_eq!(entries[0].kind, "folder");
    assert_eq!(entries[0].size, Some(1234));
    assert_eq!(
        entries[0].last_modified.as_deref(),
        Some("2024-03-05T10:00:00Z")
    );
    assert_eq!(entries[0].etag.as_deref(), Some("f1"));
    assert_eq!(entries[1].name, "a b.md");
    assert_eq!(entries[1].path, "Docs/a b.md");
    assert_eq!(entries[1].kind, "file");
    assert_eq!(entries[1].size, Some(5));
    assert_eq!(entries[1].content_type.as_deref(), Some("text/markdown"));
}

#[test]
fn search_body_is_valid_and_escaped() {
    let body = search_body("/files/alice/R&D", "<x>", 101);
    let root = parse_xml(&body).unwrap();
    assert!(root.is(NS_DAV, "searchrequest"));
    let search = root.child(NS_DAV, "basicsearch").unwrap();
    let scope = search
        .child(NS_DAV, "from")
        .and_then(|f| f.child(NS_DAV, "scope"))
        .unwrap();
    assert_eq!(
        scope.child(NS_DAV, "href").unwrap().text,
        "/files/alice/R&D"
    );
    assert_eq!(scope.child(NS_DAV, "depth").unwrap().text, "infinity");
    let like = search
        .child(NS_DAV, "where")
        .and_then(|w| w.child(NS_DAV, "like"))
        .unwrap();
    assert_eq!(like.child(NS_DAV, "literal").unwrap().text, "%<x>%");
    let body = search_body("/files/alice", "e_0 100%\\", 101);
    let root = parse_xml(&body).unwrap();
    let upper = parse_xml(&search_body("/files/alice", "CAFÉ", 101)).unwrap();
    let literals: Vec<String> = upper
        .child(NS_DAV, "basicsearch")
        .and_then(|b| b.child(NS_DAV, "where"))
        .and_then(|w| w.child(NS_DAV, "or"))
        .map(|or| {
            or.children_named(NS_DAV, "like")
                .filter_map(|l| l.child(NS_DAV, "literal"))
                .map(|l| l.text.clone())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(literals, ["%CAFÉ%", "%café%"]);
    let literal = root
        .child(NS_DAV, "basicsearch")
        .and_then(|b| b.child(NS_DAV, "where"))
        .and_then(|w| w.child(NS_DAV, "like"))
        .and_then(|l| l.child(NS_DAV, "literal"))
        .unwrap();
    assert_eq!(literal.text, "%e\\_0 100\\%\\\\%");
    assert_eq!(
        search
            .child(NS_DAV, "limit")
            .and_then(|l| l.child(NS_DAV, "nresults"))
            .unwrap()
            .text,
        "101"
    );
}

fn entry(
    name: &str,
    kind: &'static str,
    content_type: Option<&str>,
    modified: Option<&str>,
) -> FileEntry {
    FileEntry {
        name: name.into(),
        path: format!("Docs/{name}"),
        kind,
        size: None,
        content_type: content_type.map(str::to_owned),
        last_modified: modified.map(str::to_owned),
        etag: None,
    }
}

#[test]
fn kinds_of_files_are_told_by_content_type() {
    let sheet = entry(
        "a.ods",
        "file",
        Some("application/vnd.oasis.opendocument.spreadsheet"),
        None,
    );
    let photo = entry("p.JPG", "file", Some("image/jpeg"), None);
    let folder = entry("Fotos", "folder", None, None);
    let pdf = entry(
        "x.pdf",
        "file",
        Some("application/pdf; charset=binary"),
        None,
    );
    let kind = |k: &str| FileKind::parse(k).unwrap();
    assert!(kind("spreadsheet").matches(&sheet));
    assert!(!kind("document").matches(&sheet));
    assert!(
        kind("image").matches(&photo)
            && kind("image/*").matches(&photo)
            && kind("IMAGE/jpeg").matches(&photo)
    );
    assert!(!kind("image").matches(&folder), "a folder is no image");
    assert!(kind("folder").matches(&folder) && !kind("folder").matches(&photo));
    assert!(kind("pdf").matches(&pdf));
    for bad in ["", "pictures", "image/j peg", "a/b/c", "/"] {
        assert!(FileKind::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn find_filters_match_locally_as_the_search_does() {
    let filter = FindFilter {
        name: Some("BERICHT".into()),
        kind: Some(FileKind::parse("text/").unwrap()),
        modified_after: Some(1_740_787_200),
        modified_before: Some(1_740_873_600),
    };
    let hit = entry(
        "Bericht März.md",
        "file",
        Some("text/markdown"),
        Some("2025-03-01T10:00:00Z"),
    );
    assert!(filter.matches(&hit));
    assert!(
        !filter.matches(&entry(
            "Bericht.md",
            "file",
            Some("text/markdown"),
            Some("2025-03-01T00:00:00Z")
        )),
        "after is strict"
    );
    assert!(
        !filter.matches(&entry("Bericht.md", "file", Some("text/markdown"), None)),
        "no time, no match"
    );
    assert!(!filter.matches(&entry(
        "Bericht.png",
        "file",
        Some("image/png"),
        Some("2025-03-01T10:00:00Z")
    )));
}

#[test]
fn search_bodies_carry_every_condition() {
    let filter = FindFilter {
        name: Some("a%".into()),
        kind: Some(FileKind::parse("document").unwrap()),
        modified_after: Some(100),
        modified_before: None,
    };
    let body = search_body_where("/files/alice", &filter.condition(), 11);
    let root = parse_xml(&body).unwrap();
    let basic = root.child(NS_DAV, "basicsearch").unwrap();
    let and = basic
        .child(NS_DAV, "where")
        .unwrap()
        .child(NS_DAV, "and")
        .unwrap();
    assert_eq!(and.children.len(), 3);
    assert!(body.contains("<d:literal>%a\\%%</d:literal>"), "{body}");
    assert!(body.contains("<d:literal>application/vnd.oasis.opendocument.text</d:literal>"));
    assert!(body
        .contains("<d:gt><d:prop><d:getlastmodified/></d:prop><d:literal>100</d:literal></d:gt>"));
    let folders = FindFilter {
        kind: Some(FileKind::Folder),
        ..FindFilter::default()
    };
    assert!(
        search_body_where("/files/alice", &folders.condition(), 5).contains("<d:is-collection/>")
    );
}

#[test]
fn filter_reports_name_their_rules() {
    let root = parse_xml(&filter_body(true, None, 1001)).unwrap();
    let rules = root.child(NS_OWNCLOUD, "filter-rules").unwrap();
    assert!(rules.child(NS_OWNCLOUD, "favorite").is_some());
    assert!(rules.child(NS_OWNCLOUD, "systemtag").is_none());
    let tagged = parse_xml(&filter_body(false, Some("12"), 5)).unwrap();
    assert_eq!(
        tagged
            .child(NS_OWNCLOUD, "filter-rules")
            .unwrap()
            .child(NS_OWNCLOUD, "systemtag")
            .unwrap()
            .text_value(),
        Some("12")
    );
}
