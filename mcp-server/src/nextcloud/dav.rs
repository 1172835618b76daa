//! Shared WebDAV plumbing for the Files, CalDAV and CardDAV clients: user-supplied paths turned
//! into percent-encoded URL paths (segment by segment, refusing `..` and control characters),
//! PROPFIND / REPORT / SEARCH requests, a small namespace-aware parser for `207 Multi-Status`
//! bodies (RFC 4918 §13), and iCalendar / vCard content lines (RFC 5545 §3.1, RFC 6350 §3.2)
//! that both CalDAV and CardDAV objects are made of.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use reqwest::header::{HeaderMap, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use url::Url;

use super::{quote_etag, unquote_etag, NcAuth, NcError, Nextcloud};

pub const NS_DAV: &str = "DAV:";
pub const NS_CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const NS_CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const NS_OWNCLOUD: &str = "http://owncloud.org/ns";
pub const NS_APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Largest XML or iCalendar/vCard body read from Nextcloud.
pub const MAX_DAV_BODY: usize = 32 * 1024 * 1024;
/// Deepest XML element nesting accepted (multistatus bodies need fewer than ten levels).
const MAX_XML_DEPTH: usize = 64;
/// Longest path a model may pass (bytes).
const MAX_PATH_BYTES: usize = 4096;

/// Characters left as they are in a path segment: RFC 3986 unreserved. Everything else,
/// including `/`, `%`, `?` and `#`, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

/// Splits a user-supplied path (`/Documents/report.txt`, `Documents/`, `` for the root) into
/// its segments. Empty segments (doubled or surrounding slashes) are dropped; `.` and `..`
/// segments, control characters and overlong paths are refused.
pub fn path_segments(path: &str) -> Result<Vec<&str>, NcError> {
    if path.len() > MAX_PATH_BYTES {
        return Err(NcError::InvalidInput(format!(
            "the path is longer than {MAX_PATH_BYTES} bytes"
        )));
    }
    if path.chars().any(char::is_control) {
        return Err(NcError::InvalidInput(
            "the path contains control characters (such as a line break or tab)".into(),
        ));
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" => {}
            "." | ".." => {
                return Err(NcError::InvalidInput(
                    "`.` and `..` are not allowed in paths: give the full path from the root \
                     of the user's files, e.g. \"Documents/report.txt\""
                        .into(),
                ))
            }
            s if s.trim().is_empty() => {
                return Err(NcError::InvalidInput(
                    "a path segment consists only of spaces".into(),
                ))
            }
            s => segments.push(s),
        }
    }
    Ok(segments)
}

/// The canonical form of a user path: segments joined by `/`, no leading or trailing slash
/// (`""` is the root of the user's files).
pub fn normalize_path(path: &str) -> Result<String, NcError> {
    Ok(path_segments(path)?.join("/"))
}

/// One percent-encoded path segment.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// A user path percent-encoded segment by segment (`a b/c#d` → `a%20b/c%23d`).
pub fn encode_path(path: &str) -> Result<String, NcError> {
    Ok(path_segments(path)?
        .into_iter()
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/"))
}

/// A single name (calendar or address book id, object file name): non-empty, no slash, not
/// `.`/`..`, no control characters. `what` names it in the error message.
pub fn validate_name(name: &str, what: &str) -> Result<(), NcError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(NcError::InvalidInput(format!("{what} must not be empty")));
    }
    if name.contains('/') || name == "." || name == ".." || name.chars().any(char::is_control) {
        return Err(NcError::InvalidInput(format!(
            "{what} must be a single name without `/`, `..` or control characters"
        )));
    }
    if name.len() > 512 {
        return Err(NcError::InvalidInput(format!("{what} is too long")));
    }
    Ok(())
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

/// The part of a decoded href after `marker` (e.g. `/remote.php/dav/files/alice`), without
/// surrounding slashes; `None` if the href is not below the marker. The marker is looked for
/// anywhere so that a reverse-proxy prefix before `/remote.php` does not matter.
pub fn strip_marker(decoded_href: &str, marker: &str) -> Option<String> {
    let marker = marker.trim_end_matches('/');
    let at = decoded_href.find(marker)?;
    let rest = &decoded_href[at + marker.len()..];
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(rest.trim_matches('/').to_owned())
}

