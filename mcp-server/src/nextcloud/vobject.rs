//! iCalendar (RFC 5545) and vCard (RFC 2426 / RFC 6350) content lines and components, read and
//! written losslessly. Clients (Thunderbird, Apple, DAVx5, the Nextcloud apps) and sabre/vobject
//! each write these texts their own way: folding, parameter quoting and case, `X-` properties,
//! vCard groups (`item1.EMAIL` + `item1.X-ABLabel`), line ends. An edit must change only what
//! it edits, so every line keeps the exact text it was read with and is written back as read
//! unless its name, parameters or value were changed; lines that do not parse are kept as they
//! are, and properties and sub-components keep their order.

use super::NcError;

/// Deepest component nesting accepted (VCALENDAR > VEVENT > VALARM needs 3).
const MAX_COMPONENT_DEPTH: usize = 16;

/// One content line: `NAME;PARAM=a,b:value`. The value is kept as written (escaped), so that
/// properties this server does not understand survive a read-modify-write unchanged.
#[derive(Debug, Clone)]
pub struct Property {
    /// Upper-cased name, with a vCard group prefix if there was one (`ITEM1.EMAIL`).
    pub name: String,
    /// Parameters with upper-cased names; values unquoted.
    pub params: Vec<(String, Vec<String>)>,
    pub value: String,
    /// The physical lines this property was read from (with folding and line ends), written
    /// back unchanged while name, parameters and value still say the same.
    raw: Option<String>,
}

/// Two properties are equal when they say the same, however they were written.
impl PartialEq for Property {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.params == other.params && self.value == other.value
    }
}

impl Property {
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_ascii_uppercase(),
            params: Vec::new(),
            value: value.into(),
            raw: None,
        }
    }

    /// A property whose value is TEXT (escaped here).
    pub fn text(name: &str, value: &str) -> Self {
        Self::new(name, escape_text(value))
    }

    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        self.params
            .push((name.to_ascii_uppercase(), vec![value.to_owned()]));
        self
    }

    /// The name without a vCard group prefix.
    pub fn base_name(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    /// The vCard group (`ITEM1` of `ITEM1.EMAIL`), if any.
    pub fn group(&self) -> Option<&str> {
        self.name.rsplit_once('.').map(|(group, _)| group)
    }

    /// The name (with its group) spelled as it was read (`item1.X-ABLabel`); `None` for a
    /// property that was not read from text. Setting [`Property::name`] to it keeps that
    /// spelling when the line has to be written anew.
    pub fn name_as_written(&self) -> Option<&str> {
        let raw = self.raw.as_deref()?.trim_start();
        let end = raw.find([';', ':'])?;
        let name = &raw[..end];
        name.eq_ignore_ascii_case(&self.name).then_some(name)
    }

    /// The first value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }

    /// All values of parameter `name` (e.g. every TYPE), each split at commas.
    pub fn param_values(&self, name: &str) -> Vec<String> {
        self.params
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.iter())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Sets parameter `name` to one value (replacing all its values), or removes it.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        self.params.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if let Some(value) = value {
            self.params
                .push((name.to_ascii_uppercase(), vec![value.to_owned()]));
        }
    }

    /// The value as TEXT, unescaped.
    pub fn text_value(&self) -> String {
        unescape_text(&self.value)
    }

    /// Whether this property still says what its raw lines say.
    fn raw_is_current(&self) -> Option<&str> {
        let raw = self.raw.as_deref()?;
        let line = logical_lines(raw).into_iter().next()?;
        (parse_line(&line.text).as_ref() == Some(self)).then_some(raw)
    }

    fn write_with(&self, out: &mut String, eol: &str) {
        start_line(out, eol);
        if let Some(raw) = self.raw_is_current() {
            out.push_str(raw);
            return;
        }
        let mut line = self.name.clone();
        for (name, values) in &self.params {
            line.push(';');
            line.push_str(name);
            line.push('=');
            let encoded: Vec<String> = values.iter().map(|v| encode_param_value(v)).collect();
            line.push_str(&encoded.join(","));
        }
        line.push(':');
        line.push_str(&self.value);
        fold_line_with(&line, eol, out);
    }

    /// Writes the folded content line (CRLF-terminated, or as it was read).
    pub fn write(&self, out: &mut String) {
        self.write_with(out, "\r\n");
    }
}

