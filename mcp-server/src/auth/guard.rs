//! The actix-web middleware in front of `/mcp`: authenticates the bearer token, refuses
//! `tools/call` for a tool the token's scopes do not cover with a 403 `insufficient_scope`
//! challenge, and hands the [`Principal`] to the MCP handler through request extensions.
//! A call of a tool the administrator disabled passes untouched (no scope needed, no token
//! exchange): the MCP handler refuses it with a tool error saying so.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpMessage, HttpResponse};
use futures_util::StreamExt;
use mcp_shared::ScopeSet;
use serde_json::Value;

use super::cache::CachedVerifier;
use super::{
    all_data_scopes, insufficient_scope_challenge, unauthorized_challenge, Credential, Principal,
    TokenError,
};
use crate::audit::{self, Outcome, Refusal as AuditRefusal};
use crate::exchange::{ExchangeClient, ExchangeError};
use crate::listing::{self, ListingSlot};
use crate::metrics::Metrics;
use crate::tools::{Governance, Lookup, ToolSpec};

pub enum GuardMode {
    OAuth(Box<CachedVerifier>),
    SingleUser(Principal),
}

pub struct Guard {
    pub mode: GuardMode,
    /// The tools this instance serves: a disabled one needs neither scopes nor an exchange.
    pub tools: Governance,
    /// Tool calls need the user's Nextcloud credential: it is exchanged (or found cached)
    /// here, so a token or grant the authorization server has revoked gets 401
    /// `invalid_token` and the client signs in again, instead of every tool failing.
    pub exchange: Option<Arc<ExchangeClient>>,
    pub resource_metadata: String,
    pub max_body_bytes: usize,
    pub metrics: Metrics,
    /// Every 401 this guard can answer, built once.
    refusals: Vec<Refusal>,
    /// `mcp_server_tool_denials_total{reason="scope"}`.
    scope_denied: prometheus::IntCounter,
}

/// One prepared 401: its challenge, its body, and its `mcp_server_auth_failures_total` counter.
/// The answers are few and fixed (no token, or one per [`TokenError`]), so the hot path of a
/// refused request allocates nothing to describe the refusal.
struct Refusal {
    challenge: header::HeaderValue,
    body: Bytes,
    failures: prometheus::IntCounter,
}

/// Every refusal the guard answers, in [`refusal_index`] order.
const REFUSALS: [Option<TokenError>; 11] = [
    None,
    Some(TokenError::Malformed),
    Some(TokenError::Algorithm),
    Some(TokenError::Type),
    Some(TokenError::UnknownKey),
    Some(TokenError::Signature),
    Some(TokenError::Issuer),
    Some(TokenError::Audience),
    Some(TokenError::Expired),
    Some(TokenError::NotYetValid),
    Some(TokenError::Revoked),
];

fn refusal_index(error: Option<&TokenError>) -> usize {
    match error {
        None => 0,
        Some(TokenError::Malformed) => 1,
        Some(TokenError::Algorithm) => 2,
        Some(TokenError::Type) => 3,
        Some(TokenError::UnknownKey) => 4,
        Some(TokenError::Signature) => 5,
        Some(TokenError::Issuer) => 6,
        Some(TokenError::Audience) => 7,
        Some(TokenError::Expired) => 8,
        Some(TokenError::NotYetValid) => 9,
        Some(TokenError::Revoked) => 10,
    }
}

/// The `reason` label of `mcp_server_auth_failures_total`.
fn failure_reason(error: Option<&TokenError>) -> &'static str {
    match error {
        None => "missing",
        Some(TokenError::Expired) => "expired",
        Some(TokenError::UnknownKey) => "unknown_key",
        Some(TokenError::Audience) => "audience",
        Some(TokenError::Issuer) => "issuer",
        Some(TokenError::Revoked) => "revoked",
        Some(_) => "invalid",
    }
}

const NO_STORE: header::HeaderValue = header::HeaderValue::from_static("no-store");
const APPLICATION_JSON: header::HeaderValue = header::HeaderValue::from_static("application/json");

fn error_body(message: &str) -> Bytes {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32001, "message": message}
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

fn now() -> i64 {
    crate::clock::now()
}

fn json_error(status: StatusCode, challenge: Option<String>, message: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if let Some(c) = challenge {
        response.insert_header((header::WWW_AUTHENTICATE, c));
    }
    response
        .insert_header((header::CACHE_CONTROL, NO_STORE))
        .insert_header((header::CONTENT_TYPE, APPLICATION_JSON))
        .body(error_body(message))
}

