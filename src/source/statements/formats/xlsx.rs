//! The cells of an xlsx workbook's first sheet, as the text each shows. We read xlsx ourselves
//! because spreadsheet crates hand every number cell over as an `f64` and every date as a float
//! serial, and money never passes through a float here: a number cell is the decimal text the
//! file stores, a date is worked out from its serial in `Decimal`. An xlsx is a zip of XML parts;
//! only what a ledger needs is read: the first sheet (`xl/workbook.xml` names it, its
//! relationships say which part it is), shared and inline strings, formula results, numbers,
//! booleans, and which cell styles are dates (`xl/styles.xml`).
//!
//! A workbook is hostile input: each part is unpacked to at most `MAX_FILE` bytes (a zip bomb is
//! cut off there), a sheet gives at most [`MAX_CELLS`] cells and [`MAX_TEXT`] bytes of text (a
//! long shared string named by a million cells is copied only until then), and what does not
//! read is a `FileError` naming the part.

use std::io::Read as _;

use chrono::{NaiveDate, TimeDelta};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use rust_decimal::{Decimal, RoundingStrategy};

use super::super::MAX_FILE;
use super::{FileError, push_text};
use crate::model::parse_amount;

/// The most cells of a sheet read, counting the empty ones before a cell in its row.
pub const MAX_CELLS: usize = 1 << 21;
/// The most bytes of cell text a sheet gives.
pub const MAX_TEXT: usize = 64 * 1024 * 1024;
/// Excel's widest sheet (column XFD).
const MAX_COLUMNS: usize = 16_384;
/// The significant digits Excel keeps of a number; a writer that prints a number's binary value
/// in full (`7.0000000000000007E-2`) is read as Excel shows it (`0.07`).
const EXCEL_DIGITS: u32 = 15;

/// A row of the sheet: its number (from 1, as Excel shows it) and its cells from column A.
pub type Row = (usize, Vec<String>);

/// The rows of the workbook's first sheet that have cells.
pub fn first_sheet(bytes: &[u8]) -> Result<Vec<Row>, FileError> {
    let mut book = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| FileError::whole(format!("not an xlsx workbook ({e})")))?;
    let workbook = read_part(&mut book, "xl/workbook.xml")?.map(|xml| parse("xl/workbook.xml", &xml, workbook));
    let Workbook { sheet_id, date1904 } = workbook.transpose()?.unwrap_or_default();
    let named = match sheet_id {
        Some(id) => match read_part(&mut book, "xl/_rels/workbook.xml.rels")? {
            Some(xml) => parse("xl/_rels/workbook.xml.rels", &xml, |xml| target(xml, &id))?,
            None => None,
        },
        None => None,
    };
    let path = named.unwrap_or_else(|| "xl/worksheets/sheet1.xml".to_owned());
    let strings = match read_part(&mut book, "xl/sharedStrings.xml")? {
        Some(xml) => parse("xl/sharedStrings.xml", &xml, shared_strings)?,
        None => Vec::new(),
    };
    let dates = match read_part(&mut book, "xl/styles.xml")? {
        Some(xml) => parse("xl/styles.xml", &xml, date_styles)?,
        None => Vec::new(),
    };
    let sheet = read_part(&mut book, &path)?
        .ok_or_else(|| unreadable(format!("the workbook has no {path}: is this an xlsx workbook?")))?;
    let epoch = if date1904 { NaiveDate::from_ymd_opt(1904, 1, 1) } else { NaiveDate::from_ymd_opt(1899, 12, 30) };
    let cells = Cells { strings: &strings, dates: &dates, epoch: epoch.unwrap_or_default() };
    parse(&path, &sheet, |xml| cells.rows(xml))
}

fn unreadable(why: impl std::fmt::Display) -> FileError {
    FileError::whole(format!("the first sheet cannot be read ({why})"))
}

/// A part of the package as text, `None` when the package has none of that name.
fn read_part(book: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>, name: &str) -> Result<Option<String>, FileError> {
    let mut part = match book.by_name(name) {
        Ok(part) => part,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(unreadable(format!("{name} cannot be unpacked: {e}"))),
    };
    let mut bytes = Vec::new();
    (&mut part)
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(format!("{name} cannot be unpacked: {e}")))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(unreadable(format!("{name} unpacks to more than the {MAX_FILE} bytes payguard reads")));
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match std::str::from_utf8(text) {
        Ok(text) => Ok(Some(text.to_owned())),
        Err(_) => Err(unreadable(format!("{name} is not UTF-8 text"))),
    }
}

