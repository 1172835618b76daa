//! The HTTP side of WebDAV shared by the Files, CalDAV and CardDAV clients: PROPFIND / REPORT /
//! SEARCH requests and their multistatus answers, bounded body reads, and conditional GET / PUT /
//! DELETE of single groupware objects with ETag semantics.

use percent_encoding::percent_decode_str;
use reqwest::header::{HeaderMap, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use url::Url;

use super::xml::{parse_multistatus, parse_xml, DavResponse, NS_CALDAV, NS_SABRE};
use super::{quote_etag, unquote_etag, NcError, Session};

/// Largest XML or iCalendar/vCard body read from Nextcloud.
pub const MAX_DAV_BODY: usize = 32 * 1024 * 1024;

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

impl Session<'_> {
    /// GET one object; `None` when it does not exist.
    pub async fn dav_get_object(
        &self,
        kind: &ObjectKind,
        url: Url,
        name: &str,
    ) -> Result<Option<DavObject>, NcError> {
        self.dav_get_object_as(kind, url, name, kind.media_type)
            .await
    }

    /// GET one object asking for the media type `accept` (e.g. `text/vcard; version=4.0`).
    pub async fn dav_get_object_as(
        &self,
        kind: &ObjectKind,
        url: Url,
        name: &str,
        accept: &str,
    ) -> Result<Option<DavObject>, NcError> {
        let request = self
            .request(Method::GET, url)
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
        kind: &ObjectKind,
        url: Url,
        name: &str,
        data: String,
        if_match: Option<&str>,
        collection_missing: impl FnOnce() -> NcError,
    ) -> Result<Option<String>, NcError> {
        let request = self
            .request(Method::PUT, url.clone())
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
                    .dav_get_object(kind, url, name)
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
        kind: &ObjectKind,
        url: Url,
        etag: Option<&str>,
    ) -> Result<bool, NcError> {
        let mut request = self.request(Method::DELETE, url);
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
        .and_then(|e| e.child(NS_SABRE, "message"))
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

impl Session<'_> {
    /// A WebDAV request carrying an XML body (PROPFIND, REPORT, SEARCH).
    pub fn dav_xml_request(
        &self,
        method: &'static str,
        url: Url,
        depth: Option<&'static str>,
        body: String,
    ) -> Result<RequestBuilder, NcError> {
        let mut request = self
            .request(dav_method(method)?, url)
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

#[cfg(test)]
mod tests {
    use super::*;

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
