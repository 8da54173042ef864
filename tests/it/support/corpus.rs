//! The corpus of broken configs under `tests/configs/bad/`: each file holds one mistake, and its
//! first line says where the loader must report it and what the report must say (see
//! `tests/it/config_errors.rs` for the header's form). Shared by the loader's test and the reload test.

use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Expectation {
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub contains: Vec<String>,
    pub lacks: Vec<String>,
}

pub fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/bad")
}

pub fn corpus() -> Vec<PathBuf> {
    let dir = bad_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    // Sorted, so failures are listed in the same order on every run.
    files.sort();
    files
}

pub fn read_expectation(path: &Path) -> Expectation {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_header(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: bad `# expect:` header: {e}", path.display()))
}

pub fn parse_header(header: &str) -> Result<Expectation, String> {
    let mut rest = header.strip_prefix("# expect:").ok_or("the first line must start with `# expect:`")?;
    let (mut line, mut column, mut key) = (None, None, None);
    let (mut contains, mut lacks) = (Vec::new(), Vec::new());
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix("message~") {
            let (text, after) = quoted(after)?;
            contains.push(text);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("message!~") {
            let (text, after) = quoted(after)?;
            lacks.push(text);
            rest = after;
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (word, after) = rest.split_at(end);
            rest = after;
            let (name, value) = word.split_once('=').ok_or_else(|| format!("`{word}` is not name=value"))?;
            let number = || value.parse::<usize>().map_err(|_| format!("{name}={value:?} is not a number"));
            match name {
                "line" => line = Some(number()?),
                "column" => column = Some(number()?),
                "key" => key = Some(value.to_owned()),
                _ => return Err(format!("unknown field `{name}`: expected line, column, key, message~ or message!~")),
            }
        }
    }
    if contains.is_empty() {
        // Without one, a header would accept any message at all.
        return Err("at least one message~\"…\" is required".to_owned());
    }
    Ok(Expectation {
        line: line.ok_or("line= is missing")?,
        column: column.ok_or("column= is missing")?,
        key: key.ok_or("key= is missing")?,
        contains,
        lacks,
    })
}

/// Reads a `"…"` string at the start of `text`; returns it unescaped, and what follows it.
pub fn quoted(text: &str) -> Result<(String, &str), String> {
    let body = text.strip_prefix('"').ok_or_else(|| format!("expected a quoted string at {text:?}"))?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => out.push(chars.next().ok_or("a `\\` ends the line")?.1),
            c => out.push(c),
        }
    }
    Err(format!("unterminated quoted string {text:?}"))
}