impl Guard {
    pub fn new(
        mode: GuardMode,
        tools: Governance,
        exchange: Option<Arc<ExchangeClient>>,
        resource_metadata: String,
        max_body_bytes: usize,
        metrics: Metrics,
    ) -> Result<Self, header::InvalidHeaderValue> {
        let scopes = all_data_scopes().to_string();
        let refusals = REFUSALS
            .iter()
            .map(|error| {
                let challenge = unauthorized_challenge(&resource_metadata, &scopes, error.as_ref());
                Ok(Refusal {
                    challenge: header::HeaderValue::from_str(&challenge)?,
                    body: error_body(match error {
                        None => "authentication required",
                        Some(_) => "invalid access token",
                    }),
                    failures: metrics
                        .auth_failures
                        .with_label_values(&[failure_reason(error.as_ref())]),
                })
            })
            .collect::<Result<_, _>>()?;
        let scope_denied = metrics
            .tool_denials
            .with_label_values(&[AuditRefusal::Scope.as_str()]);
        Ok(Self {
            mode,
            tools,
            exchange,
            resource_metadata,
            max_body_bytes,
            metrics,
            refusals,
            scope_denied,
        })
    }

    fn unauthorized(&self, error: Option<&TokenError>) -> HttpResponse {
        let refusal = &self.refusals[refusal_index(error)];
        refusal.failures.inc();
        HttpResponse::build(StatusCode::UNAUTHORIZED)
            .insert_header((header::WWW_AUTHENTICATE, refusal.challenge.clone()))
            .insert_header((header::CACHE_CONTROL, NO_STORE))
            .insert_header((header::CONTENT_TYPE, APPLICATION_JSON))
            .body(refusal.body.clone())
    }

    async fn authenticate(&self, req: &ServiceRequest) -> Result<Principal, HttpResponse> {
        let verifier = match &self.mode {
            GuardMode::SingleUser(p) => return Ok(p.clone()),
            GuardMode::OAuth(v) => v,
        };
        let Some(value) = req.headers().get(header::AUTHORIZATION) else {
            return Err(self.unauthorized(None));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty() && !t.contains(' '));
        let Some(token) = token else {
            return Err(self.unauthorized(Some(&TokenError::Malformed)));
        };
        verifier
            .verify(token, now())
            .await
            .map_err(|e| self.unauthorized(Some(&e)))
    }
}

impl Guard {
    /// Whether the authorization server refuses to exchange this token: the token, or its
    /// grant, was revoked. Other exchange failures are left to the tool, which explains them.
    async fn exchange_refused(&self, principal: &Principal) -> bool {
        let (
            Some(exchange),
            Credential::AccessToken {
                token, expires_at, ..
            },
        ) = (&self.exchange, &principal.credential)
        else {
            return false;
        };
        let refused = matches!(
            exchange.credential(token, *expires_at, now()).await,
            Err(ExchangeError::Refused)
        );
        refused
    }
}

/// The audit lines of tool calls the guard refuses: one per served tool called (one without a
/// tool when only unknown names were called).
fn audit_refused(principal: &Principal, tools: &[&'static ToolSpec], why: AuditRefusal) {
    if tools.is_empty() {
        audit::tool_call(principal, None, Outcome::Refused(why), None);
    }
    for spec in tools {
        audit::tool_call(principal, Some(spec.name), Outcome::Refused(why), None);
    }
}

/// What the guard needs to know of a JSON-RPC message (or batch), from one parse.
#[derive(Debug, Default)]
pub struct Inspection {
    /// Whether it calls a tool that is not disabled (an unknown name too: the MCP handler
    /// answers it): such a call needs the user's Nextcloud credential.
    pub calls_a_tool: bool,
    /// The served tools it calls, in order.
    pub tools: Vec<&'static ToolSpec>,
    /// The union of the scopes those tools name (the ones they need, and their choices).
    pub needed: ScopeSet,
    /// It is one `tools/list` request (not in a batch): its answer can be spliced (ADR 0022).
    pub lists_tools: bool,
}

pub fn inspect(body: &[u8], tools: &Governance) -> Inspection {
    let mut found = Inspection::default();
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return found;
    };
    let messages = match &value {
        Value::Array(items) => items.as_slice(),
        other => {
            found.lists_tools = other.get("method").and_then(Value::as_str) == Some("tools/list")
                && other.get("id").is_some();
            std::slice::from_ref(other)
        }
    };
    for message in messages {
        if message.get("method").and_then(Value::as_str) != Some("tools/call") {
            continue;
        }
        let name = message
            .get("params")
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        match tools.lookup(name) {
            Lookup::Served(spec) => {
                found.calls_a_tool = true;
                found.tools.push(spec);
                for scope in spec.named_scopes() {
                    found.needed.insert(scope);
                }
            }
            Lookup::Disabled(_) => {}
            Lookup::Unknown => found.calls_a_tool = true,
        }
    }
    found
}

