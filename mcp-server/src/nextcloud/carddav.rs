//! Nextcloud Contacts over CardDAV (RFC 6352): address books below
//! `remote.php/dav/addressbooks/users/{user}/`, cards read as stored (see [`Nextcloud::card_stored`])
//! and written conditionally on the ETag the model read. The card model is in [`super::cards`].

use reqwest::StatusCode;
use serde::Serialize;

use super::cards::cards_of;
use super::collection::{object_in, Collections, Read};
use super::dav::{read_text, unexpected, DavObject, ObjectKind};
use super::paths::last_segment;
use super::xml::{parse_xml, xml_escape, DavResponse, NS_CARDDAV, NS_DAV, NS_SABRE};
use super::{NcError, Session};

const API: &str = "carddav";

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AddressBook {
    /// The collection's name in its URL (e.g. `contacts`).
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A vCard as stored (one `.vcf` resource).
pub type CardObject = DavObject;

/// Address books: what CardDAV objects share with calendars ([`super::collection`]).
pub const ADDRESS_BOOKS: Collections = Collections {
    object: ObjectKind {
        api: API,
        media_type: "text/vcard",
        noun: "contact",
        a_noun: "a contact",
        reread: "get it again with contacts_get",
        refused: "Nextcloud refused the contact data",
    },
    home: "addressbooks/users",
    extension: "vcf",
    id_label: "the address book id",
    name_label: "the contact file name",
    noun: "address book",
    list_hint: "list them with contacts_list_addressbooks",
    find_hint: "find contacts with contacts_search",
    uid_query: uid_query_body,
    object_of: card_object_of,
    holds_uid: holds_card,
    read: Read::Stored,
};

/// Whether a vCard text holds a card with `uid`.
fn holds_card(data: &str, uid: &str) -> bool {
    cards_of(data)
        .map(|cards| cards.iter().any(|c| c.text("UID").as_deref() == Some(uid)))
        .unwrap_or(false)
}

/// The address-data a search asks for: only what a search answer shows (RFC 6352 §10.4.2;
/// sabre's `Plugin::convertVCard` adds UID, VERSION and FN), as thousands of cards may come and
/// photos would make the answer large.
const SUMMARY_DATA: &str = r#"
    <card:address-data content-type="text/vcard" version="4.0">
      <card:prop name="N"/>
      <card:prop name="EMAIL"/>
      <card:prop name="TEL"/>
      <card:prop name="ORG"/>
    </card:address-data>"#;

/// addressbook-query: cards whose FN or EMAIL contains `query` (all cards if `None`).
pub fn search_body(query: Option<&str>, limit: usize) -> String {
    let filter = match query {
        Some(q) => {
            let q = xml_escape(q);
            format!(
                r#"
  <card:filter test="anyof">
    <card:prop-filter name="FN">
      <card:text-match collation="i;unicode-casemap" match-type="contains">{q}</card:text-match>
    </card:prop-filter>
    <card:prop-filter name="EMAIL">
      <card:text-match collation="i;unicode-casemap" match-type="contains">{q}</card:text-match>
    </card:prop-filter>
  </card:filter>"#
            )
        }
        // Sabre (and RFC 6352 servers generally) treat a missing filter as "every card".
        None => String::new(),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop>
    <d:getetag/>{SUMMARY_DATA}
  </d:prop>{filter}
  <card:limit>
    <card:nresults>{limit}</card:nresults>
  </card:limit>
</card:addressbook-query>"#
    )
}

/// How a number may be written between its last two digits (`…45 67`, `…4-567`, `tel:+1-555-…`).
const PHONE_SEPARATORS: [&str; 7] = ["", " ", "-", ".", "/", ")", ") "];

/// addressbook-query for a phone search: cards with a TEL containing the query's last two
/// digits, however the number separates them (sabre matches TEL values as text, so the full
/// query cannot be sent: `+49 170 1234567` is not contained in `0170/1234567`). The caller
/// compares the numbers of the cards found with [`super::cards::phone_matches`]. Only the
/// properties a search answer shows are asked for ([`SUMMARY_DATA`]).
pub fn phone_search_body(last_two: [char; 2], limit: usize) -> String {
    let matches: String = PHONE_SEPARATORS
        .iter()
        .map(|sep| {
            let text = format!("{}{sep}{}", last_two[0], last_two[1]);
            let text = xml_escape(&text);
            format!(
                r#"
      <card:text-match collation="i;unicode-casemap" match-type="contains">{text}</card:text-match>"#
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop>
    <d:getetag/>{SUMMARY_DATA}
  </d:prop>
  <card:filter>
    <card:prop-filter name="TEL" test="anyof">{matches}
    </card:prop-filter>
  </card:filter>
  <card:limit>
    <card:nresults>{limit}</card:nresults>
  </card:limit>
</card:addressbook-query>"#
    )
}

/// Extended MKCOL (RFC 5689) creating an address book, as Nextcloud accepts it: resourcetype
/// collection + addressbook, display name and description (the only properties Nextcloud's
/// CardDavBackend::createAddressBook takes; anything else is a 400 "Unknown property").
pub fn mkcol_addressbook_body(name: &str, description: Option<&str>) -> String {
    let description = description
        .map(|d| {
            format!(
                "<card:addressbook-description>{}</card:addressbook-description>",
                xml_escape(d)
            )
        })
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:set>
    <d:prop>
      <d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>
      <d:displayname>{name}</d:displayname>{description}
    </d:prop>
  </d:set>
</d:mkcol>"#,
        name = xml_escape(name)
    )
}

/// An address book id from a display name: lower case ASCII letters, digits and dashes (as
/// Nextcloud Contacts makes one), `addressbook` if nothing is left.
pub fn addressbook_id_from_name(name: &str) -> String {
    let mut id = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    let id: String = id.trim_end_matches('-').chars().take(60).collect();
    let id = id.trim_end_matches('-').to_owned();
    if id.is_empty() {
        "addressbook".into()
    } else {
        id
    }
}

fn uid_query_body(uid: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop>
    <d:getetag/>
    <card:address-data/>
  </d:prop>
  <card:filter>
    <card:prop-filter name="UID">
      <card:text-match collation="i;octet" match-type="equals">{uid}</card:text-match>
    </card:prop-filter>
  </card:filter>
</card:addressbook-query>"#,
        uid = xml_escape(uid)
    )
}

/// What sabre/vobject writes as PRODID into every card it converts.
const SABRE_PRODID: &str = "PRODID:-//Sabre//Sabre VObject";

const CARD_SIZE_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:">
  <d:prop>
    <d:getetag/>
    <d:getcontentlength/>
  </d:prop>
</d:propfind>"#;

const ADDRESSBOOKS_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop>
    <d:resourcetype/>
    <d:displayname/>
    <card:addressbook-description/>
  </d:prop>
</d:propfind>"#;

fn addressbook_entry(response: &DavResponse) -> Option<AddressBook> {
    if !response.has_resourcetype(NS_CARDDAV, "addressbook") {
        return None;
    }
    let id = last_segment(&response.href);
    Some(AddressBook {
        name: response
            .prop_text(NS_DAV, "displayname")
            .map(str::to_owned)
            .unwrap_or_else(|| id.clone()),
        description: response
            .prop_text(NS_CARDDAV, "addressbook-description")
            .map(str::to_owned),
        id,
    })
}

fn card_object_of(response: &DavResponse) -> Option<CardObject> {
    object_in(response, NS_CARDDAV, "address-data")
}

impl Session<'_> {
    pub async fn addressbooks_list(&self) -> Result<Vec<AddressBook>, NcError> {
        let url = self.collections_home(&ADDRESS_BOOKS)?;
        let request =
            self.dav_xml_request("PROPFIND", url, Some("1"), ADDRESSBOOKS_PROPFIND.into())?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => NcError::NotFound(
                    "the user has no address books (is the Contacts app enabled?)".into(),
                ),
                s => unexpected(s),
            })
            .await?;
        Ok(responses.iter().filter_map(addressbook_entry).collect())
    }

    /// Cards matching `query` (FN or EMAIL contains it, case-insensitive), at most `limit`.
    pub async fn contacts_query(
        &self,
        book: &str,
        query: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CardObject>, NcError> {
        self.contacts_report(book, search_body(query, limit)).await
    }

    /// Cards that may hold a number matching `phone` (see [`phone_search_body`]), at most
    /// `limit`; the caller compares the numbers.
    pub async fn contacts_query_phone(
        &self,
        book: &str,
        phone: &str,
        limit: usize,
    ) -> Result<Vec<CardObject>, NcError> {
        let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
        let [.., a, b] = digits[..] else {
            return Err(NcError::InvalidInput(
                "a phone number needs at least two digits".into(),
            ));
        };
        self.contacts_report(book, phone_search_body([a, b], limit))
            .await
    }

    async fn contacts_report(&self, book: &str, body: String) -> Result<Vec<CardObject>, NcError> {
        let url = self.collection_url(&ADDRESS_BOOKS, book)?;
        let request = self.dav_xml_request("REPORT", url, Some("1"), body)?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => ADDRESS_BOOKS.not_found(book),
                s => unexpected(s),
            })
            .await?;
        Ok(responses.iter().filter_map(card_object_of).collect())
    }

    /// Creates address book `id` (extended MKCOL). `Ok(false)` if something with that name
    /// exists (sabre answers 405).
    pub async fn addressbook_create(
        &self,
        id: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<bool, NcError> {
        let url = self.collection_url(&ADDRESS_BOOKS, id)?;
        let request = self.dav_xml_request(
            "MKCOL",
            url,
            None,
            mkcol_addressbook_body(name, description),
        )?;
        let response = self.send(API, request).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::METHOD_NOT_ALLOWED => Ok(false),
            StatusCode::CONFLICT | StatusCode::NOT_FOUND => Err(NcError::NotFound(
                "the user has no address books (is the Contacts app enabled?)".into(),
            )),
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                let body = read_text(response, "answer").await.unwrap_or_default();
                let message = parse_xml(&body)
                    .ok()
                    .and_then(|e| {
                        e.child(NS_SABRE, "message")
                            .and_then(|m| m.text_value().map(str::to_owned))
                    })
                    .unwrap_or_else(|| "Nextcloud refused to create the address book".into());
                Err(NcError::InvalidInput(message))
            }
            s => Err(unexpected(s)),
        }
    }

    /// One address book by id, as contacts_list_addressbooks shows it.
    pub async fn addressbook_get(&self, id: &str) -> Result<AddressBook, NcError> {
        let url = self.collection_url(&ADDRESS_BOOKS, id)?;
        let request =
            self.dav_xml_request("PROPFIND", url, Some("0"), ADDRESSBOOKS_PROPFIND.into())?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => ADDRESS_BOOKS.not_found(id),
                s => unexpected(s),
            })
            .await?;
        responses
            .iter()
            .find_map(addressbook_entry)
            .ok_or_else(|| ADDRESS_BOOKS.not_found(id))
    }

    /// A card exactly as it is stored. Sabre (and so Nextcloud) converts every card it sends
    /// to the vCard version the client asks for, vCard 3.0 by default, and sends the stored
    /// bytes only when they already are in that version (sabre/dav lib/CardDAV/Plugin.php,
    /// httpAfterGet / convertVCard). Editing a converted copy and saving it over a 4.0 card
    /// damages it (KIND dropped, year-less birthdays turned into 1604, data URIs re-encoded),
    /// so the card is asked for as 4.0 and then as 3.0, and the answer whose length is the
    /// stored size (`getcontentlength`, which sabre and Nextcloud keep as the stored byte
    /// count) is the stored card.
    pub(super) async fn card_stored(
        &self,
        kind: &Collections,
        book: &str,
        name: &str,
    ) -> Result<Option<CardObject>, NcError> {
        let url = self.object_url(kind, book, name)?;
        for _attempt in 0..2 {
            let request = self.dav_xml_request(
                "PROPFIND",
                url.clone(),
                Some("0"),
                CARD_SIZE_PROPFIND.into(),
            )?;
            let responses = match self
                .dav_multistatus(API, request, |status| match status {
                    StatusCode::NOT_FOUND => NcError::NotFound(String::new()),
                    s => unexpected(s),
                })
                .await
            {
                Err(NcError::NotFound(_)) => return Ok(None),
                other => other?,
            };
            let Some(stat) = responses.first() else {
                return Ok(None);
            };
            let size = stat
                .prop_text(NS_DAV, "getcontentlength")
                .and_then(|s| s.parse::<usize>().ok());
            let etag = stat.etag();
            let mut candidates = Vec::new();
            for accept in ["text/vcard; version=4.0", "text/vcard; version=3.0"] {
                let Some(object) = self
                    .dav_get_object_as(&kind.object, url.clone(), name, accept)
                    .await?
                else {
                    return Ok(None);
                };
                if object.etag.is_some() && etag.is_some() && object.etag != etag {
                    break; // changed between the two requests: read again
                }
                if size.is_none() || size == Some(object.data.len()) {
                    candidates.push(object);
                }
                // A 4.0 answer that sabre did not make itself is the stored card.
                if candidates.len() == 1 && !candidates[0].data.contains(SABRE_PRODID) {
                    break;
                }
            }
            match candidates.len() {
                1 => return Ok(candidates.pop()),
                0 if size.is_none() => {}
                0 => {}
                _ => {
                    return Err(NcError::BadResponse(
                        "the contact's stored form cannot be told from sabre's conversions; edit \
                         it in a contacts app"
                            .into(),
                    ))
                }
            }
        }
        Err(NcError::BadResponse(
            "the contact could not be read as it is stored (it may be a vCard 2.1, which \
             Nextcloud converts on every read); edit it in a contacts app"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nextcloud::xml::{parse_multistatus, parse_xml};
    use url::Url;

    #[test]
    fn card_urls_stay_in_the_address_book() {
        let nc = crate::nextcloud::Nextcloud::new(
            reqwest::Client::new(),
            Url::parse("https://cloud.example/").unwrap(),
            crate::metrics::Metrics::new().unwrap(),
        );
        let nc = Session::new(
            &nc,
            crate::nextcloud::NcAuth::Bearer("t".into()),
            "alice".into(),
        );
        assert_eq!(
            nc.object_url(&ADDRESS_BOOKS, "contacts", "a b.vcf")
                .unwrap()
                .as_str(),
            "https://cloud.example/remote.php/dav/addressbooks/users/alice/contacts/a%20b.vcf"
        );
        for book in ["..", ".", "a/b", ""] {
            assert!(
                matches!(
                    nc.object_url(&ADDRESS_BOOKS, book, "x.vcf"),
                    Err(NcError::InvalidInput(_))
                ),
                "{book:?}"
            );
        }
    }

    #[test]
    fn query_bodies_are_valid_xml() {
        let root = parse_xml(&search_body(Some("a&b"), 101)).unwrap();
        assert!(root.is(NS_CARDDAV, "addressbook-query"));
        let filter = root.child(NS_CARDDAV, "filter").unwrap();
        assert_eq!(filter.attr("test"), Some("anyof"));
        let names: Vec<&str> = filter
            .children_named(NS_CARDDAV, "prop-filter")
            .filter_map(|f| f.attr("name"))
            .collect();
        assert_eq!(names, ["FN", "EMAIL"]);
        let matcher = filter.children[0].child(NS_CARDDAV, "text-match").unwrap();
        assert_eq!(matcher.text, "a&b");
        assert_eq!(matcher.attr("match-type"), Some("contains"));
        let data = root
            .child(NS_DAV, "prop")
            .and_then(|p| p.child(NS_CARDDAV, "address-data"))
            .unwrap();
        assert_eq!(data.children_named(NS_CARDDAV, "prop").count(), 4);
        let all = parse_xml(&search_body(None, 10)).unwrap();
        assert!(all.child(NS_CARDDAV, "filter").is_none());
        assert!(parse_xml(&uid_query_body("x\"y")).is_ok());
    }

    #[test]
    fn a_phone_search_asks_for_the_last_two_digits_however_separated() {
        let root = parse_xml(&phone_search_body(['6', '7'], 1001)).unwrap();
        let filter = root
            .child(NS_CARDDAV, "filter")
            .unwrap()
            .child(NS_CARDDAV, "prop-filter")
            .unwrap();
        assert_eq!(filter.attr("name"), Some("TEL"));
        assert_eq!(filter.attr("test"), Some("anyof"));
        let texts: Vec<&str> = filter
            .children_named(NS_CARDDAV, "text-match")
            .map(|m| m.text.as_str())
            .collect();
        assert_eq!(texts, ["67", "6 7", "6-7", "6.7", "6/7", "6)7", "6) 7"]);
        let limit = root.child(NS_CARDDAV, "limit").unwrap();
        assert_eq!(limit.child(NS_CARDDAV, "nresults").unwrap().text, "1001");
        // Only what a search answer shows, not the photos.
        let data = root
            .child(NS_DAV, "prop")
            .and_then(|p| p.child(NS_CARDDAV, "address-data"))
            .unwrap();
        let props: Vec<&str> = data
            .children_named(NS_CARDDAV, "prop")
            .filter_map(|p| p.attr("name"))
            .collect();
        assert_eq!(props, ["N", "EMAIL", "TEL", "ORG"]);
    }

    #[test]
    fn an_address_book_is_made_by_extended_mkcol() {
        let root = parse_xml(&mkcol_addressbook_body("Kunden & Co", Some("<b>"))).unwrap();
        assert!(root.is(NS_DAV, "mkcol"));
        let prop = root
            .child(NS_DAV, "set")
            .and_then(|s| s.child(NS_DAV, "prop"))
            .unwrap();
        let types = prop.child(NS_DAV, "resourcetype").unwrap();
        assert!(types.child(NS_DAV, "collection").is_some());
        assert!(types.child(NS_CARDDAV, "addressbook").is_some());
        assert_eq!(
            prop.child(NS_DAV, "displayname").unwrap().text,
            "Kunden & Co"
        );
        assert_eq!(
            prop.child(NS_CARDDAV, "addressbook-description")
                .unwrap()
                .text,
            "<b>"
        );
        let plain = parse_xml(&mkcol_addressbook_body("X", None)).unwrap();
        let prop = plain
            .child(NS_DAV, "set")
            .and_then(|s| s.child(NS_DAV, "prop"))
            .unwrap();
        // Nextcloud refuses any property but these two.
        assert_eq!(prop.children.len(), 2);
        assert_eq!(
            addressbook_id_from_name("  Kunden & Partner 2026 "),
            "kunden-partner-2026"
        );
        assert_eq!(addressbook_id_from_name("Größe"), "gr-e");
        assert_eq!(addressbook_id_from_name("!!"), "addressbook");
    }

    #[test]
    fn addressbooks_from_propfind() {
        let body = r#"<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="urn:ietf:params:xml:ns:carddav">
 <ns0:response><ns0:href>/remote.php/dav/addressbooks/users/alice/</ns0:href><ns0:propstat><ns0:prop><ns0:resourcetype><ns0:collection/></ns0:resourcetype></ns0:prop><ns0:status>HTTP/1.1 200 OK</ns0:status></ns0:propstat></ns0:response>
 <ns0:response><ns0:href>/remote.php/dav/addressbooks/users/alice/contacts/</ns0:href><ns0:propstat><ns0:prop><ns0:resourcetype><ns0:collection/><ns1:addressbook/></ns0:resourcetype><ns0:displayname>Contacts</ns0:displayname></ns0:prop><ns0:status>HTTP/1.1 200 OK</ns0:status></ns0:propstat></ns0:response>
</ns0:multistatus>"#;
        let books: Vec<AddressBook> = parse_multistatus(body)
            .unwrap()
            .iter()
            .filter_map(addressbook_entry)
            .collect();
        assert_eq!(books.len(), 1);
        assert_eq!(books[0].id, "contacts");
        assert_eq!(books[0].name, "Contacts");
    }
}
