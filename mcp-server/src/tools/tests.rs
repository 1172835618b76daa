use super::*;
use std::collections::HashSet;

#[test]
fn docs_list_every_tool_with_its_scopes() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tools.md"))
        .expect("docs/tools.md exists");
    assert!(
        doc.contains(&markdown_table(&Governance::default())),
        "docs/tools.md is out of date: paste the output of `mcp-server --list-tools`"
    );
}

#[test]
fn names_are_unique_valid_and_scoped() {
    let mut seen = HashSet::new();
    for spec in all() {
        assert!(seen.insert(spec.name), "duplicate tool {}", spec.name);
        assert!(spec
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
        assert!(!spec.description.is_empty());
        let schema = (spec.schema)();
        assert_eq!(
            schema.get("type").and_then(Value::as_str),
            Some("object"),
            "{}",
            spec.name
        );
        if spec.name != "whoami" {
            assert!(
                !spec.scopes.is_empty() || !spec.any_of.is_empty(),
                "{} needs a scope",
                spec.name
            );
        }
        assert!(
            spec.any_of.iter().all(|s| s.implied().is_none()),
            "{}: a write scope among the choices would let a token write without its \
             write scope being required",
            spec.name
        );
        if !spec.read_only {
            assert!(
                spec.scopes.iter().any(|s| s.implied().is_some()),
                "{} changes data but needs no write scope",
                spec.name
            );
        }
    }
}

fn names(governance: &Governance) -> Vec<&'static str> {
    governance.served().map(|s| s.name).collect()
}

fn entries(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn families_are_the_prefixes_of_whole_tables() {
    for (family, table) in TABLES {
        for spec in *table {
            match family {
                Some(f) => assert!(spec.name.starts_with(&format!("{f}_")), "{}", spec.name),
                None => assert!(
                    !FAMILIES
                        .iter()
                        .any(|f| spec.name.starts_with(&format!("{f}_"))),
                    "{} belongs to a family",
                    spec.name
                ),
            }
        }
        if let Some(f) = family {
            assert!(FAMILIES.contains(f), "{f}");
        }
    }
    for f in FAMILIES {
        assert!(TABLES.iter().any(|(family, _)| *family == Some(*f)), "{f}");
    }
}

const ANNOTATIONS: &[Hints] = &[
    ("whoami", true, false, true, false, None),
    ("notes_list", true, false, true, false, Some(App::Notes)),
    ("notes_search", true, false, true, false, Some(App::Notes)),
    ("notes_get", true, false, true, false, Some(App::Notes)),
    ("notes_create", false, false, false, false, Some(App::Notes)),
    ("notes_update", false, true, true, false, Some(App::Notes)),
    ("notes_append", false, false, false, false, Some(App::Notes)),
    ("notes_delete", false, true, true, false, Some(App::Notes)),
    ("files_list", true, false, true, false, None),
    ("files_read", true, false, true, false, None),
    ("files_write", false, true, true, false, None),
    ("files_mkdir", false, false, false, false, None),
    ("files_move", false, true, false, false, None),
    ("files_copy", false, true, false, false, None),
    ("files_delete", false, true, true, false, None),
    ("files_find", true, false, true, false, None),
    ("calendar_list_calendars", true, false, true, false, None),
    ("calendar_list_events", true, false, true, false, None),
    ("calendar_create_event", false, false, false, false, None),
    ("calendar_update_event", false, true, true, true, None),
    ("calendar_delete_event", false, true, true, true, None),
    ("contacts_list_addressbooks", true, false, true, false, None),
    ("contacts_search", true, false, true, false, None),
    ("contacts_get", true, false, true, false, None),
    ("contacts_create", false, false, false, false, None),
    ("contacts_update", false, true, true, false, None),
    ("contacts_delete", false, true, true, false, None),
    ("sharing_list", true, false, true, false, Some(App::Sharing)),
    (
        "sharing_create",
        false,
        true,
        false,
        true,
        Some(App::Sharing),
    ),
    (
        "sharing_update",
        false,
        true,
        true,
        true,
        Some(App::Sharing),
    ),
    (
        "sharing_delete",
        false,
        true,
        true,
        false,
        Some(App::Sharing),
    ),
    (
        "talk_list_conversations",
        true,
        false,
        true,
        false,
        Some(App::Talk),
    ),
    (
        "talk_read_messages",
        true,
        false,
        true,
        false,
        Some(App::Talk),
    ),
    (
        "talk_send_message",
        false,
        true,
        false,
        true,
        Some(App::Talk),
    ),
    (
        "talk_create_conversation",
        false,
        false,
        false,
        true,
        Some(App::Talk),
    ),
];

#[test]
fn every_tool_tells_clients_its_annotations() {
    for spec in all() {
        let tool = spec.to_tool();
        let hints = tool.annotations.expect("annotated");
        assert_eq!(hints.read_only_hint, Some(spec.read_only), "{}", spec.name);
        assert_eq!(
            hints.destructive_hint,
            Some(spec.destructive),
            "{}",
            spec.name
        );
        assert_eq!(
            hints.idempotent_hint,
            Some(spec.idempotent),
            "{}",
            spec.name
        );
        assert_eq!(
            hints.open_world_hint,
            Some(spec.open_world),
            "{}",
            spec.name
        );
        assert!(!(spec.read_only && spec.destructive), "{}", spec.name);
        if spec.open_world {
            assert!(
                !spec.read_only && spec.description.contains("other people"),
                "{} reaches other people and must say so",
                spec.name
            );
        }
        // Every tool is pinned here: a new tool's hints are a decision, not a default.
        let Some((_, read_only, destructive, idempotent, open_world, requires)) =
            pinned().find(|a| a.0 == spec.name)
        else {
            panic!("{} has no row in ANNOTATIONS", spec.name);
        };
        {
            assert_eq!(
                (spec.read_only, spec.destructive, spec.idempotent),
                (*read_only, *destructive, *idempotent),
                "{}",
                spec.name
            );
            assert_eq!(spec.open_world, *open_world, "{}", spec.name);
            assert_eq!(spec.requires, *requires, "{}", spec.name);
        }
    }
    for (name, ..) in pinned() {
        assert!(spec(name).is_some(), "{name}");
    }
}

/// Every pinned row: the ones above and each family's own `HINTS`.
fn pinned() -> impl Iterator<Item = &'static Hints> {
    ANNOTATIONS
        .iter()
        .chain(calendar::HINTS)
        .chain(contacts::HINTS)
        .chain(files_extra::HINTS)
        .chain(tasks::HINTS)
        .chain(deck::HINTS)
        .chain(search::HINTS)
}