/// The last non-empty segment of a decoded href (`/a/b/c/` → `c`).
pub fn last_segment(decoded_href: &str) -> String {
    decoded_href
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Text escaped for an XML element or attribute value.
pub fn xml_escape(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

pub fn dav_method(name: &'static str) -> Result<Method, NcError> {
    Method::from_bytes(name.as_bytes())
        .map_err(|_| NcError::InvalidInput(format!("{name} is not an HTTP method")))
}

/// The ETag of a response (`ETag`, else Nextcloud's `OC-ETag`), unquoted.
pub fn etag_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(ETAG)
        .or_else(|| headers.get("OC-ETag"))
        .and_then(|v| v.to_str().ok())
        .map(unquote_etag)
        .filter(|e| !e.is_empty())
}

/// Reads a response body, refusing one larger than `limit` bytes. `Ok(None)` means too large.
pub async fn read_body_limited(
    mut response: Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, NcError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Some(body)),
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "reading a Nextcloud response failed");
                return Err(NcError::Unavailable("the response was cut off".into()));
            }
        }
    }
}

/// A body as UTF-8 text within [`MAX_DAV_BODY`].
pub async fn read_text(response: Response, what: &str) -> Result<String, NcError> {
    let body = read_body_limited(response, MAX_DAV_BODY)
        .await?
        .ok_or_else(|| NcError::BadResponse(format!("the {what} is too large")))?;
    String::from_utf8(body).map_err(|_| NcError::BadResponse(format!("the {what} is not UTF-8")))
}

/// Default error for an unexpected status.
pub fn unexpected(status: StatusCode) -> NcError {
    NcError::BadResponse(format!("HTTP {}", status.as_u16()))
}

/// One stored groupware resource (an `.ics` event resource, a `.vcf` card): its file name,
/// ETag and data.
#[derive(Debug, Clone, PartialEq)]
pub struct DavObject {
    /// The resource's file name (e.g. `abc.ics`).
    pub name: String,
    pub etag: Option<String>,
    pub data: String,
}

/// What kind of object a CalDAV/CardDAV resource holds: its media type, and the words the
/// error messages use for it.
pub struct ObjectKind {
    /// Metrics label of the API (`caldav`, `carddav`).
    pub api: &'static str,
    /// `text/calendar`, `text/vcard`.
    pub media_type: &'static str,
    /// `event`, `contact`.
    pub noun: &'static str,
    /// The noun with its article: `an event`.
    pub a_noun: &'static str,
    /// How to re-read it, for conflict messages: `list the events again`.
    pub reread: &'static str,
    /// The message when Nextcloud refuses the data.
    pub refused: &'static str,
}

impl Nextcloud {
    /// GET one object; `None` when it does not exist.
    pub async fn dav_get_object(
        &self,
        auth: &NcAuth,
        kind: &ObjectKind,
        url: Url,
        name: &str,
    ) -> Result<Option<DavObject>, NcError> {
        self.dav_get_object_as(auth, kind, url, name, kind.media_type)
            .await
    }

    /// GET one object asking for the media type `accept` (e.g. `text/vcard; version=4.0`).
    pub async fn dav_get_object_as(
        &self,
        auth: &NcAuth,
        kind: &ObjectKind,
        url: Url,
        name: &str,
        accept: &str,
    ) -> Result<Option<DavObject>, NcError> {
        let request = self
            .request(auth, Method::GET, url)
            .header(reqwest::header::ACCEPT, accept);
        let response = self.send(kind.api, request).await?;
        match response.status() {
            s if s.is_success() => {
                let etag = etag_header(response.headers());
                let data = read_text(response, kind.noun).await?;
                Ok(Some(DavObject {
                    name: name.to_owned(),
                    etag,
                    data,
                }))
            }
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(unexpected(s)),
        }
    }

