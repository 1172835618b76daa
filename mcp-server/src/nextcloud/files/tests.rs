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
