//! Office Open XML (ECMA-376): the text of Word documents (`word/document.xml`), Excel workbooks
//! (`xl/sharedStrings.xml` and the sheets, in the workbook's order, with their names) and
//! PowerPoint presentations (the slides, in the presentation's order). Formulas, field codes,
//! deleted text of tracked changes, phonetic guides, comments and speaker notes are left out;
//! external relationships are never followed.

use std::collections::HashMap;

use super::package::Package;
use super::xml::{attr, local, prefixed_attr, walk, Flow, Node};
use super::{Deadline, ExtractError, Limits, Sink};

/// Word: paragraphs as lines, table cells separated by tabs and rows by lines.
pub(super) fn docx(
    package: &mut Package<'_>,
    limits: &Limits,
    deadline: Deadline,
    sink: &mut Sink,
) -> Result<(), ExtractError> {
    let xml = package.require("word/document.xml")?;
    let mut in_text = false;
    let mut runs = 0usize;
    let mut cells = 0usize;
    walk(&xml, "docx", limits, deadline, |node| {
        match node {
            Node::Open(start) => match local(start) {
                b"t" => in_text = true,
                b"r" => runs += 1,
                b"tab" if runs > 0 => sink.push_char('\t'),
                b"br" | b"cr" if runs > 0 => {
                    if cells > 0 {
                        sink.space()
                    } else {
                        sink.end_line()
                    }
                }
                b"tc" => cells += 1,
                _ => {}
            },
            Node::Close(name) => match name {
                b"t" => in_text = false,
                b"r" => runs = runs.saturating_sub(1),
                b"p" if cells > 0 => sink.space(),
                b"p" => sink.end_line(),
                b"tc" => {
                    cells = cells.saturating_sub(1);
                    sink.end_cell();
                }
                b"tr" => sink.end_line(),
                b"tbl" => sink.end_block(),
                _ => {}
            },
            Node::Text(text) if in_text => sink.push(text),
            Node::Text(_) => {}
        }
        if sink.full() {
            Flow::Stop
        } else {
            Flow::Go
        }
    })
}

/// Excel: each sheet under a `[Sheet: name]` line, a row per line, cells separated by tabs
/// (cached values of formulas; the formulas themselves are not given).
pub(super) fn xlsx(
    package: &mut Package<'_>,
    limits: &Limits,
    deadline: Deadline,
    sink: &mut Sink,
) -> Result<(), ExtractError> {
    let strings = shared_strings(package, limits, deadline)?;
    let sheets = ordered_parts(package, "xl/workbook.xml", b"sheet", limits, deadline)?;
    for (name, part) in sheets {
        deadline.check()?;
        let Some(xml) = package.read(&part)? else {
            continue;
        };
        sink.end_block();
        sink.push(&format!("[Sheet: {}]", name.as_deref().unwrap_or("")));
        sink.end_line();
        let mut kind = String::new();
        let mut value = String::new();
        let mut in_value = false;
        let mut in_inline = false;
        let mut first = true;
        walk(&xml, "xlsx", limits, deadline, |node| {
            match node {
                Node::Open(start) => match local(start) {
                    b"row" => first = true,
                    b"c" => {
                        kind = attr(start, b"t").unwrap_or_default();
                        value.clear();
                    }
                    b"v" => in_value = true,
                    b"is" => in_inline = true,
                    _ => {}
                },
                Node::Close(name) => match name {
                    b"v" => in_value = false,
                    b"is" => in_inline = false,
                    b"c" => {
                        let shown = match kind.as_str() {
                            "s" => value
                                .trim()
                                .parse::<usize>()
                                .ok()
                                .and_then(|i| strings.get(i))
                                .map(String::as_str)
                                .unwrap_or(""),
                            "b" if value.trim() == "1" => "TRUE",
                            "b" => "FALSE",
                            _ => value.as_str(),
                        };
                        if !shown.is_empty() {
                            if !first {
                                sink.push_char('\t');
                            }
                            sink.push(shown);
                            first = false;
                        }
                    }
                    b"row" => sink.end_line(),
                    _ => {}
                },
                Node::Text(text) if in_value || in_inline => value.push_str(text),
                Node::Text(_) => {}
            }
            if sink.full() {
                Flow::Stop
            } else {
                Flow::Go
            }
        })?;
        if sink.full() {
            break;
        }
    }
    Ok(())
}

/// The shared string table (rich text runs joined, phonetic guides left out).
fn shared_strings(
    package: &mut Package<'_>,
    limits: &Limits,
    deadline: Deadline,
) -> Result<Vec<String>, ExtractError> {
    let Some(xml) = package.read("xl/sharedStrings.xml")? else {
        return Ok(Vec::new());
    };
    let mut strings = Vec::new();
    let mut current = String::new();
    let mut in_text = false;
    let mut phonetic = 0usize;
    walk(&xml, "xlsx", limits, deadline, |node| {
        match node {
            Node::Open(start) => match local(start) {
                b"si" => current.clear(),
                b"t" => in_text = true,
                b"rPh" => phonetic += 1,
                _ => {}
            },
            Node::Close(name) => match name {
                b"si" => strings.push(std::mem::take(&mut current)),
                b"t" => in_text = false,
                b"rPh" => phonetic = phonetic.saturating_sub(1),
                _ => {}
            },
            Node::Text(text) if in_text && phonetic == 0 => current.push_str(text),
            Node::Text(_) => {}
        }
        Flow::Go
    })?;
    Ok(strings)
}

