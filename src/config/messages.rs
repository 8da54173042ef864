//! Turns serde's and the TOML parser's wording into messages a person can act on.
//!
//! serde speaks of `struct RawDaemon`, `u32` and sequences; people wrote `[daemon]`, a number and a
//! list. Where the parser cannot name the key (a duplicate key, a syntax error), it is read off the
//! file around the error.

use std::collections::HashMap;

/// A reworded message, and the key it really concerns when that is more precise than serde's path.
pub(super) struct Message {
    pub text: String,
    pub key: Option<String>,
}

impl Message {
    /// The text, naming `key` when the parser's own words do not.
    pub fn with_key(self, key: &str) -> String {
        if key.is_empty() || self.text.contains(key) { self.text } else { format!("{} (at `{key}`)", self.text) }
    }
}

pub(super) fn humanize(key: &str, message: &str) -> Message {
    if let Some(field) = message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`')) {
        let full = if key.is_empty() { field.to_owned() } else { format!("{key}.{field}") };
        return Message { text: format!("missing field `{field}`: this key is required here"), key: Some(full) };
    }
    let list_tables = ["source", "account", "notice", "channel"];
    if message.contains("expected a sequence") && list_tables.contains(&key) {
        return Message {
            text: format!("write `[[{key}]]` with double brackets: each {key} is one entry of a list ({message})"),
            key: None,
        };
    }
    let mut text = message.to_owned();
    if let Some(start) = text.find("expected struct Raw") {
        text.replace_range(start.., "expected a table");
    }
    if let Some(start) = text.find("expected internally tagged enum RawAuth") {
        text.replace_range(start.., "expected a table like { type = \"bearer\", token = \"${env:TOKEN}\" }");
    }
    let text = text
        .replace("expected a sequence", "expected a list")
        .replace("expected u32", "expected a whole number")
        .replace("expected a string", "expected text in quotes")
        .replace(
            "invalid socket address syntax",
            "expected an IP address and a port, like \"127.0.0.1:9787\" (a host name is not accepted)",
        );
    Message { text, key: None }
}

/// The dotted key of the line at `offset`: the table it sits in (with its index for `[[arrays]]`)
/// and the bare key before `=`.
pub(super) fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text.get(..offset).and_then(|b| b.rfind('\n')).map_or(0, |i| i + 1);
    let line = text.get(line_start..).and_then(|rest| rest.lines().next()).unwrap_or_default();
    let bare = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_owned()).unwrap_or_default();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut table = String::new();
    for header in text.get(..line_start).unwrap_or_default().lines().map(str::trim) {
        if let Some(name) = header.strip_prefix("[[").and_then(|h| h.split("]]").next()) {
            let name = name.trim().to_owned();
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            table = format!("{name}[{}]", *n - 1);
        } else if let Some(name) = header.strip_prefix('[').and_then(|h| h.split(']').next()) {
            let name = name.trim();
            // `[source.mapping]` belongs to the latest `[[source]]`.
            table = match name.split_once('.') {
                Some((parent, rest)) if counts.contains_key(parent) => {
                    format!("{parent}[{}].{rest}", counts[parent].saturating_sub(1))
                }
                _ => name.to_owned(),
            };
        }
    }
    match (table.is_empty(), bare.is_empty()) {
        (_, true) => table,
        (true, false) => bare,
        (false, false) => format!("{table}.{bare}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_off_the_file() {
        let text = "[daemon]\ntimezone = \"UTC\"\n[[source]]\nname = \"a\"\n[[source]]\nname = \"b\"\n[source.mapping]\nbalance = \"/b\"\n";
        assert_eq!(key_at(text, text.find("timezone").unwrap_or(0)), "daemon.timezone");
        assert_eq!(key_at(text, text.find("name = \"b\"").unwrap_or(0)), "source[1].name");
        assert_eq!(key_at(text, text.find("balance").unwrap_or(0)), "source[1].mapping.balance");
        assert_eq!(key_at("x = 1\n", 0), "x");
    }

    #[test]
    fn serde_words_become_config_words() {
        assert_eq!(
            humanize("daemon", "invalid type: string \"UTC\", expected struct RawDaemon").text,
            "invalid type: string \"UTC\", expected a table"
        );
        let missing = humanize("source[0]", "missing field `schedule`");
        assert_eq!(missing.key.as_deref(), Some("source[0].schedule"));
        assert!(humanize("source", "invalid type: map, expected a sequence").text.contains("[[source]]"));
        assert!(
            humanize("account[0].velocity_count", "invalid type: string \"five\", expected u32")
                .text
                .contains("whole number")
        );
    }
}
