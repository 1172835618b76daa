//! WebDAV multistatus (xml.rs): parsing never panics and reads back what was written.

use proptest::prelude::*;

use crate::nextcloud::xml::{parse_multistatus, parse_xml, xml_escape, NS_DAV};

/// One response of a generated multistatus: href segments, a response status, and properties
/// (local name, text) under a 2xx or a failed propstat.
#[derive(Debug, Clone)]
struct GenResponse {
    segments: Vec<String>,
    status: Option<u16>,
    ok_props: Vec<(String, String)>,
    failed_props: Vec<String>,
}

/// Character data XML 1.0 can carry as it is (no control characters but tab and LF, no CR,
/// which XML normalises to LF).
fn xml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        r#"[a-zA-Z0-9 <>&'"\]\[;:/-]{0,20}"#,
        any::<String>().prop_map(|s| s
            .chars()
            .filter(|c| !c.is_control() || *c == '\t' || *c == '\n')
            .filter(|c| !matches!(c, '\u{fffe}' | '\u{ffff}'))
            .collect()),
    ]
}

fn gen_response() -> impl Strategy<Value = GenResponse> {
    (
        prop::collection::vec("[^/\u{0}]{1,8}", 1..4),
        prop::option::of(100u16..600),
        prop::collection::vec(("[a-z][a-z-]{0,8}", xml_text()), 0..4),
        prop::collection::vec("[a-z][a-z-]{0,8}", 0..2),
    )
        .prop_map(|(segments, status, ok_props, failed_props)| GenResponse {
            segments,
            status,
            ok_props,
            failed_props,
        })
}

/// The multistatus body for `responses`, with `prefix` for DAV: (empty: default namespace),
/// hrefs percent-encoded, texts escaped or in CDATA.
fn multistatus_body(responses: &[GenResponse], prefix: &str, cdata: bool) -> String {
    let p = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}:")
    };
    let xmlns = if prefix.is_empty() {
        "xmlns=\"DAV:\"".to_owned()
    } else {
        format!("xmlns:{prefix}=\"DAV:\"")
    };
    let mut body = format!("<?xml version=\"1.0\"?>\n<{p}multistatus {xmlns}>");
    for r in responses {
        let href: Vec<String> = r
            .segments
            .iter()
            .map(|s| crate::nextcloud::paths::encode_segment(s))
            .collect();
        body.push_str(&format!(
            "<{p}response><{p}href>/remote.php/dav/files/u/{}</{p}href>",
            href.join("/")
        ));
        if let Some(status) = r.status {
            body.push_str(&format!("<{p}status>HTTP/1.1 {status} X</{p}status>"));
        }
        body.push_str(&format!("<{p}propstat><{p}prop>"));
        for (name, text) in &r.ok_props {
            let text = if cdata && !text.contains("]]>") {
                format!("<![CDATA[{text}]]>")
            } else {
                xml_escape(text).into_owned()
            };
            body.push_str(&format!("<{p}{name}>{text}</{p}{name}>"));
        }
        body.push_str(&format!(
            "</{p}prop><{p}status>HTTP/1.1 200 OK</{p}status></{p}propstat>"
        ));
        body.push_str(&format!("<{p}propstat><{p}prop>"));
        for name in &r.failed_props {
            body.push_str(&format!("<{p}{name}/>"));
        }
        body.push_str(&format!(
            "</{p}prop><{p}status>HTTP/1.1 404 Not Found</{p}status></{p}propstat></{p}response>"
        ));
    }
    body.push_str(&format!("</{p}multistatus>"));
    body
}

proptest! {
    /// Parsing never panics on any text, nor on any one-character change of a real body.
    #[test]
    fn xml_parsing_never_panics(
        text in any::<String>(),
        responses in prop::collection::vec(gen_response(), 0..3),
        at in any::<prop::sample::Index>(),
        c in any::<char>(),
    ) {
        let _ = parse_xml(&text);
        let _ = parse_multistatus(&text);
        let mut body: Vec<char> = multistatus_body(&responses, "d", false).chars().collect();
        let i = at.index(body.len());
        body[i] = c;
        let body: String = body.into_iter().collect();
        let _ = parse_multistatus(&body);
    }

    /// A multistatus reads back as written, whatever the namespace prefix and however texts
    /// are quoted: each response's href percent-decoded to the path, its status, the
    /// properties of 2xx propstats with their text, and none of a failed propstat's.
    #[test]
    fn multistatus_reads_back_as_written(
        responses in prop::collection::vec(gen_response(), 0..4),
        prefix in prop_oneof![Just(String::new()), "[a-zA-Z][a-zA-Z0-9]{0,3}".prop_filter("reserved", |p| !p.to_ascii_lowercase().starts_with("xml"))],
        cdata in any::<bool>(),
    ) {
        let body = multistatus_body(&responses, &prefix, cdata);
        let parsed = parse_multistatus(&body).unwrap();
        prop_assert_eq!(parsed.len(), responses.len());
        for (got, want) in parsed.iter().zip(&responses) {
            prop_assert_eq!(&got.href, &format!("/remote.php/dav/files/u/{}", want.segments.join("/")));
            prop_assert_eq!(got.status, want.status);
            prop_assert_eq!(got.props.len(), want.ok_props.len());
            for (prop, (name, text)) in got.props.iter().zip(&want.ok_props) {
                prop_assert!(prop.is(NS_DAV, name));
                prop_assert_eq!(&prop.text, text);
            }
        }
    }
}