/// Runs a part's reader, naming the part in what goes wrong (and the row, for a sheet's).
fn parse<T>(name: &str, xml: &str, read: impl FnOnce(&str) -> Result<T, Problem>) -> Result<T, FileError> {
    read(xml).map_err(|Problem { row, why }| match row {
        Some(row) => FileError::at(row, format!("{name} {why}")),
        None => unreadable(format!("{name} {why}")),
    })
}

/// What is wrong with a part, and the sheet row it is in when it is in one.
struct Problem {
    row: Option<usize>,
    why: String,
}

impl Problem {
    fn whole(why: impl Into<String>) -> Self {
        Problem { row: None, why: why.into() }
    }
}

/// The events of a part, each element's start and end: `Empty` (`<c/>`) comes as both.
struct Events<'a> {
    reader: quick_xml::Reader<&'a [u8]>,
    /// The end of an empty element, given on the next call.
    pending_end: Option<String>,
    depth: usize,
}

enum Xml<'a> {
    Start(BytesStart<'a>),
    End(String),
    Text(Event<'a>),
}

impl<'a> Events<'a> {
    fn new(xml: &'a str) -> Self {
        Events { reader: quick_xml::Reader::from_str(xml), pending_end: None, depth: 0 }
    }

    fn next(&mut self) -> Result<Option<Xml<'a>>, Problem> {
        if let Some(name) = self.pending_end.take() {
            return Ok(Some(Xml::End(name)));
        }
        loop {
            let event = self.reader.read_event().map_err(|e| {
                Problem::whole(format!("is not well-formed XML (at byte {}: {e})", self.reader.error_position()))
            })?;
            return Ok(Some(match event {
                Event::Start(e) => {
                    self.depth += 1;
                    Xml::Start(e)
                }
                Event::Empty(e) => {
                    self.pending_end = Some(e.local_name().as_ref().to_owned());
                    Xml::Start(e)
                }
                Event::End(e) => {
                    self.depth = self.depth.saturating_sub(1);
                    Xml::End(e.local_name().as_ref().to_owned())
                }
                text @ (Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)) => Xml::Text(text),
                Event::Eof if self.depth > 0 => {
                    return Err(Problem::whole("ends inside an element: the file may be cut short"));
                }
                Event::Eof => return Ok(None),
                _ => continue,
            }));
        }
    }
}

/// An attribute by its local name (`r:id` is `id`), its entities resolved.
fn attribute(element: &BytesStart, name: &str) -> Result<Option<String>, Problem> {
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|e| Problem::whole(format!("is not well-formed XML ({e})")))?;
        if attribute.key.local_name().as_ref() == name {
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| Problem::whole(format!("is not well-formed XML ({e})")))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// What `xl/workbook.xml` says: the relationship id of the first sheet, and whether serials count
/// from 1904 (workbooks from old Mac Excel).
#[derive(Default)]
struct Workbook {
    sheet_id: Option<String>,
    date1904: bool,
}

fn workbook(xml: &str) -> Result<Workbook, Problem> {
    let mut found = Workbook::default();
    let mut events = Events::new(xml);
    while let Some(event) = events.next()? {
        let Xml::Start(element) = event else { continue };
        match element.local_name().as_ref() {
            "sheet" if found.sheet_id.is_none() => found.sheet_id = attribute(&element, "id")?,
            "workbookPr" => {
                found.date1904 = attribute(&element, "date1904")?.is_some_and(|v| v == "1" || v == "true");
            }
            _ => {}
        }
    }
    Ok(found)
}

/// The part the relationship `id` of `xl/workbook.xml` points to, as a path in the package.
fn target(xml: &str, id: &str) -> Result<Option<String>, Problem> {
    let mut events = Events::new(xml);
    while let Some(event) = events.next()? {
        let Xml::Start(element) = event else { continue };
        if element.local_name().as_ref() == "Relationship" && attribute(&element, "Id")?.as_deref() == Some(id) {
            return Ok(attribute(&element, "Target")?.map(|target| resolve(&target)));
        }
    }
    Ok(None)
}

