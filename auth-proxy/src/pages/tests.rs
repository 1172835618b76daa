use super::*;

#[test]
fn everything_interpolated_is_escaped() {
    let scopes = ScopeSet::parse("notes:read").unwrap();
    let html = consent(&ConsentView {
        client_name: Some("<script>alert(1)</script>"),
        client_id: "\"><img src=x>",
        document_host: Some("<b>docs.example</b>"),
        redirect: RedirectTarget::App {
            scheme: "evil\"scheme",
            host: Some("<i>host</i>"),
        },
        stays_connected: false,
        resource: "https://mcp.example/mcp",
        scopes: &scopes,
        flow_id: "f",
        csrf_token: "c",
    });
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x>"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("&lt;b&gt;docs.example&lt;/b&gt;"));
    assert!(html.contains("evil&quot;scheme:") && !html.contains("<i>host"));
    assert!(html.contains("Read your notes"));
}

#[test]
fn data_scopes_are_ticked_checkboxes_inside_the_form() {
    let scopes = ScopeSet::parse("openid notes:read files:write").unwrap();
    let html = consent(&ConsentView {
        client_name: None,
        client_id: "c",
        document_host: None,
        redirect: RedirectTarget::Web { host: "h" },
        stays_connected: true,
        resource: "r",
        scopes: &scopes,
        flow_id: "f",
        csrf_token: "c",
    });
    let form_start = html.find("<form").unwrap();
    let form_end = html.find("</form>").unwrap();
    for scope in ["notes:read", "files:write"] {
        let at = html
            .find(&format!("name=\"grant.{scope}\" value=\"on\" checked"))
            .unwrap_or_else(|| panic!("{scope} checkbox"));
        assert!(form_start < at && at < form_end, "{scope} is submitted");
    }
    assert!(!html.contains("grant.openid"), "identity is not optional");
    assert!(html.contains("name=\"scope_choice\" value=\"1\""));
}

#[test]
fn page_errors_map_to_status_and_page_in_one_place() {
    let cases = [
        (
            PageError::InvalidRequest("x <y>".into()),
            400,
            "This sign-in request is not valid",
        ),
        (PageError::InvalidForm, 400, "This form is not valid"),
        (
            PageError::FlowExpired,
            400,
            "This sign-in request has expired",
        ),
        (
            PageError::CallbackWithoutState,
            400,
            "This sign-in response is not valid",
        ),
        (PageError::CallbackExpired, 400, "This sign-in has expired"),
        (
            PageError::ConsentFromOtherBrowser,
            403,
            "This browser could not be verified",
        ),
        (
            PageError::CallbackInOtherBrowser,
            403,
            "This browser could not be verified",
        ),
        (
            PageError::RateLimited {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(7),
            },
            429,
            "Too many sign-in attempts",
        ),
        (
            PageError::Unavailable(StatusCode::SERVICE_UNAVAILABLE),
            503,
            "Temporarily unavailable",
        ),
        (
            PageError::UpstreamUnavailable,
            502,
            "The sign-in service cannot be reached",
        ),
        (
            PageError::InvalidRedirectAddress,
            400,
            "Invalid redirect address",
        ),
    ];
    for (e, status, title) in cases {
        let resp = e.response();
        assert_eq!(resp.status().as_u16(), status, "{e:?}");
        assert_eq!(actix_web::ResponseError::status_code(&e).as_u16(), status);
        assert_eq!(e.parts().1, title);
        let headers = resp.headers();
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
        assert!(headers.get(header::CONTENT_SECURITY_POLICY).is_some());
        assert_eq!(
            headers.get(header::RETRY_AFTER).is_some(),
            matches!(e, PageError::RateLimited { .. }),
            "{e:?}"
        );
    }
}

#[test]
fn loopback_and_app_redirects_get_a_warning_and_web_ones_none() {
    let scopes = ScopeSet::new();
    let html = |redirect| {
        consent(&ConsentView {
            client_name: None,
            client_id: "c",
            document_host: None,
            redirect,
            stays_connected: true,
            resource: "r",
            scopes: &scopes,
            flow_id: "f",
            csrf_token: "c",
        })
    };
    let loopback = html(RedirectTarget::Loopback { host: "127.0.0.1" });
    assert!(loopback.contains("class=\"warn\""));
    assert!(loopback.contains("sent back to <span class=\"host\">127.0.0.1</span>"));
    let web = html(RedirectTarget::Web {
        host: "app.example",
    });
    assert!(!web.contains("class=\"warn\""));
    assert!(web.contains("sent back to <span class=\"host\">app.example</span>"));
    let app = html(RedirectTarget::App {
        scheme: "evil-app",
        host: Some("claude.ai"),
    });
    assert!(app.contains("id=\"app-redirect-warning\""));
    assert!(app.contains("<span class=\"host\">evil-app:</span> links"));
    assert!(app.contains("<span class=\"host\">claude.ai</span> in its address is chosen"));
    assert!(
        !app.contains("sent back to"),
        "the host is not presented as the destination"
    );
    let hostless = html(RedirectTarget::App {
        scheme: "com.example.app",
        host: None,
    });
    assert!(hostless.contains("id=\"app-redirect-warning\""));
    assert!(!hostless.contains("in its address is chosen"));
}

#[test]
fn redirect_targets_are_classified_by_scheme() {
    let target = |s: &str| {
        let url = url::Url::parse(s).unwrap();
        format!("{:?}", RedirectTarget::of(&url))
    };
    assert_eq!(
        target("https://app.example/cb"),
        "Web { host: \"app.example\" }"
    );
    assert_eq!(
        target("http://127.0.0.1:7777/cb"),
        "Loopback { host: \"127.0.0.1\" }"
    );
    assert_eq!(
        target("evil-app://claude.ai/cb"),
        "App { scheme: \"evil-app\", host: Some(\"claude.ai\") }"
    );
    assert_eq!(
        target("com.example.app:/cb"),
        "App { scheme: \"com.example.app\", host: None }"
    );
}

#[test]
fn approve_is_armed_by_a_delay_and_deny_is_the_default_button() {
    let scopes = ScopeSet::parse("notes:read").unwrap();
    let html = consent(&ConsentView {
        client_name: None,
        client_id: "c",
        document_host: None,
        redirect: RedirectTarget::Web { host: "h" },
        stays_connected: true,
        resource: "r",
        scopes: &scopes,
        flow_id: "f",
        csrf_token: "c",
    });
    assert!(html.contains("value=\"approve\" class=\"primary arming\""));
    assert!(html.contains("button.arming { animation: arm 1s step-end both; }"));
    let deny = html.find("value=\"deny\"").unwrap();
    let approve = html.find("value=\"approve\"").unwrap();
    assert!(deny < approve, "Enter submits the first button: Deny");
    assert!(html.contains("id=\"stays-connected\""));
}

#[test]
fn the_page_says_how_long_the_access_lasts() {
    let scopes = ScopeSet::parse("openid").unwrap();
    let html = |stays_connected| {
        consent(&ConsentView {
            client_name: None,
            client_id: "c",
            document_host: None,
            redirect: RedirectTarget::Web { host: "h" },
            stays_connected,
            resource: "r",
            scopes: &scopes,
            flow_id: "f",
            csrf_token: "c",
        })
    };
    assert!(html(true).contains("also while you are not using it"));
    assert!(html(false).contains("cannot renew its access"));
}
