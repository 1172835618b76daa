//! The XML WebDAV answers are made of: a small namespace-aware DOM (quick-xml underneath, depth
//! and entity limits) and the `207 Multi-Status` body of RFC 4918 §13 with its hrefs decoded.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use url::Url;

use super::{unquote_etag, NcError};

pub const NS_DAV: &str = "DAV:";
pub const NS_CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const NS_CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const NS_OWNCLOUD: &str = "http://owncloud.org/ns";
pub const NS_APPLE_ICAL: &str = "http://apple.com/ns/ical/";
pub const NS_SABRE: &str = "http://sabredav.org/ns";

/// Deepest XML element nesting accepted (multistatus bodies need fewer than ten levels).
const MAX_XML_DEPTH: usize = 64;

/// Text escaped for an XML element or attribute value.
pub fn xml_escape(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// The decoded path of an `href` from a multistatus body. Hrefs are usually absolute paths
/// (`/remote.php/dav/files/alice/My%20File.txt`) but may be full URLs.
pub fn decode_href(href: &str) -> String {
    let href = href.trim();
    let path = if href.starts_with("http://") || href.starts_with("https://") {
        Url::parse(href)
            .map(|u| u.path().to_owned())
            .unwrap_or_else(|_| href.to_owned())
    } else {
        href.to_owned()
    };
    percent_decode_str(&path).decode_utf8_lossy().into_owned()
}

/// An XML element with its namespace resolved (`ns` is the namespace URI, empty if none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct XmlElement {
    pub ns: String,
    pub name: String,
    /// Attributes by local name (namespace declarations left out).
    pub attrs: Vec<(String, String)>,
    /// The element's own character data (entities resolved), children's text not included.
    pub text: String,
    pub children: Vec<XmlElement>,
}

impl XmlElement {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a XmlElement> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed text, `None` if empty.
    pub fn text_value(&self) -> Option<&str> {
        Some(self.text.trim()).filter(|t| !t.is_empty())
    }
}

fn xml_error(detail: impl std::fmt::Display) -> NcError {
    NcError::BadResponse(format!("the WebDAV answer is not valid XML ({detail})"))
}

