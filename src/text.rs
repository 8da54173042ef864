//! Text from outside payguard (payees, descriptions, account names, currencies, transaction ids,
//! platform notices and error pages) as a person may see it, and how much of it is kept.
//!
//! Whoever sends money names the payee, so such text is hostile: an escape sequence can clear a
//! terminal and print "all clear", a right-to-left override makes `oC drolnaL` read `Landlord Co`,
//! a zero-width space makes two names look alike, and a megabyte of it makes a megabyte e-mail
//! subject. Every place that shows such text (the command line, every channel, the export's report)
//! shows it through [`escaped`] or [`clipped`]: control
//! characters (C0, DEL, C1) are written as `\n`, `\r`, `\t` or `\u{1b}`, and bidi controls,
//! zero-width and other invisible format characters as `\u{202e}`, so they are seen, not obeyed.
//! Nothing else changes: printable text, accents and Chinese pass through untouched. The store keeps
//! the original text; only what is shown is escaped. JSON that payguard prints ([`json`]) keeps the
//! exact value but writes those characters as `\uXXXX` escapes, so it is safe on a terminal too.
//!
//! What is kept is bounded when a source's answer is read ([`cut`], [`STORED`]), and what is shown
//! is bounded again ([`LINE`] for a subject or a table cell, [`BLOCK`] for a sentence in a body).

use std::borrow::Cow;
use std::fmt::Write as _;

/// The widest a subject, a title or one cell of a table is shown, in characters.
pub const LINE: usize = 120;
/// The widest one piece of outside text is shown in a message body, in characters.
pub const BLOCK: usize = 1000;
/// The most bytes of one text field of a source's answer that the store keeps.
pub const STORED: usize = 4096;

/// Characters that are not controls yet are not seen either: bidi embeddings, overrides and
/// isolates, zero-width spaces and joiners, the byte order mark, fillers that render as nothing,
/// line and paragraph separators (which break lines where `\n` is escaped), and Unicode's other
/// format characters (general category Cf, as of Unicode 15.1).
const INVISIBLE: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{34f}', '\u{34f}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{2028}', '\u{202e}'),
    ('\u{2060}', '\u{206f}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0000}', '\u{e007f}'),
];

/// Whether `c` must not reach a person as itself: a control character, or one that is invisible
/// or reorders the text around it.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || INVISIBLE.iter().any(|(low, high)| (*low..=*high).contains(&c))
}

/// A moment as a person reads it: on the configured clock (`[daemon] timezone`), to the minute,
/// with its offset, so it is never taken for another zone's (`2026-11-20 08:01 +08:00`); on UTC it
/// says `UTC`. What payguard prints as JSON or CSV keeps RFC 3339 in UTC instead.
pub fn time(at: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz) -> String {
    on_clock(at, zone, "%Y-%m-%d %H:%M")
}

/// [`time`] to the second, for evidence.
pub fn time_to_the_second(at: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz) -> String {
    on_clock(at, zone, "%Y-%m-%d %H:%M:%S")
}

fn on_clock(at: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz, format: &str) -> String {
    match zone {
        chrono_tz::Tz::UTC => format!("{} UTC", at.format(format)),
        zone => {
            let local = at.with_timezone(&zone);
            format!("{} {}", local.format(format), local.format("%:z"))
        }
    }
}

/// `text` with every hidden character written visibly; printable text is returned as it is.
pub fn escaped(text: &str) -> Cow<'_, str> {
    clipped(text, usize::MAX)
}

/// [`escaped`], and at most `width` characters: longer text is cut and ends in `…`. An escape is
/// never cut in half.
pub fn clipped(text: &str, width: usize) -> Cow<'_, str> {
    let shown_width: usize = text.chars().map(|c| piece(c).chars().count()).sum();
    if shown_width <= width && !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let room = if shown_width <= width { usize::MAX } else { width.saturating_sub(1) };
    let mut out = String::with_capacity(text.len().min(width.saturating_mul(4)));
    let mut used = 0;
    for c in text.chars() {
        let piece = piece(c);
        let len = piece.chars().count();
        if used + len > room {
            out.push('…');
            break;
        }
        used += len;
        out.push_str(&piece);
    }
    Cow::Owned(out)
}

