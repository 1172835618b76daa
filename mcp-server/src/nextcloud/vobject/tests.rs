use super::*;

#[test]
fn content_lines_parse_params_and_unfold() {
    let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane\r\n  Doe\r\nitem1.EMAIL;TYPE=INTERNET,WORK;X-LABEL=\"a:b;c\":jane@example.com\r\nTEL;HOME:123\r\nNOTE;X-Q=^'hi^'^n:line\\nnext\\, more\\; end\\\\\r\nEND:VCARD\r\n";
    let components = parse_components(text).unwrap();
    assert_eq!(components.len(), 1);
    let card = &components[0];
    assert_eq!(card.text("FN").as_deref(), Some("Jane Doe"));
    let email = card.prop("EMAIL").unwrap();
    assert_eq!(email.name, "ITEM1.EMAIL");
    assert_eq!(email.param_values("TYPE"), ["INTERNET", "WORK"]);
    assert_eq!(email.param("X-LABEL"), Some("a:b;c"));
    assert_eq!(email.value, "jane@example.com");
    assert_eq!(card.prop("TEL").unwrap().param_values("type"), ["HOME"]);
    let note = card.prop("NOTE").unwrap();
    assert_eq!(note.param("X-Q"), Some("\"hi\"\n"));
    assert_eq!(note.text_value(), "line\nnext, more; end\\");
    // Round trip keeps everything.
    let again = parse_components(&card.to_text()).unwrap();
    assert_eq!(&again[0], card);
}

#[test]
fn folding_respects_75_octets_and_utf8() {
    let long = format!("DESCRIPTION:{}", "ä€x".repeat(60));
    let mut out = String::new();
    fold_line(&long, &mut out);
    for line in out.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    assert_eq!(unfold(&out), vec![long]);
}

#[test]
fn text_escaping_round_trips() {
    let raw = "a,b;c\\d\r\ne\nf";
    let escaped = escape_text(raw);
    assert_eq!(escaped, "a\\,b\\;c\\\\d\\ne\\nf");
    assert_eq!(unescape_text(&escaped), "a,b;c\\d\ne\nf");
    assert_eq!(
        split_structured("Doe;Jane\\;Ann;;Dr.;"),
        ["Doe", "Jane;Ann", "", "Dr.", ""]
    );
    assert_eq!(join_structured(&["Doe", "Jane;Ann"]), "Doe;Jane\\;Ann");
}

#[test]
fn unbalanced_components_are_errors() {
    assert!(parse_components("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n").is_err());
    assert!(parse_components("BEGIN:VCALENDAR\r\n").is_err());
    assert!(parse_components("END:VCALENDAR\r\n").is_err());
}

#[test]
fn uids_are_uuid_v4() {
    let a = random_uid().unwrap();
    let b = random_uid().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 36);
    assert_eq!(&a[14..15], "4");
    assert!(a.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
}

#[test]
fn every_client_fixture_round_trips_byte_for_byte() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/dav");
    let mut checked = 0;
    for folder in ["calendar", "contacts"] {
        for entry in std::fs::read_dir(format!("{root}/{folder}")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let roots = parse_components(&text).unwrap();
            let mut out = String::new();
            for component in &roots {
                component.write(&mut out);
            }
            assert_eq!(out, text, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} fixtures found");
}

#[test]
fn changed_lines_are_rewritten_and_the_rest_kept() {
    let text = "BEGIN:VCARD\nVERSION:3.0\nitem1.EMAIL;type=INTERNET:a@example.com\nitem1.X-ABLabel:_$!<Other>!$_\nNOTE:one\n two\nBROKEN LINE WITHOUT COLON\nEND:VCARD\n";
    let mut card = parse_components(text).unwrap().remove(0);
    assert_eq!(card.to_text(), text);
    card.set_text("NOTE", "three");
    card.push_property(Property::text("TITLE", "Chief"));
    let out = card.to_text();
    // LF stays LF, the unparsable line and the group survive, the changed line is new.
    assert_eq!(
        out,
        "BEGIN:VCARD\nVERSION:3.0\nitem1.EMAIL;type=INTERNET:a@example.com\nitem1.X-ABLabel:_$!<Other>!$_\nNOTE:three\nBROKEN LINE WITHOUT COLON\nTITLE:Chief\nEND:VCARD\n"
    );
    // A property changed in place through its fields is rewritten too.
    let mut card = parse_components(text).unwrap().remove(0);
    if let Some(email) = card.prop_mut("EMAIL") {
        email.value = "b@example.com".into();
    }
    assert!(card
        .to_text()
        .contains("ITEM1.EMAIL;TYPE=INTERNET:b@example.com\n"));
}