async fn read_body(payload: &mut Payload, limit: usize) -> Result<Bytes, HttpResponse> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            json_error(
                StatusCode::BAD_REQUEST,
                None,
                "the request body could not be read",
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                "the request body is too large",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(guard) = req.app_data::<actix_web::web::Data<Arc<Guard>>>().cloned() else {
        return Ok(req.into_response(HttpResponse::InternalServerError().finish()));
    };
    let principal = match guard.authenticate(&req).await {
        Ok(p) => p,
        Err(response) => return Ok(req.into_response(response)),
    };
    if req.method() == Method::POST {
        let (_, payload) = req.parts_mut();
        let mut taken = payload.take();
        let body = match read_body(&mut taken, guard.max_body_bytes).await {
            Ok(b) => b,
            Err(response) => return Ok(req.into_response(response)),
        };
        let Inspection {
            calls_a_tool,
            tools,
            needed,
            lists_tools,
        } = inspect(&body, &guard.tools);
        let granted = principal.scopes.expanded();
        if tools.iter().any(|spec| !spec.allowed(&granted)) {
            guard.metrics.scope_denials.inc();
            for spec in tools.iter().filter(|spec| !spec.allowed(&granted)) {
                guard.scope_denied.inc();
                audit::tool_call(
                    &principal,
                    Some(spec.name),
                    Outcome::Refused(AuditRefusal::Scope),
                    None,
                );
            }
            let response = json_error(
                StatusCode::FORBIDDEN,
                Some(insufficient_scope_challenge(
                    &guard.resource_metadata,
                    &needed,
                )),
                "the access token does not grant the scopes this tool needs",
            );
            return Ok(req.into_response(response));
        }
        // Every tool reaches Nextcloud (whoami too, which needs no scope).
        if calls_a_tool && guard.exchange_refused(&principal).await {
            audit_refused(&principal, &tools, AuditRefusal::Revoked);
            return Ok(req.into_response(guard.unauthorized(Some(&TokenError::Revoked))));
        }
        req.set_payload(Payload::from(body));
        if lists_tools {
            let slot = ListingSlot::default();
            req.extensions_mut().insert(slot.clone());
            req.extensions_mut().insert(principal);
            let response = next.call(req).await?;
            return Ok(match slot.taken() {
                Some(tools) => put_listing_in(response, tools).await,
                None => response.map_into_boxed_body(),
            });
        }
    }
    req.extensions_mut().insert(principal);
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// rmcp's answer to a `tools/list` whose handler left the serialised tools in the slot (and
/// answered an empty list), with the tools put in (see [`crate::listing`]).
async fn put_listing_in(
    response: ServiceResponse<impl MessageBody + 'static>,
    tools: Bytes,
) -> ServiceResponse<BoxBody> {
    const ANSWER_LIMIT: usize = 64 * 1024;
    let (req, res) = response.into_parts();
    let (mut head, body) = res.into_parts();
    let spliced = match actix_web::body::to_bytes_limited(body, ANSWER_LIMIT).await {
        Ok(Ok(answer)) => listing::splice(answer, tools),
        _ => None,
    };
    let Some(full) = spliced else {
        // Only a change in rmcp's answer can bring us here (a test pins its form).
        tracing::error!("a tools/list answer did not have the form the tool listing expects");
        let failure = json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "the tool list could not be answered",
        );
        return ServiceResponse::new(req, failure);
    };
    head.headers_mut().remove(header::CONTENT_LENGTH);
    ServiceResponse::new(req, head.set_body(full).map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_shared::Scope;

    fn names(found: &Inspection) -> Vec<&'static str> {
        found.tools.iter().map(|s| s.name).collect()
    }

    #[test]
    fn tool_calls_name_their_scopes_and_other_methods_need_none() {
        let all = Governance::default();
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_create","arguments":{}}}"#;
        let found = inspect(call, &all);
        assert!(found.calls_a_tool && found.needed.contains(Scope::NotesWrite));
        assert_eq!(names(&found), ["notes_create"]);
        let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        let found = inspect(list, &all);
        assert!(!found.calls_a_tool && found.tools.is_empty() && found.needed.is_empty());
        // An unknown tool (or whoami) needs no scope but is still a tool call.
        let unknown = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}}"#;
        let found = inspect(unknown, &all);
        assert!(found.calls_a_tool && found.needed.is_empty() && found.tools.is_empty());
        assert!(!inspect(b"not json", &all).calls_a_tool);
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},
                        {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_get"}},
                        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"files_list"}}]"#;
        let found = inspect(batch, &all);
        assert!(found.calls_a_tool);
        assert!(found.needed.contains(Scope::NotesRead) && found.needed.contains(Scope::FilesRead));
        assert_eq!(names(&found), ["notes_get", "files_list"]);
    }

    /// A disabled tool needs no scope and no credential: the MCP handler refuses it by name.
    #[test]
    fn calls_of_disabled_tools_need_neither_scopes_nor_an_exchange() {
        let governance = Governance::new(&["files_*".to_owned()], false).unwrap();
        let call =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"files_write"}}"#;
        let found = inspect(call, &governance);
        assert!(!found.calls_a_tool && found.tools.is_empty() && found.needed.is_empty());
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"files_list"}},
                        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"notes_get"}}]"#;
        let found = inspect(batch, &governance);
        assert!(found.calls_a_tool && !found.needed.contains(Scope::FilesRead));
        assert_eq!(names(&found), ["notes_get"]);
    }

    #[test]
    fn every_refusal_has_its_prepared_answer() {
        for (i, error) in REFUSALS.iter().enumerate() {
            assert_eq!(refusal_index(error.as_ref()), i, "{error:?}");
        }
    }
}
