use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::clock::FakeClock;
use crate::oauth::callback::grant_and_code;
use crate::store::{MemoryStore, PendingAuthorization};

struct Fixture {
    store: MemoryStore,
    clock: FakeClock,
    keys: SigningKeys,
    config: Config,
}

impl Fixture {
    fn new() -> Self {
        let clock = FakeClock::at_secs(1_700_000_000);
        let vars: HashMap<String, String> = [
            ("AUTH_PROXY_UPSTREAM_ISSUER", "https://idp.example"),
            ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            store: MemoryStore::new(Arc::new(clock.clone())),
            clock,
            keys: SigningKeys::ephemeral().unwrap(),
            config: Config::from_vars(&vars).unwrap(),
        }
    }

    fn grants(&self) -> Grants<'_> {
        Grants::new(&self.store, &self.clock, &self.keys, &self.config)
    }

    /// A code for client `c` with PKCE verifier `v…v` (as the callback issues it).
    async fn code(&self) -> String {
        let auth = PendingAuthorization {
            client_id: cid("c"),
            redirect_uri: crate::ids::RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
            redirect_uri_given: false,
            state: None,
            scope: ScopeSet::parse("notes:read files:read").unwrap(),
            resource: "http://127.0.0.1:8000/mcp".into(),
            code_challenge: crate::crypto::sha256_b64url(VERIFIER.as_bytes()),
            csrf_hash: String::new(),
            browser_hash: String::new(),
            created_at: 0,
        };
        let (grant, record) =
            grant_and_code(&auth, &GrantId::generate(), "alice", "sealed".into(), 0);
        self.grants().issue_code(&grant, &record).await.unwrap()
    }
}

fn cid(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}

const VERIFIER: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

#[tokio::test]
async fn a_code_redeems_once_and_a_replay_revokes_the_grant() {
    let f = Fixture::new();
    let code = f.code().await;
    let issued = f
        .grants()
        .redeem_code(&cid("c"), &code, None, VERIFIER, None)
        .await
        .unwrap();
    let replay = f
        .grants()
        .redeem_code(&cid("c"), &code, None, VERIFIER, None)
        .await;
    assert!(matches!(
        replay,
        Err(GrantError::CodeReplayed {
            revoked: Ok(()),
            ..
        })
    ));
    let refresh = f
        .grants()
        .refresh(&cid("c"), &issued.refresh_token, None, None)
        .await;
    assert!(matches!(refresh, Err(GrantError::InvalidRefreshToken)));
}

#[tokio::test]
async fn a_resource_we_do_not_serve_spends_neither_code_nor_refresh_token() {
    let f = Fixture::new();
    let code = f.code().await;
    let other = Some("http://127.0.0.1:8000/other");
    let refused = f
        .grants()
        .redeem_code(&cid("c"), &code, None, VERIFIER, other)
        .await;
    assert!(
        matches!(refused, Err(GrantError::Refused(ref e)) if e.code == mcp_shared::OAuthErrorCode::InvalidTarget)
    );
    let issued = f
        .grants()
        .redeem_code(
            &cid("c"),
            &code,
            None,
            VERIFIER,
            Some("http://127.0.0.1:8000/mcp/"),
        )
        .await
        .unwrap();
    let refused = f
        .grants()
        .refresh(&cid("c"), &issued.refresh_token, None, other)
        .await;
    assert!(matches!(refused, Err(GrantError::Refused(_))));
    f.grants()
        .refresh(
            &cid("c"),
            &issued.refresh_token,
            None,
            Some("HTTP://127.0.0.1:8000/mcp"),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn another_clients_code_revokes_the_grant() {
    let f = Fixture::new();
    let code = f.code().await;
    let stolen = f
        .grants()
        .redeem_code(&cid("d"), &code, None, VERIFIER, None)
        .await;
    assert!(matches!(
        stolen,
        Err(GrantError::CodeOfOtherClient {
            revoked: Ok(()),
            ..
        })
    ));
    assert!(matches!(
        f.grants()
            .redeem_code(&cid("c"), &code, None, VERIFIER, None)
            .await,
        Err(GrantError::CodeReplayed { .. })
    ));
}

#[tokio::test]
async fn a_refused_refresh_does_not_spend_the_token_and_reuse_is_reported() {
    let f = Fixture::new();
    let code = f.code().await;
    let first = f
        .grants()
        .redeem_code(&cid("c"), &code, None, VERIFIER, None)
        .await
        .unwrap();
    let wider = f
        .grants()
        .refresh(&cid("c"), &first.refresh_token, Some("calendar:read"), None)
        .await;
    assert!(matches!(wider, Err(GrantError::Refused(_))));
    let second = f
        .grants()
        .refresh(&cid("c"), &first.refresh_token, Some("files:read"), None)
        .await
        .unwrap();
    assert_eq!(second.scope, ScopeSet::parse("files:read").unwrap());
    assert_eq!(second.grant_id, first.grant_id);
    // Past the grace window, the first token again is reuse: the family dies.
    f.clock
        .advance_millis(i64::try_from(f.config.refresh_grace.as_millis()).unwrap() + 1);
    assert!(matches!(
        f.grants()
            .refresh(&cid("c"), &first.refresh_token, None, None)
            .await,
        Err(GrantError::RefreshReuse { .. })
    ));
    assert!(matches!(
        f.grants()
            .refresh(&cid("c"), &second.refresh_token, None, None)
            .await,
        Err(GrantError::InvalidRefreshToken)
    ));
}

#[tokio::test]
async fn an_exchange_subject_is_a_live_token_of_a_live_grant() {
    let f = Fixture::new();
    let code = f.code().await;
    let issued = f
        .grants()
        .redeem_code(&cid("c"), &code, None, VERIFIER, None)
        .await
        .unwrap();
    let grant = f
        .grants()
        .exchange_subject(&issued.access_token)
        .await
        .unwrap();
    assert_eq!(grant.grant_id, issued.grant_id);
    assert!(matches!(
        f.grants().exchange_subject("not-a-jwt").await,
        Err(SubjectError::Refused(_))
    ));
    f.grants()
        .revoke(&cid("c"), &issued.access_token)
        .await
        .unwrap();
    assert!(matches!(
        f.grants().exchange_subject(&issued.access_token).await,
        Err(SubjectError::Refused(_))
    ));
}

#[tokio::test]
async fn revocation_takes_only_the_clients_own_tokens() {
    let f = Fixture::new();
    let code = f.code().await;
    let issued = f
        .grants()
        .redeem_code(&cid("c"), &code, None, VERIFIER, None)
        .await
        .unwrap();
    let g = f.grants();
    assert_eq!(
        g.revoke(&cid("d"), &issued.refresh_token).await.unwrap(),
        Revoked::Nothing
    );
    assert_eq!(
        g.revoke(&cid("d"), &issued.access_token).await.unwrap(),
        Revoked::Nothing
    );
    assert_eq!(
        g.revoke(&cid("c"), &issued.access_token).await.unwrap(),
        Revoked::AccessToken {
            grant: issued.grant_id.to_string()
        }
    );
    assert_eq!(
        g.revoke(&cid("c"), &issued.refresh_token).await.unwrap(),
        Revoked::Grant(issued.grant_id)
    );
    assert_eq!(g.revoke(&cid("c"), "junk").await.unwrap(), Revoked::Nothing);
}