/// How one character is shown.
fn piece(c: char) -> Cow<'static, str> {
    match c {
        '\n' => Cow::Borrowed("\\n"),
        '\r' => Cow::Borrowed("\\r"),
        '\t' => Cow::Borrowed("\\t"),
        c if is_hidden(c) => Cow::Owned(format!("\\u{{{:x}}}", u32::from(c))),
        c => {
            let mut one = String::with_capacity(4);
            one.push(c);
            Cow::Owned(one)
        }
    }
}

/// `text` made safe for HTML element content and quoted attribute values (either quote): the one
/// HTML escaper, for the e-mail body and the export's report and chart. It escapes only markup;
/// what is hidden or a control is [`escaped`]'s job, done first where the text comes from outside.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `text` to at most `max` bytes at a character boundary; says whether anything was cut.
pub fn cut(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}

/// `value` as one line of JSON in which every hidden character is a `\uXXXX` escape: the same
/// value to any JSON reader, and nothing a terminal would obey. serde_json escapes only C0.
pub fn json(value: &serde_json::Value) -> String {
    json_text(value.to_string())
}

/// JSON text as serde_json wrote it (compact or pretty) with the hidden characters it leaves as
/// they are (DEL, C1, invisible and reordering ones) written as `\uXXXX`. serde_json escapes every
/// C0 character inside a string, so a C0 character here is the layout's own line break or indent;
/// outside strings JSON is ASCII, so everything else escaped here is inside a string, where the
/// escape means the same character.
pub fn json_text(text: String) -> String {
    let raw_hidden = |c: char| is_hidden(c) && u32::from(c) >= 0x20;
    if !text.chars().any(raw_hidden) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if raw_hidden(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One CSV field: quoted when it holds a comma, a quote or a line break; formula starts defused,
/// so a payee named "=HYPERLINK(…)" stays text in a spreadsheet. Spreadsheets skip a leading tab or
/// carriage return before reading a formula, so those starts are defused too (OWASP's rule); a
/// field that is an amount (`-12.50`) is left as it is.
pub fn csv(field: &str) -> String {
    let hidden_start = field.starts_with(['\t', '\r']);
    let formula = field.starts_with(['=', '+', '-', '@']) && crate::model::parse_amount(field).is_err();
    let field = if formula || hidden_start { format!("'{field}") } else { field.to_owned() };
    if field.contains([',', '"', '\n', '\r']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_time_is_shown_on_the_configured_clock_with_its_offset() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-20T00:01:30Z").expect("a time").to_utc();
        assert_eq!(super::time(at, chrono_tz::Tz::UTC), "2026-11-20 00:01 UTC");
        assert_eq!(super::time(at, chrono_tz::Asia::Shanghai), "2026-11-20 08:01 +08:00");
        assert_eq!(super::time(at, chrono_tz::America::New_York), "2026-11-19 19:01 -05:00");
    }

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn terminal_and_bidi_tricks_are_shown_not_obeyed() {
        let cases = [
            ("Landlord Co", "Landlord Co"),
            ("余额 · Café", "余额 · Café"),
            ("\u{1b}[2J\u{1b}[H\u{1b}[32mALL CLEAR", "\\u{1b}[2J\\u{1b}[H\\u{1b}[32mALL CLEAR"),
            ("\u{202e}oC drolnaL", "\\u{202e}oC drolnaL"),
            ("Land\u{200b}lord", "Land\\u{200b}lord"),
            ("a\nb\r\tc", "a\\nb\\r\\tc"),
            ("\u{7f}\u{9b}31m", "\\u{7f}\\u{9b}31m"),
            ("\u{2066}x\u{2069}\u{feff}\u{2028}", "\\u{2066}x\\u{2069}\\u{feff}\\u{2028}"),
            ("tag\u{e0041}", "tag\\u{e0041}"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escaped(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn clipping_counts_characters_and_never_halves_an_escape() {
        assert_eq!(clipped("abcdef", 6), "abcdef");
        assert_eq!(clipped("abcdefg", 6), "abcde…");
        assert_eq!(clipped("余额下降了", 3), "余额…");
        // `\u{1b}` is six characters: it goes whole or not at all.
        assert_eq!(clipped("ab\u{1b}cd", 6), "ab…");
        assert_eq!(clipped("ab\u{1b}", 8), "ab\\u{1b}");
        assert_eq!(clipped(&"x".repeat(1 << 20), LINE).chars().count(), LINE);
    }

    #[test]
    fn html_escapes_markup_and_both_quotes() {
        let cases = [
            ("O'Brien & Co", "O&#39;Brien &amp; Co"),
            ("<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
            (r#"a" onmouseover="x"#, "a&quot; onmouseover=&quot;x"),
            ("&amp;", "&amp;amp;"),
            ("房租 · Miete", "房租 · Miete"),
            ("", ""),
        ];
        for (text, shown) in cases {
            assert_eq!(html(text), shown, "{text:?}");
        }
    }

    #[test]
    fn cutting_keeps_whole_characters() {
        let mut text = "ab余".to_owned();
        assert!(cut(&mut text, 4));
        assert_eq!(text, "ab");
        let mut short = "abc".to_owned();
        assert!(!cut(&mut short, 3));
        assert_eq!(short, "abc");
    }

    #[test]
    fn json_keeps_the_value_and_shows_nothing_hidden() {
        let value = serde_json::json!({ "payee": "\u{1b}[2J\u{202e}oC\u{7f}\u{9b}\u{e0041} 余", "n": 1 });
        let line = json(&value);
        assert!(!line.chars().any(is_hidden), "{line}");
        assert!(line.contains("\\u202e") && line.contains("\\udb40\\udc41"), "{line}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).ok(), Some(value.clone()));
        let pretty = json_text(serde_json::to_string_pretty(&value).unwrap_or_default());
        assert!(pretty.contains('\n') && !pretty.chars().any(|c| c > ' ' && is_hidden(c)), "{pretty}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&pretty).ok(), Some(value));
    }

    proptest! {
        #[test]
        fn nothing_hidden_is_ever_shown(text in any::<String>(), width in 1usize..300) {
            let shown = escaped(&text);
            prop_assert!(!shown.chars().any(is_hidden), "{:?}", shown);
            prop_assert_eq!(escaped(&shown), shown.clone(), "escaping twice changes nothing");
            let short = clipped(&text, width);
            prop_assert!(!short.chars().any(is_hidden));
            prop_assert!(short.chars().count() <= width, "{:?} is wider than {}", short, width);
        }

        #[test]
        fn printable_text_passes_unchanged(text in any::<String>().prop_map(|s| s.replace(is_hidden, ""))) {
            prop_assert!(matches!(escaped(&text), Cow::Borrowed(_)));
            prop_assert_eq!(escaped(&text), text.as_str());
        }

        #[test]
        fn cut_text_is_a_prefix_within_the_bound(text in any::<String>(), max in 0usize..64) {
            let mut bounded = text.clone();
            let was_cut = cut(&mut bounded, max);
            prop_assert!(bounded.len() <= max);
            prop_assert!(text.starts_with(&bounded));
            prop_assert_eq!(was_cut, text.len() > max);
        }
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv("Shop"), "Shop");
        assert_eq!(csv("Shop, Inc."), "\"Shop, Inc.\"");
        assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv("-12.50"), "-12.50");
    }

    #[test]
    fn formulas_behind_a_tab_or_carriage_return_are_defused() {
        let cases = [
            ("\t=1+1", "'\t=1+1"),
            ("\t+1", "'\t+1"),
            ("\t", "'\t"),
            ("\t-1+cmd", "'\t-1+cmd"),
            ("\t@SUM(A1)", "'\t@SUM(A1)"),
            ("\r=1+1", "\"'\r=1+1\""),
            ("\r@x", "\"'\r@x\""),
            ("\tplain", "'\tplain"),
            ("-1", "-1"),
            ("+3.10", "+3.10"),
            ("Shop\t=1", "Shop\t=1"),
        ];
        for (raw, written) in cases {
            assert_eq!(csv(raw), written, "{raw:?}");
        }
    }
}
