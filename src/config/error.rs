//! Config errors that say where: file, line, column, key, and what was expected.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem with the configuration file, located as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line and column; zero when the problem has no place in the file (it could not be read).
    pub line: usize,
    pub column: usize,
    /// The dotted key, like `source[0].schedule`; empty for syntax errors outside any key.
    pub key: String,
    pub message: String,
    /// The file's other mistakes, in file order, when it has several: one for each table that
    /// cannot be read, at most [`MAX_SHOWN`] in all. `Display` shows only this one (a log line, a
    /// reload's answer); `payguard check` lists them all.
    pub more: Vec<ConfigError>,
}

/// The most mistakes of one file that are reported at once.
pub const MAX_SHOWN: usize = 20;

impl ConfigError {
    pub fn at(
        path: &Path,
        text: &str,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = span.map(|s| line_column(text, s.start)).unwrap_or((0, 0));
        Self { path: path.to_owned(), line, column, key: key.into(), message: message.into(), more: Vec::new() }
    }

    pub fn unplaced(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            line: 0,
            column: 0,
            key: String::new(),
            message: message.into(),
            more: Vec::new(),
        }
    }

    /// The first of `errors` in file order (those with no place first), carrying the rest, at
    /// most [`MAX_SHOWN`] in all; `None` when there are none.
    pub fn gather(mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        errors.sort_by_key(|e| (e.line, e.column));
        errors.truncate(MAX_SHOWN);
        let mut errors = errors.into_iter();
        let first = errors.next()?;
        Some(ConfigError { more: errors.collect(), ..first })
    }

    /// This mistake and the file's others, in file order.
    pub fn all(&self) -> impl Iterator<Item = &ConfigError> {
        std::iter::once(self).chain(&self.more)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, ": `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_lines_and_columns() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 11), (2, 6));
    }
}
