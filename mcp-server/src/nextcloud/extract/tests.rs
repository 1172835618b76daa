//! Extraction of the committed fixtures (tests/fixtures/docs, written by python-docx,
//! XlsxWriter, python-pptx, odfpy, fpdf2 and reportlab: see make.py there) and of hostile input:
//! zip bombs, lying sizes, entry floods, deep XML, entity tricks, PDF stream bombs, mutated
//! files (no panic, bounded time).

use std::io::{Cursor, Read, Write};

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};
use proptest::prelude::*;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/docs/", $name)).as_slice()
    };
}

const FIXTURES: [(&str, &[u8]); 8] = [
    ("report.docx", fixture!("report.docx")),
    ("budget.xlsx", fixture!("budget.xlsx")),
    ("slides.pptx", fixture!("slides.pptx")),
    ("report.odt", fixture!("report.odt")),
    ("budget.ods", fixture!("budget.ods")),
    ("slides.odp", fixture!("slides.odp")),
    ("report.pdf", fixture!("report.pdf")),
    ("letter.pdf", fixture!("letter.pdf")),
];

fn later() -> Deadline {
    Deadline(monotonic() + Duration::from_secs(60))
}

fn text_of(bytes: &[u8]) -> Extracted {
    extract(bytes, &Limits::DEFAULT, later()).expect("extracted")
}

#[test]
fn word_paragraphs_runs_and_table_cells() {
    let doc = text_of(fixture!("report.docx"));
    assert_eq!(doc.format, Format::Docx);
    assert!(!doc.truncated);
    assert_eq!(
        doc.text,
        "Quarterly report\n\
         Überblick: the café opened in March and sold 1 234 cups for 2 468 €.\n\
         Second paragraph with bold and italic words.\n\
         Region\tRevenue\n\
         North\t12 000 €\n\
         \n\
         Closing line after the table."
    );
}

#[test]
fn excel_sheets_in_order_with_shared_strings_and_values() {
    let doc = text_of(fixture!("budget.xlsx"));
    assert_eq!(doc.format, Format::Xlsx);
    assert_eq!(
        doc.text,
        "[Sheet: Budget]\n\
         Quarterly report\tAmount\n\
         Café rent\t1200\n\
         Überblick travel\t350.5\n\
         Total\t1550.5\n\
         \n\
         [Sheet: Notes]\n\
         Second sheet text"
    );
}

#[test]
fn powerpoint_slides_in_order() {
    let doc = text_of(fixture!("slides.pptx"));
    assert_eq!(doc.format, Format::Pptx);
    assert_eq!(
        doc.text,
        "[Slide 1]\nQuarterly report\nÜberblick for the café team\n\n\
         [Slide 2]\nNumbers\nRevenue up 12 %\nCosts 2 468 €"
    );
}

#[test]
fn opendocument_text_sheet_and_presentation() {
    let odt = text_of(fixture!("report.odt"));
    assert_eq!(odt.format, Format::Odt);
    assert_eq!(
        odt.text,
        "Quarterly report\n\
         Überblick: the café opened in March and sold 1 234 cups for 2 468 €.\n\
         A line\nbroken in two, with a span.\n\
         Region\tRevenue\n\
         North\t12 000 €"
    );
    let ods = text_of(fixture!("budget.ods"));
    assert_eq!(ods.format, Format::Ods);
    assert_eq!(
        ods.text,
        "[Sheet: Budget]\nQuarterly report\nCafé rent\t1200\nÜberblick travel\t350.5"
    );
    let odp = text_of(fixture!("slides.odp"));
    assert_eq!(odp.format, Format::Odp);
    assert_eq!(
        odp.text,
        "[Slide 1]\nQuarterly report\nÜberblick for the café team\n\n[Slide 2]\nNumbers\nCosts 2 468 €"
    );
}

#[test]
fn pdf_with_an_embedded_subset_font_and_with_a_standard_font() {
    // fpdf2 embeds a TrueType subset with a ToUnicode map, as Word and LibreOffice do.
    let report = text_of(fixture!("report.pdf"));
    assert_eq!(report.format, Format::Pdf);
    assert_eq!(
        report.text,
        "[Page 1]\nQuarterly report\n\
         Überblick: the café opened in March and sold 1 234 cups for 2 468 €.\n\
         Second line of the first page.\n\n\
         [Page 2]\nPage two says goodbye."
    );
    // reportlab: Helvetica in WinAnsiEncoding, compressed page stream.
    let letter = text_of(fixture!("letter.pdf"));
    assert_eq!(
        letter.text,
        "Quarterly report\nÜberblick: the café costs 2 468 €.\nKind regards,\nAlice"
    );
}