#[test]
fn tools_over_several_families_need_one_of_their_scopes() {
    let search = spec("search").expect("search");
    let fetch = spec("fetch").expect("fetch");
    let granted = |scope: &str| ScopeSet::parse(scope).expect("scopes").expanded();
    for tool in [search, fetch] {
        assert!(
            !tool.allowed(&granted("openid profile email")),
            "{}",
            tool.name
        );
        assert!(tool.allowed(&granted("openid notes:read")), "{}", tool.name);
        // Write implies read.
        assert!(tool.allowed(&granted("deck:write")), "{}", tool.name);
        // Sharing is not searched.
        assert!(!tool.allowed(&granted("sharing:write")), "{}", tool.name);
    }
    // A tool with required scopes and no choices is as before.
    let notes_get = spec("notes_get").expect("notes_get");
    assert!(notes_get.allowed(&granted("notes:write")));
    assert!(!notes_get.allowed(&granted("files:read")));
    assert_eq!(
        notes_get.named_scopes().collect::<Vec<_>>(),
        [Scope::NotesRead]
    );
}

#[test]
fn a_tool_that_reaches_other_people_is_open_world() {
    let whoami = &whoami::TOOLS[0];
    let send = ToolSpec {
        name: "talk_send",
        title: "Send a message",
        description: "Sends a message to other people in a conversation.",
        scopes: &[Scope::TalkWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
        schema: whoami.schema,
        output: None,
        requires: Some(App::Talk),
        handler: whoami.handler,
    };
    let tool = send.to_tool();
    assert_eq!(tool.annotations.unwrap().open_world_hint, Some(true));
    assert!(tool.output_schema.is_none());
}

#[test]
fn data_results_declare_an_object_output_schema() {
    for name in [
        "whoami",
        "notes_list",
        "files_list",
        "calendar_list_calendars",
        "contacts_list_addressbooks",
    ] {
        let tool = spec(name).unwrap().to_tool();
        let schema = tool.output_schema.unwrap_or_else(|| panic!("{name}"));
        // MCP requires an object at the root of outputSchema.
        assert_eq!(
            schema.get("type").and_then(Value::as_str),
            Some("object"),
            "{name}"
        );
        assert!(schema.get("properties").is_some(), "{name}");
    }
    for spec in all().filter(|s| s.output.is_some()) {
        let schema = (spec.output.unwrap())();
        assert_eq!(
            schema.get("type").and_then(Value::as_str),
            Some("object"),
            "{}",
            spec.name
        );
    }
    let whoami = (spec("whoami").unwrap().output.unwrap())();
    let required = whoami["required"].as_array().unwrap();
    for field in ["user", "subject", "client_id", "scopes"] {
        assert!(required.iter().any(|r| r == field), "{field}: {whoami:?}");
    }
}

#[test]
fn tools_and_families_can_be_disabled() {
    let all_tools = names(&Governance::default());
    assert_eq!(all_tools.len(), all().count());
    let g = Governance::new(&entries(&["files_*", "notes_delete"]), false).unwrap();
    let served = names(&g);
    assert!(
        served.iter().all(|n| !n.starts_with("files_")),
        "{served:?}"
    );
    assert!(!served.contains(&"notes_delete") && served.contains(&"notes_get"));
    assert!(served.contains(&"calendar_list_events") && served.contains(&"whoami"));
    assert!(matches!(g.lookup("files_read"), Lookup::Disabled(s) if s.name == "files_read"));
    assert!(matches!(g.lookup("notes_get"), Lookup::Served(_)));
    assert!(matches!(g.lookup("nope"), Lookup::Unknown));
    assert!(!markdown_table(&g).contains("`files_list`"));
}

#[test]
fn read_only_disables_every_tool_that_changes_data() {
    let g = Governance::new(&[], true).unwrap();
    for spec in all() {
        let served = matches!(g.lookup(spec.name), Lookup::Served(_));
        assert_eq!(served, spec.read_only, "{}", spec.name);
    }
    assert!(g.disabled().contains(&"files_write"));
}

#[test]
fn unknown_tools_and_families_are_refused_by_name() {
    for bad in [
        "file_read",
        "files",
        "mail_*",
        "*",
        "notes_get_*",
        "files_*x",
    ] {
        let e = Governance::new(&entries(&[bad]), false).unwrap_err();
        assert!(e.contains(bad), "{e}");
    }
}