/// What a component holds, in order.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Property(Property),
    Component(Component),
    /// A line that is not a content line, kept as it was.
    Unparsed(String),
}

/// A component (`BEGIN:X` … `END:X`) with its properties and sub-components, in order.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    nodes: Vec<Node>,
    /// The BEGIN and END lines as read (END with whatever followed it up to the next line).
    begin: Option<String>,
    end: Option<String>,
    /// The line end new lines get: the one of the text this was read from, else CRLF.
    eol: &'static str,
}

impl PartialEq for Component {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.nodes == other.nodes
    }
}

/// Starts a new line in `out` if the last text written did not end one (raw text at the end of
/// a file may lack its line end).
fn start_line(out: &mut String, eol: &str) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
}

impl Component {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_ascii_uppercase(),
            nodes: Vec::new(),
            begin: None,
            end: None,
            eol: "\r\n",
        }
    }

    pub fn properties(&self) -> impl Iterator<Item = &Property> {
        self.nodes.iter().filter_map(|n| match n {
            Node::Property(p) => Some(p),
            _ => None,
        })
    }

    pub fn properties_mut(&mut self) -> impl Iterator<Item = &mut Property> {
        self.nodes.iter_mut().filter_map(|n| match n {
            Node::Property(p) => Some(p),
            _ => None,
        })
    }

    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.nodes.iter().filter_map(|n| match n {
            Node::Component(c) => Some(c),
            _ => None,
        })
    }

    pub fn components_mut(&mut self) -> impl Iterator<Item = &mut Component> {
        self.nodes.iter_mut().filter_map(|n| match n {
            Node::Component(c) => Some(c),
            _ => None,
        })
    }

    pub fn into_components(self) -> impl Iterator<Item = Component> {
        self.nodes.into_iter().filter_map(|n| match n {
            Node::Component(c) => Some(c),
            _ => None,
        })
    }

    /// Where a new property goes: after the last line of this component's own (before the
    /// sub-components).
    fn property_slot(&self) -> usize {
        self.nodes
            .iter()
            .rposition(|n| !matches!(n, Node::Component(_)))
            .map_or(0, |i| i + 1)
    }

    /// Adds a property after the existing ones.
    pub fn push_property(&mut self, property: Property) {
        let at = self.property_slot();
        self.nodes.insert(at, Node::Property(property));
    }

    /// Adds a sub-component after everything else.
    pub fn push_component(&mut self, component: Component) {
        self.nodes.push(Node::Component(component));
    }

    /// Keeps only the properties for which `keep` is true.
    pub fn retain_properties(&mut self, mut keep: impl FnMut(&Property) -> bool) {
        self.nodes.retain(|n| match n {
            Node::Property(p) => keep(p),
            _ => true,
        });
    }

    /// Keeps only the sub-components for which `keep` is true (e.g. to drop VALARMs or one
    /// overridden occurrence); everything else stays as it was.
    pub fn retain_components(&mut self, mut keep: impl FnMut(&Component) -> bool) {
        self.nodes.retain(|n| match n {
            Node::Component(c) => keep(c),
            _ => true,
        });
    }

    /// The first property with this name (group prefixes ignored).
    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.properties()
            .find(|p| p.base_name().eq_ignore_ascii_case(name))
    }

    pub fn prop_mut(&mut self, name: &str) -> Option<&mut Property> {
        self.properties_mut()
            .find(|p| p.base_name().eq_ignore_ascii_case(name))
    }

    pub fn props<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.properties()
            .filter(move |p| p.base_name().eq_ignore_ascii_case(name))
    }

    pub fn props_mut<'a>(
        &'a mut self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a mut Property> + 'a {
        self.properties_mut()
            .filter(move |p| p.base_name().eq_ignore_ascii_case(name))
    }

    /// A TEXT property's unescaped value, `None` if missing or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.prop(name)
            .map(Property::text_value)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn remove(&mut self, name: &str) {
        self.retain_properties(|p| !p.base_name().eq_ignore_ascii_case(name));
    }

    /// Replaces every property called `name` by `new` (in order), where the first of them was
    /// (or after the other properties).
    pub fn replace_all(&mut self, name: &str, new: Vec<Property>) {
        let first = self.nodes.iter().position(
            |n| matches!(n, Node::Property(p) if p.base_name().eq_ignore_ascii_case(name)),
        );
        self.remove(name);
        let at = first.unwrap_or_else(|| self.property_slot());
        let at = at.min(self.nodes.len());
        self.nodes
            .splice(at..at, new.into_iter().map(Node::Property));
    }

    /// Replaces every property called `property.name` by `property`, keeping the position of
    /// the first one (or adding it after the other properties). A replaced property keeps its
    /// vCard group.
    pub fn set(&mut self, mut property: Property) {
        let name = property.base_name().to_owned();
        if let Some(group) = self.prop(&name).and_then(Property::group) {
            if property.group().is_none() {
                property.name = format!("{group}.{}", property.name);
            }
        }
        self.replace_all(&name, vec![property]);
    }

    /// Sets a TEXT property, or removes it when `value` is blank.
    pub fn set_text(&mut self, name: &str, value: &str) {
        if value.trim().is_empty() {
            self.remove(name);
        } else {
            self.set(Property::text(name, value));
        }
    }

    fn write_with(&self, out: &mut String, eol: &str) {
        start_line(out, eol);
        match &self.begin {
            Some(raw) => out.push_str(raw),
            None => fold_line_with(&format!("BEGIN:{}", self.name), eol, out),
        }
        for node in &self.nodes {
            match node {
                Node::Property(p) => p.write_with(out, eol),
                Node::Component(c) => c.write_with(out, eol),
                Node::Unparsed(raw) => {
                    start_line(out, eol);
                    out.push_str(raw);
                }
            }
        }
        start_line(out, eol);
        match &self.end {
            Some(raw) => out.push_str(raw),
            None => fold_line_with(&format!("END:{}", self.name), eol, out),
        }
    }

    /// Serializes: lines as they were read where unchanged, new ones folded at 75 octets with
    /// the line end of the text this was read from (CRLF for new components).
    pub fn write(&self, out: &mut String) {
        self.write_with(out, self.eol);
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// One logical (unfolded) line and the physical text it was read from.
struct LogicalLine {
    text: String,
    raw: String,
}

/// Splits text into logical lines: a line starting with a space or tab continues the previous
/// one (RFC 5545 §3.1). Accepts CRLF and bare LF; blank lines belong to the line before them
/// (or the first line) so that nothing is lost.
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut lines: Vec<LogicalLine> = Vec::new();
    let mut leading = String::new();
    for physical in text.split_inclusive('\n') {
        let content = physical.strip_suffix('\n').unwrap_or(physical);
        let content = content.strip_suffix('\r').unwrap_or(content);
        if let Some(rest) = content.strip_prefix([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.text.push_str(rest);
                last.raw.push_str(physical);
                continue;
            }
        }
        if content.trim().is_empty() {
            match lines.last_mut() {
                Some(last) => last.raw.push_str(physical),
                None => leading.push_str(physical),
            }
            continue;
        }
        let mut raw = std::mem::take(&mut leading);
        raw.push_str(physical);
        lines.push(LogicalLine {
            text: content.to_owned(),
            raw,
        });
    }
    lines
}