#[test]
fn the_bytes_decide_the_format_not_the_name() {
    for (name, bytes) in FIXTURES {
        let expected = Format::guess(name, None).expect("a document name");
        assert_eq!(sniff(bytes), Some(expected), "{name}");
    }
    assert_eq!(sniff(b"hello, plain text"), None);
    assert_eq!(
        extract(b"hello, plain text", &Limits::DEFAULT, later()),
        Err(ExtractError::NotADocument)
    );
    // A zip that is neither OOXML nor ODF.
    assert_eq!(sniff(&package(&[("readme.txt", b"hi".to_vec())])), None);
    // Legacy Office (OLE2) is named as such.
    let ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest";
    let err = extract(ole, &Limits::DEFAULT, later()).unwrap_err();
    assert!(err.to_string().contains("legacy Office"), "{err}");
}

#[test]
fn guesses_by_content_type_then_name() {
    assert_eq!(Format::guess("a/b.PDF", None), Some(Format::Pdf));
    assert_eq!(Format::guess("x.docm", None), Some(Format::Docx));
    assert_eq!(
        Format::guess(
            "noext",
            Some("application/vnd.oasis.opendocument.spreadsheet")
        ),
        Some(Format::Ods)
    );
    assert_eq!(Format::guess("a.txt", Some("text/plain")), None);
    assert_eq!(Format::guess("image.png", Some("image/png")), None);
}

#[test]
fn text_is_cut_at_the_limit_on_a_character_boundary() {
    let limits = Limits {
        max_text_bytes: 19, // inside the two bytes of "Ü"
        ..Limits::DEFAULT
    };
    for (name, bytes) in FIXTURES {
        let doc = extract(bytes, &limits, later()).expect(name);
        assert!(doc.truncated, "{name}");
        assert!(doc.text.len() <= 19, "{name}: {:?}", doc.text);
        let full = text_of(bytes).text;
        assert!(
            full.starts_with(&doc.text),
            "{name}: a prefix of the whole text"
        );
    }
    let doc = text_of(fixture!("report.docx"));
    assert!(!doc.truncated);
}