/// A relationship target of `xl/workbook.xml` as a path in the package: relative to `xl/`, or
/// from the package's root when it starts with `/`.
fn resolve(target: &str) -> String {
    let full = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_owned(),
        None => format!("xl/{target}"),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in full.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// The shared strings: each `<si>` is its `<t>`, or its rich-text runs' `<t>`s joined; the
/// phonetic guide (`<rPh>`, furigana) is not part of the text.
fn shared_strings(xml: &str) -> Result<Vec<String>, Problem> {
    let mut strings = Vec::new();
    let mut text = Text::default();
    let mut events = Events::new(xml);
    while let Some(event) = events.next()? {
        match event {
            Xml::Start(element) => text.start(element.local_name().as_ref()),
            Xml::Text(event) => text.push(&event),
            Xml::End(name) if name == "si" => {
                if strings.len() == MAX_CELLS {
                    return Err(Problem::whole(format!("has more than {MAX_CELLS} strings")));
                }
                strings.push(std::mem::take(&mut text.value));
            }
            Xml::End(name) => text.end(&name),
        }
    }
    Ok(strings)
}

/// The text of a string item (`<si>`, or a cell's `<is>`): its `<t>` elements outside `<rPh>`.
#[derive(Default)]
struct Text {
    value: String,
    in_t: bool,
    in_phonetic: bool,
}

impl Text {
    fn start(&mut self, name: &str) {
        match name {
            "t" => self.in_t = true,
            "rPh" => self.in_phonetic = true,
            _ => {}
        }
    }

    fn end(&mut self, name: &str) {
        match name {
            "t" => self.in_t = false,
            "rPh" => self.in_phonetic = false,
            _ => {}
        }
    }

    fn push(&mut self, event: &Event) {
        if self.in_t && !self.in_phonetic {
            push_text(&mut self.value, event);
        }
    }
}

/// For each cell style (`cellXfs`, in order), whether its number format shows a date or time.
fn date_styles(xml: &str) -> Result<Vec<bool>, Problem> {
    let mut custom: Vec<(String, bool)> = Vec::new();
    let mut styles: Vec<String> = Vec::new();
    // `numFmt`s also sit in `dxfs` (conditional formats) and `xf`s in `cellStyleXfs`: only
    // those of `numFmts` and `cellXfs` count.
    let (mut in_num_fmts, mut in_cell_xfs) = (false, false);
    let mut events = Events::new(xml);
    while let Some(event) = events.next()? {
        match event {
            Xml::Start(element) => match element.local_name().as_ref() {
                "numFmts" => in_num_fmts = true,
                "numFmt" if in_num_fmts => {
                    if let Some(id) = attribute(&element, "numFmtId")? {
                        let code = attribute(&element, "formatCode")?.unwrap_or_default();
                        custom.push((id, is_date_code(&code)));
                    }
                }
                "cellXfs" => in_cell_xfs = true,
                "xf" if in_cell_xfs => {
                    if styles.len() == MAX_CELLS {
                        return Err(Problem::whole(format!("has more than {MAX_CELLS} cell styles")));
                    }
                    styles.push(attribute(&element, "numFmtId")?.unwrap_or_default());
                }
                _ => {}
            },
            Xml::End(name) if name == "numFmts" => in_num_fmts = false,
            Xml::End(name) if name == "cellXfs" => in_cell_xfs = false,
            _ => {}
        }
    }
    Ok(styles
        .iter()
        .map(|id| match custom.iter().find(|(custom_id, _)| custom_id == id) {
            Some((_, date)) => *date,
            None => id.trim().parse().is_ok_and(is_date_format_id),
        })
        .collect())
}

/// Whether a built-in number format shows a date or time: 14–22 and 45–47 everywhere, 27–36 and
/// 50–58 in the East Asian locales (a Chinese workbook's `yyyy"年"m"月"d"日"` is 31).
fn is_date_format_id(id: u32) -> bool {
    matches!(id, 14..=22 | 27..=36 | 45..=47 | 50..=58)
}

/// Whether a custom number format shows a date or time: it has a y, m, d, h or s that is not
/// quoted text (`"m"`), escaped (`\d`), a spacing or fill character (`_m`, `*d`) or in brackets
/// (`[Red]`, `[$-804]`; `[h]` comes with `mm:ss`).
fn is_date_code(code: &str) -> bool {
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                chars.by_ref().find(|c| *c == '"');
            }
            '[' => {
                chars.by_ref().find(|c| *c == ']');
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            c if matches!(c.to_ascii_lowercase(), 'y' | 'm' | 'd' | 'h' | 's') => return true,
            _ => {}
        }
    }
    false
}

