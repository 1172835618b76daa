use super::parse::{addresses_arg, date_arg, emails_arg, phones_arg};
use super::search::{decode_cursor, encode_cursor, SortKey};
use super::*;
use crate::tools::parse_args;
use rmcp::model::JsonObject;
use serde_json::json;

#[test]
fn emails_and_phones_are_checked() {
    assert_eq!(
        emails_arg(vec![" a@b.example ".into(), "".into()]).unwrap(),
        ["a@b.example"]
    );
    assert!(emails_arg(vec!["not an address".into()]).is_err());
    assert!(emails_arg(vec!["a@b\nc".into()]).is_err());
    assert_eq!(
        phones_arg(vec!["+1 555 0100".into()]).unwrap(),
        ["+1 555 0100"]
    );
    assert!(phones_arg(vec!["call me".into()]).is_err());
}

#[test]
fn addresses_and_dates_are_checked() {
    let arg = |v: serde_json::Value| serde_json::from_value::<AddressArg>(v).unwrap();
    let addresses = addresses_arg(vec![arg(json!({
        "type": "Work", "street": " Kai 3 ", "city": "Hamburg", "postal_code": "20457"
    }))])
    .unwrap();
    assert_eq!(addresses[0].types, ["work"]);
    assert_eq!(addresses[0].street, "Kai 3");
    assert!(addresses_arg(vec![arg(json!({"type": "holiday", "city": "X"}))]).is_err());
    // As contacts_get shows an address.
    let read = addresses_arg(vec![arg(json!({"types": ["home", "HOME"], "city": "X"}))]);
    assert_eq!(read.unwrap()[0].types, ["home"]);
    assert!(addresses_arg(vec![arg(json!({"type": "home"}))]).is_err());
    assert!(addresses_arg(vec![arg(json!({"city": "a\u{7}b"}))]).is_err());
    assert!(serde_json::from_value::<AddressArg>(json!({"town": "X"})).is_err());
    assert_eq!(date_arg(None, "birthday").unwrap(), None);
    assert_eq!(date_arg(Some(" ".into()), "birthday").unwrap(), Some(None));
    assert!(date_arg(Some("--04-15".into()), "birthday")
        .unwrap()
        .unwrap()
        .is_some());
    let e = date_arg(Some("15.4.1985".into()), "birthday").unwrap_err();
    assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
}

#[test]
fn cursors_round_trip_and_order_pages() {
    let key = |n: &str, f: &str| SortKey(n.into(), "contacts".into(), f.into(), f.into());
    let cursor = encode_cursor(&key("zoë", "z.vcf"));
    assert_eq!(decode_cursor(&cursor).unwrap(), key("zoë", "z.vcf"));
    assert!(key("anna", "b.vcf") < key("anna", "c.vcf"));
    assert!(key("anna", "z.vcf") < key("bob", "a.vcf"));
    for bad in ["", "nope", "e30", &encode_cursor(&key("a", "b"))[1..]] {
        let e = decode_cursor(bad).unwrap_err();
        assert!(
            e.to_string().contains("not one contacts_search gave"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn create_args_need_a_name_field_and_refuse_unknown_fields() {
    let mut args = JsonObject::new();
    args.insert("addressbook_id".into(), json!("contacts"));
    args.insert("nickname".into(), json!("JD"));
    assert!(parse_args::<CreateArgs>(Some(args)).is_err());
}