#[test]
fn a_passed_deadline_stops_every_format() {
    let past = Deadline(monotonic());
    for (name, bytes) in FIXTURES {
        assert_eq!(
            extract(bytes, &Limits::DEFAULT, past),
            Err(ExtractError::TimedOut),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_bounded_run_answers_and_times_out() {
    let doc = extract_bounded(
        fixture!("report.odt").to_vec(),
        Limits::DEFAULT,
        Duration::from_secs(30),
    )
    .await
    .expect("text");
    assert!(doc.text.starts_with("Quarterly report"));
    let late = extract_bounded(
        fixture!("report.pdf").to_vec(),
        Limits::DEFAULT,
        Duration::ZERO,
    )
    .await;
    assert_eq!(late, Err(ExtractError::TimedOut));
}

// --- hostile packages -------------------------------------------------------------------------

/// A zip package of (name, content) entries, deflated.
fn package(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in entries {
        zip.start_file(*name, options).expect("entry");
        zip.write_all(content).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

/// A minimal Word package around a document.xml body.
fn docx_with(document_xml: Vec<u8>) -> Vec<u8> {
    package(&[
        ("[Content_Types].xml", b"<Types/>".to_vec()),
        ("word/document.xml", document_xml),
    ])
}

fn word_xml(body: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/\
         wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    )
    .into_bytes()
}

#[test]
fn a_zip_bomb_is_refused_by_the_inflated_budget() {
    let limits = Limits {
        max_inflated: 1024 * 1024,
        ..Limits::DEFAULT
    };
    // 4 MiB of spaces deflate to a few KiB.
    let mut xml = word_xml("<w:p><w:r><w:t>x</w:t></w:r></w:p>");
    xml.extend(std::iter::repeat_n(b' ', 4 * 1024 * 1024));
    let bomb = docx_with(xml);
    assert!(bomb.len() < 64 * 1024);
    let err = extract(&bomb, &limits, later()).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge(_)), "{err:?}");
}

#[test]
fn a_zip_entry_lying_about_its_size_is_still_bounded() {
    let limits = Limits {
        max_inflated: 1024 * 1024,
        ..Limits::DEFAULT
    };
    let mut xml = word_xml("");
    xml.extend(std::iter::repeat_n(b' ', 4 * 1024 * 1024));
    let mut bomb = docx_with(xml);
    // Declare 100 bytes uncompressed in the local and central headers of document.xml.
    let name = b"word/document.xml";
    let mut patched = 0;
    for at in 0..bomb.len().saturating_sub(46) {
        let (sig, size_at, name_at) = match &bomb[at..at + 4] {
            b"PK\x03\x04" => ("local", at + 22, at + 30),
            b"PK\x01\x02" => ("central", at + 24, at + 46),
            _ => continue,
        };
        if bomb.get(name_at..name_at + name.len()) == Some(name) {
            bomb[size_at..size_at + 4].copy_from_slice(&100u32.to_le_bytes());
            patched += 1;
            let _ = sig;
        }
    }
    assert_eq!(patched, 2);
    let err = extract(&bomb, &limits, later()).unwrap_err();
    assert!(
        matches!(
            err,
            ExtractError::TooLarge(_) | ExtractError::Damaged { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn too_many_entries_are_refused() {
    let mut entries = vec![
        ("[Content_Types].xml".to_owned(), b"<Types/>".to_vec()),
        ("word/document.xml".to_owned(), word_xml("")),
    ];
    for i in 0..20 {
        entries.push((format!("junk/{i}.xml"), Vec::new()));
    }
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, c)| (n.as_str(), c.clone()))
        .collect();
    let limits = Limits {
        max_entries: 10,
        ..Limits::DEFAULT
    };
    let err = extract(&package(&refs), &limits, later()).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge(_)), "{err:?}");
}

#[test]
fn deep_xml_is_refused() {
    let body = "<w:sdt>".repeat(10_000);
    let err = extract(&docx_with(word_xml(&body)), &Limits::DEFAULT, later()).unwrap_err();
    assert!(err.to_string().contains("nested too deeply"), "{err}");
}

#[test]
fn entities_are_never_expanded_nor_fetched() {
    let xml = br#"<?xml version="1.0"?>
<!DOCTYPE w:document [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>a&lol3;b&xxe;c &amp; &#252;</w:t></w:r></w:p></w:body></w:document>"#;
    let doc = text_of(&docx_with(xml.to_vec()));
    assert_eq!(doc.text, "abc & ü");
}

#[test]
fn tracked_deletions_field_codes_and_tab_stops_are_not_text() {
    let xml = word_xml(
        "<w:p><w:pPr><w:tabs><w:tab w:val=\"left\" w:pos=\"720\"/></w:tabs></w:pPr>\
         <w:r><w:t xml:space=\"preserve\">kept </w:t></w:r>\
         <w:del><w:r><w:delText>deleted</w:delText></w:r></w:del>\
         <w:r><w:instrText> HYPERLINK \"http://127.0.0.1/\" </w:instrText></w:r>\
         <w:r><w:tab/><w:t>after tab</w:t><w:br/><w:t>next line</w:t></w:r></w:p>",
    );
    // The space before the tab is the document's own (xml:space="preserve").
    assert_eq!(text_of(&docx_with(xml)).text, "kept \tafter tab\nnext line");
}

#[test]
fn external_relationships_are_not_followed() {
    let workbook = br#"<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Far" sheetId="1" r:id="rId1"/><sheet name="Here" sheetId="2" r:id="rId2"/></sheets></workbook>"#;
    let rels = br#"<Relationships><Relationship Id="rId1" Type="worksheet" Target="http://127.0.0.1:9/x.xml" TargetMode="External"/><Relationship Id="rId2" Type="worksheet" Target="worksheets/sheet2.xml"/></Relationships>"#;
    let sheet = br#"<worksheet><sheetData><row><c t="inlineStr"><is><t>inline</t></is></c><c t="b"><v>1</v></c></row></sheetData></worksheet>"#;
    let bytes = package(&[
        ("[Content_Types].xml", b"<Types/>".to_vec()),
        ("xl/workbook.xml", workbook.to_vec()),
        ("xl/_rels/workbook.xml.rels", rels.to_vec()),
        ("xl/worksheets/sheet2.xml", sheet.to_vec()),
    ]);
    assert_eq!(text_of(&bytes).text, "[Sheet: Here]\ninline\tTRUE");
}

#[test]
fn repeated_cells_and_skipped_parts_of_opendocument() {
    let content = br#"<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table table:name="S"><table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="16384"/></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="3"><text:p>7</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1000000"/><table:table-cell><office:annotation><text:p>comment</text:p></office:annotation><text:p>a<text:s text:c="3"/>b</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
    let bytes = package(&[
        (
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheet".to_vec(),
        ),
        ("content.xml", content.to_vec()),
    ]);
    assert_eq!(text_of(&bytes).text, "[Sheet: S]\n7\t7\t7\t\ta   b");
}

#[test]
fn a_part_that_is_missing_is_a_damaged_document() {
    let bytes = package(&[
        ("[Content_Types].xml", b"<Types/>".to_vec()),
        ("word/document.xml", b"<w:document><w:body><w:p>".to_vec()),
    ]);
    // Unclosed XML still gives what was read; a missing content.xml is named.
    assert_eq!(text_of(&bytes).text, "");
    let odt = package(&[(
        "mimetype",
        b"application/vnd.oasis.opendocument.text".to_vec(),
    )]);
    let err = extract(&odt, &Limits::DEFAULT, later()).unwrap_err();
    assert!(err.to_string().contains("content.xml is missing"), "{err}");
}

// --- hostile PDFs -----------------------------------------------------------------------------

/// A one-page PDF showing `text` in Helvetica, its page stream followed by `padding` spaces
/// and compressed.
fn pdf_with(text: &str, padding: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let content = Content {
        operations: vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("Td", vec![72.into(), 700.into()]),
            Operation::new("Tj", vec![Object::string_literal(text)]),
            Operation::new("ET", vec![]),
        ],
    };
    let mut bytes = content.encode().expect("content");
    bytes.extend(std::iter::repeat_n(b' ', padding));
    let mut stream = Stream::new(dictionary! {}, bytes);
    stream.compress().expect("compress");
    let content_id = doc.add_object(stream);
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

#[test]
fn a_pdf_stream_bomb_is_cut_not_inflated() {
    let small = pdf_with("hello", 0);
    assert_eq!(text_of(&small).text, "hello");
    let bomb = pdf_with("hello", 8 * 1024 * 1024);
    assert!(bomb.len() < 64 * 1024);
    let limits = Limits {
        max_inflated: 1024 * 1024,
        ..Limits::DEFAULT
    };
    let doc = extract(&bomb, &limits, later()).expect("the pages within the bounds");
    assert!(doc.truncated);
    assert_eq!(doc.text, "");
}

#[test]
fn a_damaged_pdf_is_named_so() {
    let err = extract(b"%PDF-1.7\nnothing else", &Limits::DEFAULT, later()).unwrap_err();
    assert!(
        matches!(err, ExtractError::Damaged { format: "PDF", .. }),
        "{err:?}"
    );
}

// --- mutated fixtures: never a panic, always within time ---------------------------------------

/// The fixture's parts re-zipped with `part` replaced, so mutations reach the XML parsers
/// (raw flips mostly break the zip's CRC first).
fn rezip_with(bytes: &[u8], part: &str, content: Vec<u8>) -> Vec<u8> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).expect("zip");
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let name = entry.name().to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        if name == part {
            data = content.clone();
        }
        entries.push((name, data));
    }
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, c)| (n.as_str(), c.clone()))
        .collect();
    package(&refs)
}