/// An Excel date serial (days since `epoch`, the fraction the time of day) as
/// `YYYY-MM-DD HH:MM:SS`, rounded to the second; `None` when it is no time. (Excel takes 1900
/// for a leap year, so its serials before March 1900 are a day off from these; no export is that
/// old.)
fn serial_time(serial: &str, epoch: NaiveDate) -> Option<String> {
    let days = parse_amount(serial).ok()?;
    let seconds =
        days.checked_mul(Decimal::from(86_400))?.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let seconds = i64::try_from(seconds).ok()?;
    let time = epoch.and_hms_opt(0, 0, 0)?.checked_add_signed(TimeDelta::try_seconds(seconds)?)?;
    Some(time.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A number cell's text as Excel shows it: as stored, unless the writer printed more digits than
/// a spreadsheet keeps or an exponent.
fn number(stored: &str) -> String {
    let stored = stored.trim();
    let Ok(value) = parse_amount(stored) else { return stored.to_owned() };
    let digits = value.mantissa().unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
    if digits > EXCEL_DIGITS {
        value.round_sf(EXCEL_DIGITS).map_or(value, |v| v.normalize()).to_string()
    } else if stored.contains(['e', 'E']) {
        value.normalize().to_string()
    } else {
        stored.to_owned()
    }
}

/// What the cells of a sheet are read with.
struct Cells<'a> {
    strings: &'a [String],
    dates: &'a [bool],
    epoch: NaiveDate,
}

/// The cell being read: where it is, its type (`t`) and style (`s`), and its value so far.
#[derive(Default)]
struct Cell {
    column: usize,
    kind: String,
    style: usize,
    value: String,
    in_v: bool,
    inline: Text,
}

impl Cells<'_> {
    fn rows(&self, xml: &str) -> Result<Vec<Row>, Problem> {
        let mut rows: Vec<Row> = Vec::new();
        let (mut count, mut text) = (0usize, 0usize);
        let mut row: Option<Row> = None;
        let mut cell: Option<Cell> = None;
        let mut events = Events::new(xml);
        while let Some(event) = events.next()? {
            let at = row.as_ref().map(|(n, _)| *n);
            let problem = |why: String| Problem { row: at, why };
            match event {
                Xml::Start(element) => match element.local_name().as_ref() {
                    "row" => {
                        let number = match attribute(&element, "r")? {
                            Some(r) => r.trim().parse().map_err(|_| Problem::whole(format!("numbers a row {r:?}")))?,
                            None => rows.last().map_or(1, |(n, _)| n + 1),
                        };
                        row = Some((number, Vec::new()));
                    }
                    "c" => {
                        let next = row.as_ref().map_or(0, |(_, cells)| cells.len());
                        let column = match attribute(&element, "r")? {
                            Some(r) => {
                                column(&r).ok_or_else(|| problem(format!("has {r:?} where a cell like C5 belongs")))?
                            }
                            None => next,
                        };
                        let style = attribute(&element, "s")?.and_then(|s| s.trim().parse().ok()).unwrap_or(0);
                        let kind = attribute(&element, "t")?.unwrap_or_default();
                        cell = Some(Cell { column, kind, style, ..Cell::default() });
                    }
                    name => {
                        if let Some(cell) = cell.as_mut() {
                            cell.in_v |= name == "v";
                            cell.inline.start(name);
                        }
                    }
                },
                Xml::Text(event) => {
                    if let Some(cell) = cell.as_mut() {
                        if cell.in_v {
                            push_text(&mut cell.value, &event);
                        }
                        cell.inline.push(&event);
                    }
                }
                Xml::End(name) => match name.as_str() {
                    "c" => {
                        let (Some(done), Some((_, cells))) = (cell.take(), row.as_mut()) else { continue };
                        let shown = self.shown(done.kind.as_str(), done.style, done.value, done.inline.value);
                        let shown = shown.map_err(problem)?;
                        text += shown.len();
                        if text > MAX_TEXT {
                            return Err(problem(format!("has more than {MAX_TEXT} bytes of text")));
                        }
                        if done.column >= cells.len() {
                            count += done.column + 1 - cells.len();
                            if count > MAX_CELLS {
                                return Err(problem(format!("has more than {MAX_CELLS} cells")));
                            }
                            cells.resize(done.column + 1, String::new());
                        }
                        cells[done.column] = shown;
                    }
                    "row" => rows.extend(row.take().filter(|(_, cells)| !cells.is_empty())),
                    name => {
                        if let Some(cell) = cell.as_mut() {
                            cell.in_v &= name != "v";
                            cell.inline.end(name);
                        }
                    }
                },
            }
        }
        Ok(rows)
    }

    /// The text a cell shows, from its type, style and stored value (or inline string).
    fn shown(&self, kind: &str, style: usize, value: String, inline: String) -> Result<String, String> {
        Ok(match kind {
            "s" => {
                let index: usize = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("has {value:?} where a shared string's number belongs"))?;
                self.strings
                    .get(index)
                    .cloned()
                    .ok_or_else(|| format!("names shared string {index}, which xl/sharedStrings.xml does not have"))?
            }
            "inlineStr" => inline,
            "str" => value,
            "b" => match value.trim() {
                "1" => "TRUE".into(),
                "0" => "FALSE".into(),
                other => other.into(),
            },
            // An error (`#DIV/0!`) shows no value.
            "e" => String::new(),
            // ISO 8601, in workbooks saved as strict OOXML.
            "d" => value.trim().replacen('T', " ", 1),
            _ if self.dates.get(style).copied().unwrap_or(false) => {
                serial_time(&value, self.epoch).unwrap_or_else(|| value.trim().to_owned())
            }
            _ => number(&value),
        })
    }
}