    /// PUT one object: `if_match` `None` means create only. Returns the new ETag if known
    /// (asking for it when the server changed the data on the way in and sent none).
    #[allow(clippy::too_many_arguments)]
    pub async fn dav_put_object(
        &self,
        auth: &NcAuth,
        kind: &ObjectKind,
        url: Url,
        name: &str,
        data: String,
        if_match: Option<&str>,
        collection_missing: impl FnOnce() -> NcError,
    ) -> Result<Option<String>, NcError> {
        let request = self
            .request(auth, Method::PUT, url.clone())
            .header(CONTENT_TYPE, format!("{}; charset=utf-8", kind.media_type))
            .body(data);
        let request = match if_match {
            Some(etag) => request.header(IF_MATCH, quote_etag(etag)),
            None => request.header(IF_NONE_MATCH, "*"),
        };
        let response = self
            .send_allowing(kind.api, request, &[StatusCode::FORBIDDEN])
            .await?;
        match response.status() {
            StatusCode::FORBIDDEN => Err(forbidden_put(kind, &url, response).await),
            s if s.is_success() => {
                if let Some(etag) = etag_header(response.headers()) {
                    return Ok(Some(etag));
                }
                Ok(self
                    .dav_get_object(auth, kind, url, name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|o| o.etag))
            }
            StatusCode::PRECONDITION_FAILED => Err(match if_match {
                Some(etag) => NcError::Conflict(format!(
                    "the {} was changed since it was read (its ETag is no longer {etag}); {}, \
                     merge the changes and retry with the new etag",
                    kind.noun, kind.reread
                )),
                None => {
                    NcError::AlreadyExists(format!("{} with this uid already exists", kind.a_noun))
                }
            }),
            StatusCode::NOT_FOUND | StatusCode::CONFLICT => Err(collection_missing()),
            StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Err(NcError::InvalidInput(kind.refused.into()))
            }
            s => Err(unexpected(s)),
        }
    }

    /// DELETE one object; `etag` makes it conditional. `false` if it was already gone.
    pub async fn dav_delete_object(
        &self,
        auth: &NcAuth,
        kind: &ObjectKind,
        url: Url,
        etag: Option<&str>,
    ) -> Result<bool, NcError> {
        let mut request = self.request(auth, Method::DELETE, url);
        if let Some(etag) = etag {
            request = request.header(IF_MATCH, quote_etag(etag));
        }
        let response = self.send(kind.api, request).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            StatusCode::PRECONDITION_FAILED => Err(NcError::Conflict(format!(
                "the {} was changed since it was read; {} and retry with the new etag",
                kind.noun, kind.reread
            ))),
            s => Err(unexpected(s)),
        }
    }
}

/// The error for a PUT answered 403. Sabre's CalDAV plugin refuses an object whose component
/// the calendar does not hold (a VEVENT in a tasks-only calendar) with 403 and the RFC 4791
/// precondition `supported-calendar-component`, its message listing what the calendar takes
/// (sabre/dav lib/CalDAV/Plugin.php, validateICalendar). That is the caller's choice of
/// calendar, not missing permission, and is said so.
async fn forbidden_put(kind: &ObjectKind, url: &Url, response: Response) -> NcError {
    let body = read_body_limited(response, 64 * 1024)
        .await
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    forbidden_put_error(kind, url, &body)
}

