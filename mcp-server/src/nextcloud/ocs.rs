//! Nextcloud's OCS API: the request headers it needs and its envelope
//! (`{"ocs":{"meta":{"status","statuscode","message"},"data":…}}`, server
//! `lib/private/AppFramework/OCS/V1Response.php`, `V2Response.php`), its errors mapped to
//! [`NcError`] (`OCSMiddleware.php`: an `OCSException` answers v2 with the HTTP status = its code,
//! `meta.status` `failure`, the message in `meta.message`). Ask for v2 (`/ocs/v2.php/…`): v1 answers
//! HTTP 200 for most failures.

use reqwest::header::ACCEPT;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{NcAuth, NcError, Nextcloud};

/// Longest part of a Nextcloud message passed on (it reaches the model).
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Deserialize)]
struct Envelope<T> {
    ocs: Body<T>,
}

#[derive(Deserialize)]
struct Body<T> {
    meta: Meta,
    data: Option<T>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    status: String,
    #[serde(default)]
    statuscode: Option<u16>,
    #[serde(default)]
    message: Option<String>,
}

impl Nextcloud {
    /// A request to `ocs/v2.php/<path>` with the headers OCS needs (`OCS-APIRequest: true`, which
    /// also exempts it from the CSRF check, and JSON answers).
    pub fn ocs_request(
        &self,
        auth: &NcAuth,
        method: Method,
        path: &str,
    ) -> Result<RequestBuilder, NcError> {
        let url = self.url(&format!("ocs/v2.php/{}", path.trim_start_matches('/')))?;
        Ok(self
            .request(auth, method, url)
            .header("OCS-APIRequest", "true")
            .header(ACCEPT, "application/json"))
    }

    /// Sends an OCS request and reads its `data` (`api` labels the metrics).
    pub async fn ocs<T: DeserializeOwned>(
        &self,
        api: &'static str,
        request: RequestBuilder,
    ) -> Result<T, NcError> {
        // A 403 carries the app's reason in meta.message: read it rather than a generic one.
        let response = self
            .send_allowing(api, request, &[StatusCode::FORBIDDEN])
            .await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|_| NcError::Unavailable("the response was cut off".into()))?;
        read_envelope(status, &body)
    }
}

/// The `data` of an OCS answer, or the error it stands for.
pub fn read_envelope<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, NcError> {
    let envelope = match serde_json::from_slice::<Envelope<serde_json::Value>>(body) {
        Ok(envelope) => envelope,
        // Not an OCS answer: an app that is not enabled leaves its routes unknown, and
        // Nextcloud answers those with its HTML 404 page.
        Err(_) if status == StatusCode::NOT_FOUND => {
            return Err(NcError::NotFound(
                "Nextcloud does not know this API (is the app installed and enabled?)".into(),
            ))
        }
        Err(e) => {
            return Err(NcError::BadResponse(format!(
                "HTTP {} without an OCS answer ({e})",
                status.as_u16()
            )))
        }
    };
    let meta = envelope.ocs.meta;
    let code = meta.statuscode.unwrap_or(status.as_u16());
    let ok = status.is_success() && (meta.status == "ok" || matches!(code, 100 | 200));
    if ok {
        let data = envelope.ocs.data.unwrap_or(serde_json::Value::Null);
        return serde_json::from_value(data)
            .map_err(|e| NcError::BadResponse(format!("the OCS data is not as expected ({e})")));
    }
    let message: String = meta
        .message
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| format!("OCS status {code}"))
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect();
    Err(match code {
        // 998: OCS v1's "not found" (also the unknown-route answer).
        404 | 998 => NcError::NotFound(message),
        400 => NcError::InvalidInput(message),
        401 | 997 => NcError::Unauthorized,
        403 => NcError::Forbidden(message),
        409 => NcError::Conflict(message),
        429 => NcError::RateLimited,
        _ => NcError::BadResponse(format!("OCS status {code}: {message}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn read(status: u16, body: &str) -> Result<Value, NcError> {
        read_envelope(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn data_of_v2_and_v1_answers() {
        let v2 =
            r#"{"ocs":{"meta":{"status":"ok","statuscode":200,"message":"OK"},"data":{"id":7}}}"#;
        assert_eq!(read(200, v2).unwrap(), json!({"id": 7}));
        let v1 = r#"{"ocs":{"meta":{"status":"ok","statuscode":100,"message":"OK","totalitems":"","itemsperpage":""},"data":[1]}}"#;
        assert_eq!(read(200, v1).unwrap(), json!([1]));
        let created =
            r#"{"ocs":{"meta":{"status":"ok","statuscode":201,"message":""},"data":{"id":1}}}"#;
        assert_eq!(read(201, created).unwrap(), json!({"id": 1}));
    }

    #[test]
    fn failures_map_to_errors_with_nextclouds_message() {
        let failure = |code: u16, message: &str| {
            json!({"ocs": {"meta": {"status": "failure", "statuscode": code, "message": message}, "data": []}})
                .to_string()
        };
        assert!(
            matches!(read(404, &failure(404, "Wrong share ID, share does not exist")), Err(NcError::NotFound(m)) if m.contains("Wrong share ID"))
        );
        assert!(matches!(
            read(400, &failure(400, "Invalid date")),
            Err(NcError::InvalidInput(m)) if m == "Invalid date"
        ));
        assert!(matches!(
            read(403, &failure(403, "")),
            Err(NcError::Forbidden(m)) if m == "OCS status 403"
        ));
        // v1: HTTP 200 with the failure in meta.
        assert!(matches!(
            read(200, &failure(998, "Invalid query")),
            Err(NcError::NotFound(_))
        ));
        assert!(matches!(
            read(200, &failure(997, "")),
            Err(NcError::Unauthorized)
        ));
        let long = "x".repeat(5000);
        match read(412, &failure(412, &long)) {
            Err(NcError::BadResponse(m)) => assert!(m.len() < 400, "{}", m.len()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_route_is_not_found_and_other_bodies_are_bad_responses() {
        assert!(matches!(
            read(404, "<!DOCTYPE html><html>Page not found</html>"),
            Err(NcError::NotFound(m)) if m.contains("installed and enabled")
        ));
        assert!(matches!(read(200, "<html>"), Err(NcError::BadResponse(_))));
        assert!(matches!(
            read(
                200,
                r#"{"ocs":{"meta":{"status":"ok","statuscode":200},"data":"text"}}"#
            )
            .and_then(|v| serde_json::from_value::<Vec<u8>>(v)
                .map_err(|e| NcError::BadResponse(e.to_string()))),
            Err(NcError::BadResponse(_))
        ));
    }
}