/// The column of a cell reference (`C5` is 2), from 0.
fn column(reference: &str) -> Option<usize> {
    let letters = reference.trim().bytes().take_while(u8::is_ascii_alphabetic);
    let mut column = 0usize;
    let mut any = false;
    for letter in letters {
        column = column.checked_mul(26)?.checked_add(usize::from(letter.to_ascii_uppercase() - b'A') + 1)?;
        any = true;
        if column > MAX_COLUMNS {
            return None;
        }
    }
    any.then(|| column - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><workbookPr/><sheets><sheet name="账单" sheetId="7" r:id="rId3"/><sheet name="其他" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    const RELS: &str = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId3" Type="worksheet" Target="/xl/worksheets/../worksheets/ledger.xml"/></Relationships>"#;
    const STRINGS: &str = r#"<sst count="3"><si><t>Tom &amp; Jerry &lt;店&gt;</t></si><si><r><rPr><b/></rPr><t>瑞幸</t></r><r><t xml:space="preserve"> 咖啡</t></r><rPh sb="0" eb="2"><t>ルイ</t></rPh></si><si><t/></si></sst>"#;
    // The first style is the default, the second a custom date-time, the third a plain number
    // (its `cellStyleXfs` sibling is no cell style), the fourth the Chinese built-in date 31, the
    // fifth a number format no `numFmts` defines (the one in `dxfs` is a conditional format's).
    const STYLES: &str = r##"<styleSheet><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot; hh:mm:ss"/><numFmt numFmtId="165" formatCode="#,##0.00&quot;m&quot;"/></numFmts><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"><alignment horizontal="left"/></xf><xf numFmtId="165"/><xf numFmtId="31"/><xf numFmtId="166"/></cellXfs><dxfs><dxf><numFmt numFmtId="166" formatCode="yyyy"/></dxf></dxfs></styleSheet>"##;
    const SHEET: &str = r#"<worksheet><sheetData><row r="3"><c r="A3" t="s"><v>0</v></c><c r="C3" t="s"><v>1</v></c><c r="D3" t="inlineStr"><is><t>a&#x4E2D;b</t></is></c></row><row r="9"><c r="B9" s="1"><v>46346.5</v></c><c r="C9" s="2"><v>0.30000000000000004</v></c><c r="D9" t="str"><f>A1&amp;B1</f><v>x&gt;y</v></c><c r="E9" t="b"><v>1</v></c><c r="F9" s="3"><v>46346</v></c><c r="G9" t="e"><v>#DIV/0!</v></c><c r="H9" s="4"><v>46346</v></c></row><row><c><v>1234.56</v></c><c/><c><v>7E-2</v></c></row></sheetData></worksheet>"#;

    /// A package of `parts`, deflated.
    fn package(parts: &[(&str, &str)]) -> Vec<u8> {
        use std::io::Write as _;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in parts {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).expect("start a part");
            writer.write_all(text.as_bytes()).expect("write");
        }
        writer.finish().expect("finish").into_inner()
    }

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_first_sheet_reads_with_its_strings_numbers_and_dates() {
        let book = package(&[
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", RELS),
            ("xl/sharedStrings.xml", STRINGS),
            ("xl/styles.xml", STYLES),
            ("xl/worksheets/ledger.xml", SHEET),
            (
                "xl/worksheets/sheet1.xml",
                "<worksheet><sheetData><row><c t=\"inlineStr\"><is><t>the other sheet</t></is></c></row></sheetData></worksheet>",
            ),
        ]);
        let rows = first_sheet(&book).expect("reads");
        assert_eq!(
            rows,
            vec![
                (3, strings(&["Tom & Jerry <店>", "", "瑞幸 咖啡", "a中b"])),
                (9, strings(&["", "2026-11-20 12:00:00", "0.3", "x>y", "TRUE", "2026-11-20 00:00:00", "", "46346"])),
                (10, strings(&["1234.56", "", "0.07"])),
            ]
        );
    }

    #[test]
    fn without_a_workbook_part_the_sheet_is_sheet1_and_a_1904_workbook_counts_from_1904() {
        let sheet =
            r#"<worksheet><sheetData><row r="2"><c r="B2" s="1"><v>45616.25</v></c></row></sheetData></worksheet>"#;
        let styles = r#"<styleSheet><cellXfs><xf numFmtId="0"/><xf numFmtId="22"/></cellXfs></styleSheet>"#;
        let plain = package(&[("xl/worksheets/sheet1.xml", sheet), ("xl/styles.xml", styles)]);
        assert_eq!(first_sheet(&plain).expect("reads"), vec![(2, strings(&["", "2024-11-20 06:00:00"]))]);
        let mac = package(&[
            ("xl/workbook.xml", r#"<workbook><workbookPr date1904="1"/><sheets/></workbook>"#),
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/styles.xml", styles),
        ]);
        assert_eq!(first_sheet(&mac).expect("reads"), vec![(2, strings(&["", "2028-11-21 06:00:00"]))]);
    }

    #[test]
    fn a_serial_becomes_a_time_rounded_to_the_second() {
        let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).expect("a date");
        for (serial, want) in [
            ("46346", Some("2026-11-20 00:00:00")),
            ("46346.5", Some("2026-11-20 12:00:00")),
            ("46346.33405092593", Some("2026-11-20 08:01:02")),
            ("4.634633405092593E4", Some("2026-11-20 08:01:02")),
            // One third of a day, as a writer stores it, is 08:00:00, not 07:59:59.
            ("46346.333333333336", Some("2026-11-20 08:00:00")),
            // Half a second before midnight rounds to the next day's midnight.
            ("46346.999994212963", Some("2026-11-21 00:00:00")),
            ("46346.999999999", Some("2026-11-21 00:00:00")),
            ("46346.9999884", Some("2026-11-20 23:59:59")),
            ("1E+300", None),
            ("99999999999999", None),
            ("二〇二六", None),
            ("", None),
        ] {
            assert_eq!(serial_time(serial, epoch).as_deref(), want, "{serial}");
        }
    }

    #[test]
    fn date_formats_are_told_from_number_formats() {
        for code in [
            "yyyy-mm-dd hh:mm:ss",
            "yyyy\"年\"m\"月\"d\"日\"",
            "[h]:mm:ss",
            "[$-F800]dddd\\,\\ mmmm\\ dd",
            "HH:MM",
            "mmm-yy",
        ] {
            assert!(is_date_code(code), "{code}");
        }
        for code in
            ["General", "0.00", "#,##0.00\"m\"", "[Red]-0.00", "0.00\\d", "_-[$¥-804]* #,##0.00_-", "@", "0.00E+00"]
        {
            assert!(!is_date_code(code), "{code}");
        }
        assert!([14, 22, 31, 45, 47, 58].into_iter().all(is_date_format_id));
        assert!(![0, 2, 4, 10, 23, 37, 44, 49, 59, 164].into_iter().any(is_date_format_id));
    }

    #[test]
    fn a_number_is_its_stored_text_as_a_spreadsheet_shows_it() {
        for (stored, shown) in [
            ("8.8", "8.8"),
            ("30.00", "30.00"),
            ("1234.56", "1234.56"),
            ("1234.5599999999999", "1234.56"),
            ("0.30000000000000004", "0.3"),
            ("7.0000000000000007E-2", "0.07"),
            ("1E+3", "1000"),
            ("-12.5", "-12.5"),
            ("1E+300", "1E+300"),
            ("abc", "abc"),
        ] {
            assert_eq!(number(stored), shown, "{stored}");
        }
    }

    #[test]
    fn cell_references_name_their_column() {
        assert_eq!(
            [column("A1"), column("c5"), column("AA10"), column("XFD1")],
            [Some(0), Some(2), Some(26), Some(16_383)]
        );
        assert_eq!([column("XFE1"), column("5"), column(""), column("ZZZZZZZZZZZZZZZ1")], [None; 4]);
    }

    fn refusal(parts: &[(&str, &str)]) -> FileError {
        first_sheet(&package(parts)).expect_err("refused")
    }

    #[test]
    fn what_is_no_workbook_is_refused_naming_what() {
        let not_zip = first_sheet(b"\xD0\xCF\x11\xE0 an old .xls").expect_err("refused");
        assert!(not_zip.reason.starts_with("not an xlsx workbook ("), "{not_zip}");
        let no_sheet = refusal(&[("[Content_Types].xml", "<Types/>")]);
        assert!(no_sheet.reason.contains("has no xl/worksheets/sheet1.xml"), "{no_sheet}");
        let named_missing = refusal(&[("xl/workbook.xml", WORKBOOK), ("xl/_rels/workbook.xml.rels", RELS)]);
        assert!(named_missing.reason.contains("has no xl/worksheets/ledger.xml"), "{named_missing}");
        let broken =
            refusal(&[("xl/worksheets/sheet1.xml", "<worksheet><sheetData><row r=\"1\"></c></sheetData></worksheet>")]);
        assert!(
            broken.reason.contains("xl/worksheets/sheet1.xml") && broken.reason.contains("not well-formed XML"),
            "{broken}"
        );
        let cut = refusal(&[
            ("xl/sharedStrings.xml", STRINGS),
            ("xl/worksheets/sheet1.xml", &SHEET[..SHEET.find("</row>").unwrap_or(0) + 6]),
        ]);
        assert!(cut.reason.contains("cut short"), "{cut}");
        let strings =
            refusal(&[("xl/sharedStrings.xml", "<sst><si><t>a</si></sst>"), ("xl/worksheets/sheet1.xml", SHEET)]);
        assert!(strings.reason.contains("xl/sharedStrings.xml is not well-formed XML"), "{strings}");
        let index = refusal(&[("xl/worksheets/sheet1.xml", SHEET)]);
        assert_eq!(index.line, Some(3), "{index}");
        assert!(
            index.reason.contains("sheet1.xml names shared string 0, which xl/sharedStrings.xml does not"),
            "{index}"
        );
        let reference = refusal(&[(
            "xl/worksheets/sheet1.xml",
            "<worksheet><row r=\"4\"><c r=\"XFE4\"><v>1</v></c></row></worksheet>",
        )]);
        assert!(
            reference.line == Some(4) && reference.reason.contains("has \"XFE4\" where a cell like C5 belongs"),
            "{reference}"
        );
        let row = refusal(&[("xl/worksheets/sheet1.xml", "<worksheet><row r=\"2\"/><row r=\"x\"/></worksheet>")]);
        assert!(row.reason.contains("sheet1.xml numbers a row \"x\""), "{row}");
    }

    #[test]
    fn a_sheet_cannot_grow_without_bound() {
        // 128 rows of one cell in column XFD are 2 million cells once the row is filled out.
        let rows: String = (1..=129).map(|n| format!("<row r=\"{n}\"><c r=\"XFD{n}\"><v>1</v></c></row>")).collect();
        let wide =
            refusal(&[("xl/worksheets/sheet1.xml", &format!("<worksheet><sheetData>{rows}</sheetData></worksheet>"))]);
        assert!(wide.reason.contains("more than 2097152 cells") && wide.line == Some(129), "{wide}");
        // One shared string of 1 MiB, named by 65 cells.
        let big = format!("<sst><si><t>{}</t></si></sst>", "x".repeat(1 << 20));
        let cells: String =
            (1..=65).map(|n| format!("<row r=\"{n}\"><c r=\"A{n}\" t=\"s\"><v>0</v></c></row>")).collect();
        let copied = refusal(&[
            ("xl/sharedStrings.xml", &big),
            ("xl/worksheets/sheet1.xml", &format!("<worksheet><sheetData>{cells}</sheetData></worksheet>")),
        ]);
        assert!(copied.reason.contains("bytes of text"), "{copied}");
    }

    #[test]
    fn a_part_that_unpacks_past_the_limit_is_refused_not_unpacked() {
        use std::io::Write as _;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        writer.start_file("xl/worksheets/sheet1.xml", zip::write::SimpleFileOptions::default()).expect("start");
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..=MAX_FILE >> 20 {
            writer.write_all(&zeros).expect("write");
        }
        let bomb = writer.finish().expect("finish").into_inner();
        assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
        let refused = first_sheet(&bomb).expect_err("refused");
        assert!(refused.reason.contains("unpacks to more than the 67108864 bytes"), "{refused}");
    }

    /// Each part of a workbook cut anywhere, or with any byte changed, is read or refused, never
    /// a panic; and so is the whole workbook cut anywhere.
    #[test]
    fn hostile_parts_are_read_or_refused() {
        let parts = [
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", RELS),
            ("xl/sharedStrings.xml", STRINGS),
            ("xl/styles.xml", STYLES),
            ("xl/worksheets/ledger.xml", SHEET),
        ];
        let cells =
            Cells { strings: &strings(&["a", "b"]), dates: &[false, true, false, true, false], epoch: NaiveDate::MIN };
        for (name, text) in parts {
            let mut variants: Vec<String> =
                (0..text.len()).filter_map(|cut| text.get(..cut).map(str::to_owned)).collect();
            for at in 0..text.len() {
                for value in [b'<', b'>', b'"', b'&', b'/', b'=', b'9', b'A', b'-'] {
                    let mut changed = text.as_bytes().to_vec();
                    changed[at] = value;
                    variants.extend(String::from_utf8(changed).ok());
                }
            }
            for variant in &variants {
                let _ = match name {
                    "xl/workbook.xml" => workbook(variant).map(drop),
                    "xl/_rels/workbook.xml.rels" => target(variant, "rId3").map(drop),
                    "xl/sharedStrings.xml" => shared_strings(variant).map(drop),
                    "xl/styles.xml" => date_styles(variant).map(drop),
                    _ => cells.rows(variant).map(drop),
                };
            }
        }
        let book = package(&parts);
        for cut in 0..book.len() {
            let _ = first_sheet(&book[..cut]);
        }
    }

    /// A workbook as a spreadsheet writer makes it (deflated parts, shared strings, styles), cut
    /// at every 7th byte or with every 7th byte changed, is read or refused, never a panic.
    #[test]
    fn a_written_workbook_cut_or_changed_anywhere_is_read_or_refused() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let time = rust_xlsxwriter::ExcelDateTime::parse_from_str("2026-11-20 08:01:02").expect("a time");
        sheet.write_string(2, 0, "交易时间 & <金额>").expect("write");
        sheet.write_datetime_with_format(3, 0, &time, &date).expect("write");
        sheet.write_number(3, 5, 8.8).expect("write");
        let bytes = workbook.save_to_buffer().expect("an xlsx");
        assert_eq!(
            first_sheet(&bytes).expect("reads"),
            vec![(3, strings(&["交易时间 & <金额>"])), (4, strings(&["2026-11-20 08:01:02", "", "", "", "", "8.8"]))]
        );
        for cut in (0..bytes.len()).step_by(7) {
            let _ = first_sheet(&bytes[..cut]);
        }
        for at in (0..bytes.len()).step_by(7) {
            for value in [0, 0xFF, b'<', b'9'] {
                let mut changed = bytes.clone();
                changed[at] = value;
                let _ = first_sheet(&changed);
            }
        }
    }
}