/// The logical (unfolded) lines of a text, blank lines dropped.
pub fn unfold(text: &str) -> Vec<String> {
    logical_lines(text).into_iter().map(|l| l.text).collect()
}

/// Writes `line` folded so that no physical line exceeds 75 octets (continuations start with
/// one space), never splitting a UTF-8 character; ends with CRLF.
pub fn fold_line(line: &str, out: &mut String) {
    fold_line_with(line, "\r\n", out);
}

fn fold_line_with(line: &str, eol: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str(eol);
            out.push(' ');
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str(eol);
}

fn decode_param_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            match chars.peek() {
                Some('n') | Some('N') => {
                    out.push('\n');
                    chars.next();
                }
                Some('\'') => {
                    out.push('"');
                    chars.next();
                }
                Some('^') => {
                    out.push('^');
                    chars.next();
                }
                _ => out.push('^'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A parameter value as written: RFC 6868 caret encoding when the value holds a quote or a line
/// break, or a caret that would otherwise read as one of those escapes (`^n`, `^'`, `^^`);
/// quoted when it holds `:`, `;` or `,`.
fn encode_param_value(value: &str) -> String {
    let needs_caret = value.contains(['"', '\n', '\r'])
        || ["^n", "^N", "^'", "^^"].iter().any(|e| value.contains(e));
    let encoded = if needs_caret {
        value
            .replace('^', "^^")
            .replace("\r\n", "^n")
            .replace(['\n', '\r'], "^n")
            .replace('"', "^'")
    } else {
        value.to_owned()
    };
    if encoded.contains([':', ';', ',']) {
        format!("\"{encoded}\"")
    } else {
        encoded
    }
}

/// Parses one unfolded content line; `None` if it is malformed.
pub fn parse_line(line: &str) -> Option<Property> {
    let name_end = line.find([';', ':'])?;
    let name = line[..name_end].trim();
    if name.is_empty() {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    while let Some(after) = rest.strip_prefix(';') {
        let end = after.find(['=', ';', ':'])?;
        let param_name = after[..end].trim().to_ascii_uppercase();
        let mut tail = &after[end..];
        if let Some(values_text) = tail.strip_prefix('=') {
            let mut values = Vec::new();
            tail = values_text;
            loop {
                if let Some(quoted) = tail.strip_prefix('"') {
                    let close = quoted.find('"')?;
                    values.push(decode_param_value(&quoted[..close]));
                    tail = &quoted[close + 1..];
                } else {
                    let end = tail.find([',', ';', ':']).unwrap_or(tail.len());
                    values.push(decode_param_value(&tail[..end]));
                    tail = &tail[end..];
                }
                match tail.strip_prefix(',') {
                    Some(more) => tail = more,
                    None => break,
                }
            }
            params.push((param_name, values));
        } else if !param_name.is_empty() {
            // vCard 2.1 style bare parameter (`TEL;HOME:…`) means TYPE=HOME.
            params.push(("TYPE".into(), vec![param_name]));
        }
        rest = tail;
    }
    let value = rest.strip_prefix(':')?;
    Some(Property {
        name: name.to_ascii_uppercase(),
        params,
        value: value.to_owned(),
        raw: None,
    })
}

/// Parses iCalendar or vCard text into its top-level components (usually one VCALENDAR or
/// VCARD), keeping every line's text: [`write_all`] gives back the text byte for byte. Unbalanced
/// BEGIN/END is an error, and so is text that holds no component at all (there would be nothing
/// to keep it in); only the empty text is no components.
pub fn parse_components(text: &str) -> Result<Vec<Component>, String> {
    let eol: &'static str = match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        Some(_) => "\n",
        None => "\r\n",
    };
    let mut roots: Vec<Component> = Vec::new();
    let mut stack: Vec<Component> = Vec::new();
    // Text outside any component: kept with the next BEGIN, or after the last END.
    let mut outside = String::new();
    for line in logical_lines(text) {
        let Some(property) = parse_line(&line.text) else {
            match stack.last_mut() {
                Some(current) => current.nodes.push(Node::Unparsed(line.raw)),
                None => outside.push_str(&line.raw),
            }
            continue;
        };
        match property.name.as_str() {
            "BEGIN" => {
                if stack.len() >= MAX_COMPONENT_DEPTH {
                    return Err("components are nested too deeply".into());
                }
                let mut component = Component::new(property.value.trim());
                component.eol = eol;
                let mut begin = std::mem::take(&mut outside);
                begin.push_str(&line.raw);
                component.begin = Some(begin);
                stack.push(component);
            }
            "END" => {
                let mut component = stack
                    .pop()
                    .ok_or_else(|| format!("END:{} without BEGIN", property.value.trim()))?;
                if !component.name.eq_ignore_ascii_case(property.value.trim()) {
                    return Err(format!(
                        "BEGIN:{} is closed by END:{}",
                        component.name,
                        property.value.trim()
                    ));
                }
                component.end = Some(line.raw);
                match stack.last_mut() {
                    Some(parent) => parent.nodes.push(Node::Component(component)),
                    None => roots.push(component),
                }
            }
            _ => match stack.last_mut() {
                Some(current) => current.nodes.push(Node::Property(Property {
                    raw: Some(line.raw),
                    ..property
                })),
                None => outside.push_str(&line.raw),
            },
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("BEGIN:{} is never closed", open.name));
    }
    if roots.is_empty() && !text.is_empty() {
        return Err("there is no BEGIN … END component".into());
    }
    if let Some(last) = roots.last_mut() {
        if let Some(end) = last.end.as_mut() {
            end.push_str(&outside);
        }
    }
    Ok(roots)
}

/// Escapes TEXT (RFC 5545 §3.3.11, RFC 6350 §3.4): backslash, semicolon, comma, line breaks.
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape_text`]; also accepts `\N` and the non-standard `\:`.
pub fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') | Some('N') => out.push('\n'),
            Some(other @ ('\\' | ';' | ',' | ':')) => out.push(other),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Splits a value at unescaped `separator`s and unescapes each part.
pub fn split_unescaped(value: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            current.push('\\');
            if let Some(next) = chars.next() {
                current.push(next);
            }
        } else if c == separator {
            parts.push(unescape_text(&std::mem::take(&mut current)));
        } else {
            current.push(c);
        }
    }
    parts.push(unescape_text(&current));
    parts
}

/// Splits a structured value (N, ADR, ORG) at unescaped `;` and unescapes each part.
pub fn split_structured(value: &str) -> Vec<String> {
    split_unescaped(value, ';')
}

/// Serializes several top-level components (an object's VCALENDAR or VCARD, and anything
/// beside it) one after the other.
pub fn write_all(roots: &[Component]) -> String {
    let mut out = String::new();
    for root in roots {
        root.write(&mut out);
    }
    out
}

/// Test helper: the physical lines of `after` that `before` does not have (as multisets).
#[cfg(test)]
pub fn added_lines(before: &str, after: &str) -> Vec<String> {
    let mut pool: Vec<&str> = before.split_inclusive('\n').collect();
    let mut added = Vec::new();
    for line in after.split_inclusive('\n') {
        match pool.iter().position(|l| *l == line) {
            Some(i) => {
                pool.remove(i);
            }
            None => added.push(line.to_owned()),
        }
    }
    added
}

/// Joins parts into a structured value, escaping each.
pub fn join_structured<S: AsRef<str>>(parts: &[S]) -> String {
    parts
        .iter()
        .map(|p| escape_text(p.as_ref()))
        .collect::<Vec<_>>()
        .join(";")
}

/// A random RFC 9562 version 4 UUID (for iCalendar and vCard UIDs and file names), from the
/// system's secure randomness; an error rather than a panic if there is none.
pub fn random_uid() -> Result<String, NcError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| NcError::Unavailable("the system has no randomness available".into()))?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

#[cfg(test)]
mod tests;
