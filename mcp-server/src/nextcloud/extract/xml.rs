//! A streaming walk over the XML parts of office packages: elements by local name (the
//! prefixes these formats use are fixed in practice, but a walk by local name does not depend
//! on them), text with its character and predefined entity references resolved. quick-xml
//! reads no DTD and expands no declared entity, so neither "billion laughs" nor external
//! entities (XXE) can happen; nesting is bounded and the deadline checked as it goes.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{Deadline, ExtractError, Limits};

/// What the walk meets.
pub(super) enum Node<'a, 'e> {
    Open(&'a BytesStart<'e>),
    Close(&'a [u8]),
    Text(&'a str),
}

/// Whether to go on walking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Go,
    Stop,
}

/// How often (in events) the deadline is checked.
const CHECK_EVERY: u32 = 4096;

/// Walks `xml`, calling `visit` for each element start and end (an empty element gives both)
/// and each piece of text.
pub(super) fn walk(
    xml: &[u8],
    format: &'static str,
    limits: &Limits,
    deadline: Deadline,
    mut visit: impl FnMut(Node<'_, '_>) -> Flow,
) -> Result<(), ExtractError> {
    let damaged = |e: &dyn std::fmt::Display| ExtractError::damaged(format, e);
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    let mut depth = 0usize;
    let mut events = 0u32;
    let mut buf = Vec::new();
    loop {
        if events.is_multiple_of(CHECK_EVERY) {
            deadline.check()?;
        }
        events = events.wrapping_add(1);
        buf.clear();
        let event = reader.read_event_into(&mut buf).map_err(|e| damaged(&e))?;
        let flow = match &event {
            Event::Start(start) => {
                depth += 1;
                if depth > limits.max_xml_depth {
                    return Err(damaged(&"its XML is nested too deeply"));
                }
                visit(Node::Open(start))
            }
            Event::Empty(start) => match visit(Node::Open(start)) {
                Flow::Go => visit(Node::Close(start.local_name().into_inner())),
                Flow::Stop => Flow::Stop,
            },
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                visit(Node::Close(end.local_name().into_inner()))
            }
            Event::Text(text) => match text.xml10_content() {
                Ok(s) => visit(Node::Text(&s)),
                Err(e) => return Err(damaged(&e)),
            },
            Event::CData(data) => match data.xml10_content() {
                Ok(s) => visit(Node::Text(&s)),
                Err(e) => return Err(damaged(&e)),
            },
            Event::GeneralRef(reference) => {
                let mut utf8 = [0u8; 4];
                match reference.resolve_char_ref() {
                    Ok(Some(c)) => visit(Node::Text(c.encode_utf8(&mut utf8))),
                    Ok(None) => match reference.decode() {
                        Ok(name) => match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(value) => visit(Node::Text(value)),
                            // A declared entity: never expanded.
                            None => Flow::Go,
                        },
                        Err(e) => return Err(damaged(&e)),
                    },
                    Err(e) => return Err(damaged(&e)),
                }
            }
            Event::Eof => return Ok(()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => Flow::Go,
        };
        if flow == Flow::Stop {
            return Ok(());
        }
    }
}

/// The local name of an element start.
pub(super) fn local<'a>(start: &'a BytesStart<'_>) -> &'a [u8] {
    start.local_name().into_inner()
}

/// The value of the attribute with this local name (any prefix), unescaped.
pub(super) fn attr(start: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// The value of a namespaced attribute with this local name (`r:id`, not a plain `id`).
pub(super) fn prefixed_attr(start: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.prefix().is_some() && a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}