fn resolved_ns(result: &ResolveResult<'_>) -> Result<String, NcError> {
    match result {
        ResolveResult::Bound(ns) => Ok(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(xml_error(format!(
            "undeclared namespace prefix `{}`",
            String::from_utf8_lossy(prefix)
        ))),
    }
}

fn start_element(
    ns: String,
    start: &quick_xml::events::BytesStart<'_>,
) -> Result<XmlElement, NcError> {
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(xml_error)?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attr.unescape_value().map_err(xml_error)?;
        attrs.push((
            String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(XmlElement {
        ns,
        name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
        attrs,
        text: String::new(),
        children: Vec::new(),
    })
}

/// Parses an XML document into its root element, namespaces resolved.
pub fn parse_xml(body: &str) -> Result<XmlElement, NcError> {
    let mut reader = NsReader::from_str(body);
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    loop {
        let (result, event) = reader.read_resolved_event().map_err(xml_error)?;
        let ns = match event {
            Event::Start(_) | Event::Empty(_) => resolved_ns(&result)?,
            _ => String::new(),
        };
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(xml_error("nested too deeply"));
                }
                stack.push(start_element(ns, &start)?);
            }
            Event::Empty(start) => {
                let element = start_element(ns, &start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(xml_error("more than one root element")),
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| xml_error("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(xml_error("more than one root element")),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current
                        .text
                        .push_str(&text.xml10_content().map_err(xml_error)?);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current
                        .text
                        .push_str(&data.xml10_content().map_err(xml_error)?);
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(current) = stack.last_mut() {
                    if let Some(c) = reference.resolve_char_ref().map_err(xml_error)? {
                        current.text.push(c);
                    } else {
                        let name = reference.decode().map_err(xml_error)?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(value) => current.text.push_str(value),
                            None => {
                                return Err(xml_error(format!("unknown entity &{name};")));
                            }
                        }
                    }
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(xml_error("the document ends inside an element"));
    }
    root.ok_or_else(|| xml_error("no root element"))
}

/// One `DAV:response` of a multistatus.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DavResponse {
    /// The href, percent-decoded (a path such as `/remote.php/dav/files/alice/a b.txt`).
    pub href: String,
    /// The response-level status (for responses without propstat, e.g. 404 or 507).
    pub status: Option<u16>,
    /// Properties from the propstats with a 2xx status.
    pub props: Vec<XmlElement>,
}

impl DavResponse {
    pub fn prop(&self, ns: &str, name: &str) -> Option<&XmlElement> {
        self.props.iter().find(|p| p.is(ns, name))
    }

    /// A property's trimmed text, `None` if missing or empty.
    pub fn prop_text(&self, ns: &str, name: &str) -> Option<&str> {
        self.prop(ns, name).and_then(XmlElement::text_value)
    }

    /// Whether `DAV:resourcetype` contains the element `{ns}name`.
    pub fn has_resourcetype(&self, ns: &str, name: &str) -> bool {
        self.prop(NS_DAV, "resourcetype")
            .is_some_and(|rt| rt.child(ns, name).is_some())
    }

    pub fn is_collection(&self) -> bool {
        self.has_resourcetype(NS_DAV, "collection")
    }

    pub fn etag(&self) -> Option<String> {
        self.prop_text(NS_DAV, "getetag")
            .map(unquote_etag)
            .filter(|e| !e.is_empty())
    }
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status_line(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Parses a `DAV:multistatus` body (any namespace prefixes, hrefs percent-decoded).
pub fn parse_multistatus(body: &str) -> Result<Vec<DavResponse>, NcError> {
    let root = parse_xml(body)?;
    if !root.is(NS_DAV, "multistatus") {
        return Err(NcError::BadResponse(format!(
            "expected a WebDAV multistatus, got <{}>",
            root.name
        )));
    }
    let mut responses = Vec::new();
    for response in root.children_named(NS_DAV, "response") {
        let Some(href) = response
            .child(NS_DAV, "href")
            .and_then(XmlElement::text_value)
        else {
            continue;
        };
        let mut entry = DavResponse {
            href: decode_href(href),
            status: response
                .child(NS_DAV, "status")
                .and_then(XmlElement::text_value)
                .and_then(parse_status_line),
            props: Vec::new(),
        };
        for propstat in response.children_named(NS_DAV, "propstat") {
            let status = propstat
                .child(NS_DAV, "status")
                .and_then(XmlElement::text_value)
                .and_then(parse_status_line);
            if !status.is_some_and(|s| (200..300).contains(&s)) {
                continue;
            }
            if let Some(prop) = propstat.child(NS_DAV, "prop") {
                entry.props.extend(prop.children.iter().cloned());
            }
        }
        responses.push(entry);
    }
    Ok(responses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistatus_with_any_prefixes_and_encoded_hrefs() {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:x1="http://owncloud.org/ns">
  <D:response>
    <D:href>/remote.php/dav/files/alice/My%20Docs/</D:href>
    <D:propstat>
      <D:prop>
        <D:resourcetype><D:collection/></D:resourcetype>
        <D:getetag>&quot;abc&quot;</D:getetag>
        <x1:size>42</x1:size>
      </D:prop>
      <D:status>HTTP/1.1 200 OK</D:status>
    </D:propstat>
    <D:propstat>
      <D:prop><D:getcontentlength/></D:prop>
      <D:status>HTTP/1.1 404 Not Found</D:status>
    </D:propstat>
  </D:response>
  <D:response>
    <D:href>https://cloud.example.com/remote.php/dav/files/alice/My%20Docs/R%C3%A9sum%C3%A9%20%231.txt</D:href>
    <D:propstat>
      <D:prop>
        <D:resourcetype/>
        <D:getcontentlength>12</D:getcontentlength>
        <D:displayname><![CDATA[Résumé #1.txt]]></D:displayname>
      </D:prop>
      <D:status>HTTP/1.1 200 OK</D:status>
    </D:propstat>
  </D:response>
</D:multistatus>"#;
        let responses = parse_multistatus(body).unwrap();
        assert_eq!(responses.len(), 2);
        assert_eq!(responses[0].href, "/remote.php/dav/files/alice/My Docs/");
        assert!(responses[0].is_collection());
        assert_eq!(responses[0].etag().as_deref(), Some("abc"));
        assert_eq!(responses[0].prop_text(NS_OWNCLOUD, "size"), Some("42"));
        assert!(responses[0].prop(NS_DAV, "getcontentlength").is_none());
        assert_eq!(
            responses[1].href,
            "/remote.php/dav/files/alice/My Docs/Résumé #1.txt"
        );
        assert!(!responses[1].is_collection());
        assert_eq!(
            responses[1].prop_text(NS_DAV, "displayname"),
            Some("Résumé #1.txt")
        );

        // Default namespace and unusual prefixes resolve to the same names.
        let body = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <response><href>/remote.php/dav/calendars/alice/personal/</href>
    <propstat><prop>
      <resourcetype><collection/><C:calendar/></resourcetype>
      <C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set>
    </prop><status>HTTP/1.1 200 OK</status></propstat>
  </response>
  <response><href>/remote.php/dav/calendars/alice/gone/</href><status>HTTP/1.1 404 Not Found</status></response>
</multistatus>"#;
        let responses = parse_multistatus(body).unwrap();
        assert!(responses[0].has_resourcetype(NS_CALDAV, "calendar"));
        let comps: Vec<&str> = responses[0]
            .prop(NS_CALDAV, "supported-calendar-component-set")
            .unwrap()
            .children_named(NS_CALDAV, "comp")
            .filter_map(|c| c.attr("name"))
            .collect();
        assert_eq!(comps, ["VEVENT", "VTODO"]);
        assert_eq!(responses[1].status, Some(404));
        assert!(responses[1].props.is_empty());
    }

    #[test]
    fn xml_errors_are_reported() {
        assert!(parse_multistatus("<a:multistatus xmlns:a=\"DAV:\">").is_err());
        assert!(parse_multistatus("<x:multistatus>").is_err());
        assert!(parse_multistatus("<foo xmlns=\"DAV:\"/>").is_err());
        assert!(parse_multistatus("not xml at all").is_err());
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(parse_xml(&deep).is_err());
    }
}
