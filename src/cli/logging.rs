//! Where log lines go and how they look. Every command logs to stderr through tracing; under
//! systemd, when stderr is the journal's own stream (`JOURNAL_STREAM`), each line starts with its
//! syslog priority (`<3>` error … `<7>` debug) and carries no timestamp, because journald reads the
//! prefix as the entry's priority and stamps the time itself (sd-daemon(3)). Anywhere else the lines
//! are tracing-subscriber's usual ones. Either way field values are escaped ([`EscapedFields`]):
//! errors carry a platform's words, and those must not drive the terminal a person reads logs on.

use std::fmt;
use std::os::fd::AsFd as _;
use std::os::unix::fs::MetadataExt as _;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The syslog priority of an error, for lines written to the journal outside tracing.
pub const ERROR_PRIORITY: &str = "<3>";

/// Sets up logging: `level` (from `--log-level`) wins, then `RUST_LOG`, then `default`. Returns
/// whether stderr is the journal, so lines printed outside tracing can carry a priority too.
pub fn init(level: Option<&str>, default: &str) -> bool {
    let filter = match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let journal = stderr_is_journal();
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).fmt_fields(EscapedFields);
    // A second init (tests call into the CLI more than once) keeps the first subscriber.
    let _ = if journal {
        builder.with_ansi(false).event_format(JournalFormat::default()).try_init()
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
    };
    journal
}

/// The prefix journald reads as a line's priority (sd-daemon(3)); syslog has no level below debug.
fn priority(level: Level) -> &'static str {
    match level {
        Level::ERROR => ERROR_PRIORITY,
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        _ => "<7>",
    }
}

/// Whether stderr is connected to the journal. systemd passes the stream's device and inode in
/// `JOURNAL_STREAM`; the variable is inherited by children whose stderr may point elsewhere (a
/// pipe, a file), so it counts only when it names the file stderr is now.
fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some(value) = value.to_str() else { return false };
    stderr_identity().is_some_and(|identity| names(value, identity))
}

/// The (device, inode) of what stderr is open on.
fn stderr_identity() -> Option<(u64, u64)> {
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let metadata = std::fs::File::from(fd).metadata().ok()?;
    Some((metadata.dev(), metadata.ino()))
}

/// Whether a `JOURNAL_STREAM` value (`DEVICE:INODE`, both decimal) names `identity`.
fn names(value: &str, identity: (u64, u64)) -> bool {
    let Some((device, inode)) = value.split_once(':') else { return false };
    matches!((device.parse::<u64>(), inode.parse::<u64>()), (Ok(d), Ok(i)) if (d, i) == identity)
}

/// tracing-subscriber's full line (target, spans, message, fields) without time or level,
/// behind the level's priority prefix.
/// The message and fields of a log line as tracing writes them, with every control or invisible
/// character but the line break escaped by [`crate::text::escaped`]. Field names lose their
/// terminal italics: the fields are written plain, then escaped.
#[derive(Default)]
struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut plain = String::new();
        DefaultFields::new().format_fields(Writer::new(&mut plain), fields)?;
        let mut lines = plain.split('\n');
        if let Some(first) = lines.next() {
            writer.write_str(&crate::text::escaped(first))?;
        }
        for line in lines {
            writer.write_char('\n')?;
            writer.write_str(&crate::text::escaped(line))?;
        }
        Ok(())
    }
}

struct JournalFormat {
    line: Format<Full, ()>,
}

impl Default for JournalFormat {
    fn default() -> Self {
        JournalFormat { line: tracing_subscriber::fmt::format().without_time().with_level(false).with_ansi(false) }
    }
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = String::new();
        self.line.format_event(ctx, Writer::new(&mut line), event)?;
        // journald splits on newlines and gives a line without a prefix the default priority, so
        // a multi-line message (an error chain, a response body) keeps its priority on every line.
        let prefix = priority(*event.metadata().level());
        for part in line.lines() {
            writeln!(writer, "{prefix}{part}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn each_level_has_its_syslog_priority() {
        let table = [
            (Level::ERROR, "<3>"),
            (Level::WARN, "<4>"),
            (Level::INFO, "<6>"),
            (Level::DEBUG, "<7>"),
            (Level::TRACE, "<7>"),
        ];
        for (level, prefix) in table {
            assert_eq!(priority(level), prefix, "{level}");
        }
    }

    #[test]
    fn journal_stream_counts_only_when_it_names_stderr() {
        let identity = (64769, 1234567);
        assert!(names("64769:1234567", identity));
        for value in [
            "64769:1234568",
            "64770:1234567",
            "",
            ":",
            "64769",
            "64769:",
            "x:1234567",
            "64769:1234567:1",
            " 64769:1234567",
        ] {
            assert!(!names(value, identity), "{value:?}");
        }
    }

    #[test]
    fn stderr_has_an_identity_that_a_wrong_value_does_not_name() {
        let identity = stderr_identity().expect("stderr can be stat'ed");
        assert!(names(&format!("{}:{}", identity.0, identity.1), identity));
        assert!(!names(&format!("{}:{}", identity.0, identity.1.wrapping_add(1)), identity));
    }

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn journal_lines_start_with_the_priority_and_keep_the_fields() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .fmt_fields(EscapedFields)
            .event_format(JournalFormat::default())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(source = "bank", error = "connection refused", "poll failed");
            tracing::warn!(error = %"the platform reported: \u{1b}[2J\u{202e}oC drolnaL", "poll failed");
            tracing::info!("two\nlines");
            tracing::debug!(next = 3, "next poll");
        });
        let text = String::from_utf8(captured.0.lock().expect("capture lock").clone()).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "<4>payguard::cli::logging::tests: poll failed source=\"bank\" error=\"connection refused\"",
                "<4>payguard::cli::logging::tests: poll failed error=the platform reported: \\u{1b}[2J\\u{202e}oC drolnaL",
                "<6>payguard::cli::logging::tests: two",
                "<6>lines",
                "<7>payguard::cli::logging::tests: next poll next=3",
            ],
            "{text}"
        );
    }
}