/// PowerPoint: each slide under a `[Slide n]` line, its paragraphs as lines.
pub(super) fn pptx(
    package: &mut Package<'_>,
    limits: &Limits,
    deadline: Deadline,
    sink: &mut Sink,
) -> Result<(), ExtractError> {
    let slides = ordered_parts(package, "ppt/presentation.xml", b"sldId", limits, deadline)?;
    for (number, (_, part)) in slides.into_iter().enumerate() {
        deadline.check()?;
        let Some(xml) = package.read(&part)? else {
            continue;
        };
        sink.end_block();
        sink.push(&format!("[Slide {}]", number + 1));
        sink.end_line();
        let mut in_text = false;
        walk(&xml, "pptx", limits, deadline, |node| {
            match node {
                Node::Open(start) => match local(start) {
                    b"t" => in_text = true,
                    b"br" => sink.end_line(),
                    b"tab" => sink.push_char('\t'),
                    _ => {}
                },
                Node::Close(name) => match name {
                    b"t" => in_text = false,
                    b"p" => sink.end_line(),
                    _ => {}
                },
                Node::Text(text) if in_text => sink.push(text),
                Node::Text(_) => {}
            }
            if sink.full() {
                Flow::Stop
            } else {
                Flow::Go
            }
        })?;
        if sink.full() {
            break;
        }
    }
    Ok(())
}

/// The parts a main part lists (`<sheet name=… r:id=…>` in a workbook, `<p:sldId r:id=…>` in a
/// presentation), in its order, through its relationships: `(name attribute, part path)`.
/// External targets are skipped (they are never fetched).
fn ordered_parts(
    package: &mut Package<'_>,
    main: &str,
    element: &[u8],
    limits: &Limits,
    deadline: Deadline,
) -> Result<Vec<(Option<String>, String)>, ExtractError> {
    let xml = package.require(main)?;
    let mut listed: Vec<(Option<String>, String)> = Vec::new();
    walk(&xml, "office", limits, deadline, |node| {
        if let Node::Open(start) = node {
            if local(start) == element {
                if let Some(id) = prefixed_attr(start, b"id") {
                    listed.push((attr(start, b"name"), id));
                }
            }
        }
        Flow::Go
    })?;
    let (dir, file) = main.rsplit_once('/').unwrap_or(("", main));
    let rels_name = format!("{dir}/_rels/{file}.rels");
    let mut targets: HashMap<String, String> = HashMap::new();
    if let Some(rels) = package.read(&rels_name)? {
        walk(&rels, "office", limits, deadline, |node| {
            if let Node::Open(start) = node {
                let external = attr(start, b"TargetMode").is_some_and(|m| m == "External");
                if local(start) == b"Relationship" && !external {
                    if let (Some(id), Some(target)) = (attr(start, b"Id"), attr(start, b"Target")) {
                        targets.insert(id, resolve(dir, &target));
                    }
                }
            }
            Flow::Go
        })?;
    }
    let parts: Vec<(Option<String>, String)> = listed
        .into_iter()
        .filter_map(|(name, id)| targets.get(&id).map(|part| (name, part.clone())))
        .filter(|(_, part)| package.has(part))
        .collect();
    if !parts.is_empty() {
        return Ok(parts);
    }
    // No usable relationships: the parts by their conventional names, in number order.
    let prefix = match element {
        b"sheet" => "xl/worksheets/sheet",
        _ => "ppt/slides/slide",
    };
    let mut numbered: Vec<(u32, String)> = package
        .names()
        .filter_map(|n| {
            let number = n.strip_prefix(prefix)?.strip_suffix(".xml")?.parse().ok()?;
            Some((number, n.to_owned()))
        })
        .collect();
    numbered.sort();
    Ok(numbered.into_iter().map(|(_, n)| (None, n)).collect())
}

/// A relationship target relative to the folder of its source part, as a package path.
fn resolve(dir: &str, target: &str) -> String {
    let mut segments: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    segments.join("/")
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn relationship_targets_resolve_like_package_paths() {
        assert_eq!(
            resolve("xl", "worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(
            resolve("xl", "/xl/worksheets/sheet2.xml"),
            "xl/worksheets/sheet2.xml"
        );
        assert_eq!(
            resolve("ppt", "./slides/../slides/slide3.xml"),
            "ppt/slides/slide3.xml"
        );
        assert_eq!(resolve("ppt", "../../../etc/passwd"), "etc/passwd");
    }
}