fn forbidden_put_error(kind: &ObjectKind, url: &Url, body: &str) -> NcError {
    let error = parse_xml(body).ok();
    let wrong_component = error
        .as_ref()
        .is_some_and(|e| e.child(NS_CALDAV, "supported-calendar-component").is_some());
    if !wrong_component {
        return NcError::Forbidden("the account lacks permission for this item".into());
    }
    let accepted: Vec<String> = error
        .as_ref()
        .and_then(|e| e.child("http://sabredav.org/ns", "message"))
        .and_then(|m| m.text.split("of type ").nth(1).map(str::to_owned))
        .map(|list| {
            list.split(',')
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let collection = url
        .path_segments()
        .and_then(|segments| {
            segments
                .rev()
                .nth(1)
                .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        })
        .unwrap_or_default();
    let holds = if accepted.is_empty() {
        String::from("other kinds of items")
    } else {
        accepted
            .iter()
            .map(|c| match c.as_str() {
                "VEVENT" => "events (VEVENT)".to_owned(),
                "VTODO" => "tasks (VTODO)".to_owned(),
                "VJOURNAL" => "journal entries (VJOURNAL)".to_owned(),
                other => other.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" and ")
    };
    NcError::InvalidInput(format!(
        "calendar \"{collection}\" holds only {holds}, not {noun}s; choose a calendar that holds \
         {noun}s (calendar_list_calendars shows what each one holds)",
        noun = kind.noun
    ))
}

impl Nextcloud {
    /// A WebDAV request carrying an XML body (PROPFIND, REPORT, SEARCH).
    pub fn dav_xml_request(
        &self,
        auth: &NcAuth,
        method: &'static str,
        url: Url,
        depth: Option<&'static str>,
        body: String,
    ) -> Result<RequestBuilder, NcError> {
        let mut request = self
            .request(auth, dav_method(method)?, url)
            .header(CONTENT_TYPE, "application/xml; charset=utf-8")
            .body(body);
        if let Some(depth) = depth {
            request = request.header("Depth", depth);
        }
        Ok(request)
    }

    /// Sends a PROPFIND/REPORT/SEARCH and parses its multistatus. Statuses other than 207 and
    /// 200 (and those `send` maps) become the error `on_error` returns.
    pub async fn dav_multistatus(
        &self,
        api: &'static str,
        request: RequestBuilder,
        on_error: impl FnOnce(StatusCode) -> NcError,
    ) -> Result<Vec<DavResponse>, NcError> {
        let response = self.send(api, request).await?;
        let status = response.status();
        if status != StatusCode::MULTI_STATUS && status != StatusCode::OK {
            return Err(on_error(status));
        }
        let body = read_text(response, "WebDAV answer").await?;
        parse_multistatus(&body)
    }
}

// ---------------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------------

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

    #[test]
    fn paths_are_encoded_per_segment_and_dot_dot_refused() {
        assert_eq!(
            encode_path("/Documents//My File #1.txt").unwrap(),
            "Documents/My%20File%20%231.txt"
        );
        assert_eq!(encode_path("").unwrap(), "");
        assert_eq!(encode_path("/").unwrap(), "");
        assert_eq!(encode_path("ä/100%?x").unwrap(), "%C3%A4/100%25%3Fx");
        assert_eq!(normalize_path("/a/b/").unwrap(), "a/b");
        assert!(encode_path("a/../b").is_err());
        assert!(encode_path("..").is_err());
        assert!(encode_path("./a").is_err());
        assert!(encode_path("a\nb").is_err());
        assert!(encode_path("a\u{0}b").is_err());
        assert!(encode_path("a/   /b").is_err());
        assert!(encode_path("a..b/c...").is_ok());
        assert!(validate_name("personal", "calendar id").is_ok());
        assert!(validate_name("a/b", "calendar id").is_err());
        assert!(validate_name("..", "calendar id").is_err());
        assert!(validate_name(" ", "calendar id").is_err());
    }

    #[test]
    fn hrefs_are_decoded_and_stripped() {
        let href = decode_href("/nc/remote.php/dav/files/bob%40example.com/a%2Fb/c");
        assert_eq!(href, "/nc/remote.php/dav/files/bob@example.com/a/b/c");
        assert_eq!(
            strip_marker(&href, "/remote.php/dav/files/bob@example.com").as_deref(),
            Some("a/b/c")
        );
        assert_eq!(
            strip_marker("/remote.php/dav/files/bob/", "/remote.php/dav/files/bob").as_deref(),
            Some("")
        );
        assert_eq!(
            strip_marker("/remote.php/dav/files/bobby/x", "/remote.php/dav/files/bob"),
            None
        );
        assert_eq!(last_segment("/a/b/personal/"), "personal");
    }

    #[test]
    fn a_refused_component_is_named_not_called_a_permission_problem() {
        const KIND: ObjectKind = ObjectKind {
            api: "caldav",
            media_type: "text/calendar",
            noun: "event",
            a_noun: "an event",
            reread: "",
            refused: "",
        };
        let url =
            Url::parse("https://cloud.example/remote.php/dav/calendars/alice/my%20tasks/x.ics")
                .unwrap();
        // What sabre/dav 4.7 answers (InvalidComponentType, as Nextcloud serves it).
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:cal="urn:ietf:params:xml:ns:caldav">
  <s:exception>Sabre\CalDAV\Exception\InvalidComponentType</s:exception>
  <s:message>iCalendar objects must at least have a component of type VTODO</s:message>
  <cal:supported-calendar-component/>
</d:error>"#;
        let NcError::InvalidInput(message) = forbidden_put_error(&KIND, &url, body) else {
            panic!("not invalid input");
        };
        assert!(
            message.contains("\"my tasks\" holds only tasks (VTODO), not events"),
            "{message}"
        );
        // Any other 403 stays a permission problem.
        let other = r#"<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"><s:exception>Sabre\DAV\Exception\Forbidden</s:exception><s:message>Permission denied</s:message></d:error>"#;
        assert!(matches!(
            forbidden_put_error(&KIND, &url, other),
            NcError::Forbidden(_)
        ));
        assert!(matches!(
            forbidden_put_error(&KIND, &url, ""),
            NcError::Forbidden(_)
        ));
    }
}
