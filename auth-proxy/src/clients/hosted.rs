//! The callback URIs of well-known MCP clients, by preset name, for `redirect_uri_presets` in
//! the clients file: an operator who pre-registers Claude or ChatGPT names the preset instead
//! of copying (and mistyping) their callbacks. Each value is an exact redirect URI or a
//! [`RedirectPattern`](crate::redirect::RedirectPattern) string, validated at start-up by the
//! same `FILE` policy as a hand-written entry (and in a unit test here). Sources for every URI
//! are in docs/clients.md; native clients' loopback URIs match any port at `/authorize` (RFC
//! 8252 §7.3), which is what Copilot CLI and VS Code need when their fixed port is busy.

/// One preset: its name in the clients file and the URIs it stands for.
pub struct Preset {
    pub name: &'static str,
    pub redirect_uris: &'static [&'static str],
}

pub const PRESETS: &[Preset] = &[
    // claude.ai, Claude Desktop (client `Q2xhdWRl`): both hosts' callback.
    Preset {
        name: "claude",
        redirect_uris: &[
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.com/api/mcp/auth_callback",
        ],
    },
    // ChatGPT connectors: one callback per connector, and the legacy fixed one of published apps.
    Preset {
        name: "chatgpt",
        redirect_uris: &[
            "https://chatgpt.com/connector/oauth/*",
            "https://chatgpt.com/connector_platform_oauth_redirect",
        ],
    },
    // Cursor registers all three in one request.
    Preset {
        name: "cursor",
        redirect_uris: &[
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:8787/callback",
        ],
    },
    // VS Code: port 33418 by default, another when it is busy (the loopback rule covers it).
    Preset {
        name: "vscode",
        redirect_uris: &[
            "https://vscode.dev/redirect",
            "https://insiders.vscode.dev/redirect",
            "http://127.0.0.1/",
            "http://127.0.0.1:33418/",
        ],
    },
    // Claude Code: host and path fixed, port chosen by the user or at random.
    Preset {
        name: "claude-code",
        redirect_uris: &["http://localhost/callback"],
    },
    // Copilot CLI: declares port 33418, listens on a random one.
    Preset {
        name: "copilot-cli",
        redirect_uris: &["http://127.0.0.1:33418/"],
    },
];

/// The URIs of preset `name`.
pub fn preset(name: &str) -> Option<&'static [&'static str]> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.redirect_uris)
}

/// Every preset name, for the error that names an unknown one.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::metadata::{ClientMetadata, FILE};
    use crate::redirect::matches_registered;

    #[test]
    fn every_preset_passes_the_clients_file_policy() {
        for p in PRESETS {
            let v = ClientMetadata {
                redirect_uris: Some(p.redirect_uris.iter().map(|u| u.to_string()).collect()),
                ..ClientMetadata::default()
            }
            .validate(&FILE);
            assert!(v.is_ok(), "{}: {:?}", p.name, v.err().map(|e| e.message));
        }
        let mut seen: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), PRESETS.len(), "names are unique");
    }

    #[test]
    fn native_clients_call_back_on_the_port_they_actually_bound() {
        let matches = |name: &str, requested: &str| {
            let v = ClientMetadata {
                redirect_uris: Some(
                    preset(name)
                        .unwrap()
                        .iter()
                        .map(|u| u.to_string())
                        .collect(),
                ),
                ..ClientMetadata::default()
            }
            .validate(&FILE)
            .unwrap();
            matches_registered(requested, &v.redirect_uris, &v.redirect_patterns)
        };
        assert!(matches("copilot-cli", "http://127.0.0.1:55319/"));
        assert!(matches("vscode", "http://127.0.0.1:59656/"));
        assert!(matches("vscode", "http://127.0.0.1/"));
        assert!(matches("claude-code", "http://localhost:3118/callback"));
        assert!(matches("cursor", "http://localhost:8787/callback"));
        assert!(matches(
            "chatgpt",
            "https://chatgpt.com/connector/oauth/OUbdUMlL15Ct"
        ));
        // Nothing but the port is loosened.
        assert!(!matches("claude-code", "http://127.0.0.1:3118/callback"));
        assert!(!matches("copilot-cli", "http://127.0.0.1:55319/cb"));
        assert!(!matches(
            "chatgpt",
            "https://chatgpt.com/connector/oauth/a/b"
        ));
        assert!(!matches(
            "claude",
            "https://claude.ai/api/mcp/auth_callback/"
        ));
    }
}
