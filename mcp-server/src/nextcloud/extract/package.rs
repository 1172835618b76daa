//! Zip packages (OOXML and ODF) read within bounds: the number of entries, and the bytes all the
//! entries read may decompress to together — an absolute bound, which caps a zip bomb however
//! high its ratio, where a ratio check alone would still let many modest entries add up. Only
//! stored and deflated entries can be read (the `zip` crate is built with deflate alone);
//! encrypted entries are refused. Only the parts that hold text are opened: macros
//! (`vbaProject.bin`), embedded objects, images and external relationships are never read.

use std::io::{Cursor, Read};

use zip::result::ZipError;
use zip::ZipArchive;

use super::{odf, ooxml, Deadline, ExtractError, Format, Limits, Sink};

/// An open package.
pub(super) struct Package<'b> {
    zip: ZipArchive<Cursor<&'b [u8]>>,
    format: &'static str,
    inflated_left: usize,
    max_inflated: usize,
}

impl<'b> Package<'b> {
    pub(super) fn open(
        bytes: &'b [u8],
        format: &'static str,
        limits: &Limits,
    ) -> Result<Self, ExtractError> {
        let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error(format, e))?;
        if zip.len() > limits.max_entries {
            return Err(ExtractError::TooLarge(format!(
                "the package has more than {} parts",
                limits.max_entries
            )));
        }
        Ok(Self {
            zip,
            format,
            inflated_left: limits.max_inflated,
            max_inflated: limits.max_inflated,
        })
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.zip.file_names()
    }

    /// A part's bytes, or `None` when there is no such part.
    pub(super) fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ExtractError> {
        let format = self.format;
        let too_large = |max: usize| {
            ExtractError::TooLarge(format!(
                "its parts decompress to more than {} MiB",
                max / (1024 * 1024)
            ))
        };
        let entry = match self.zip.by_name(name) {
            Ok(entry) => entry,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(zip_error(format, e)),
        };
        if entry.encrypted() {
            return Err(ExtractError::Encrypted);
        }
        // The declared size can lie; it only lets an honest giant be refused before inflating.
        if entry.size() > self.inflated_left as u64 {
            return Err(too_large(self.max_inflated));
        }
        let mut out = Vec::new();
        entry
            .take(self.inflated_left as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| ExtractError::damaged(format, e))?;
        if out.len() > self.inflated_left {
            return Err(too_large(self.max_inflated));
        }
        self.inflated_left -= out.len();
        Ok(Some(out))
    }

    /// A part that must be there.
    pub(super) fn require(&mut self, name: &str) -> Result<Vec<u8>, ExtractError> {
        self.read(name)?
            .ok_or_else(|| ExtractError::damaged(self.format, format!("{name} is missing")))
    }
}

fn zip_error(format: &'static str, e: ZipError) -> ExtractError {
    match e {
        ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) => ExtractError::Encrypted,
        other => ExtractError::damaged(format, other),
    }
}

/// The format of a zip package: ODF by its `mimetype` entry, OOXML by its main part.
pub(super) fn sniff(bytes: &[u8]) -> Option<Format> {
    let zip = ZipArchive::new(Cursor::new(bytes)).ok()?;
    if zip.index_for_name("mimetype").is_some() {
        let mut zip = zip;
        let mut mimetype = String::new();
        zip.by_name("mimetype")
            .ok()?
            .take(100)
            .read_to_string(&mut mimetype)
            .ok()?;
        return odf::format_of(mimetype.trim());
    }
    zip.index_for_name("[Content_Types].xml")?;
    [
        ("word/document.xml", Format::Docx),
        ("xl/workbook.xml", Format::Xlsx),
        ("ppt/presentation.xml", Format::Pptx),
    ]
    .into_iter()
    .find(|(part, _)| zip.index_for_name(part).is_some())
    .map(|(_, format)| format)
}

pub(super) fn extract(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
    deadline: Deadline,
    sink: &mut Sink,
) -> Result<(), ExtractError> {
    let mut package = Package::open(bytes, format.name(), limits)?;
    match format {
        Format::Docx => ooxml::docx(&mut package, limits, deadline, sink),
        Format::Xlsx => ooxml::xlsx(&mut package, limits, deadline, sink),
        Format::Pptx => ooxml::pptx(&mut package, limits, deadline, sink),
        Format::Odt | Format::Ods | Format::Odp => {
            odf::content(&mut package, format, limits, deadline, sink)
        }
        Format::Pdf => Err(ExtractError::NotADocument),
    }
}