fn main_part(name: &str) -> Option<&'static str> {
    Some(match name.rsplit('.').next()? {
        "docx" => "word/document.xml",
        "xlsx" => "xl/sharedStrings.xml",
        "pptx" => "ppt/slides/slide1.xml",
        "odt" | "ods" | "odp" => "content.xml",
        _ => return None,
    })
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, kind, value) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = at % bytes.len();
        match kind % 4 {
            0 => bytes[at] = value,
            1 => bytes[at] ^= 1 << (value % 8),
            2 => bytes.truncate(at),
            _ => bytes.insert(at, value),
        }
    }
    bytes
}

fn bounded(bytes: &[u8]) {
    let start = monotonic();
    let _ = extract(
        bytes,
        &Limits::DEFAULT,
        Deadline(start + Duration::from_secs(5)),
    );
    assert!(
        monotonic() - start < Duration::from_secs(10),
        "extraction overran its deadline"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_files_never_panic(
        which in 0..FIXTURES.len(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
    ) {
        let (_, bytes) = FIXTURES[which];
        bounded(&mutate(bytes.to_vec(), &edits));
    }

    #[test]
    fn mutated_xml_parts_never_panic(
        which in 0..6usize,
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
    ) {
        let (name, bytes) = FIXTURES[which];
        let part = main_part(name).expect("a package");
        let mut zip = ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut xml = Vec::new();
        zip.by_name(part).expect("part").read_to_end(&mut xml).expect("read");
        bounded(&rezip_with(bytes, part, mutate(xml, &edits)));
    }
}
