//! The TOML schema as written by people, and its translation into [`Config`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use serde::de::IgnoredAny;
use toml::de::{DeTable, DeValue};

use super::alerting::{RawAlerts, RawQuietHours, RawRoute};
use super::values::{Amount, Count, DayOfMonth, Duration, DurationOrOff, Percent, SignedAmount, TimeZone};
use super::*;
use crate::detect::Expected;
use crate::model::payee_key;
use chrono::TimeDelta;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    daemon: RawDaemon,
    /// The lists of kinds are taken out of the document before it is read (see [`Entries`]);
    /// what is left of them here is a value that is not a list, which is then an error.
    #[serde(default, rename = "source")]
    _sources: Vec<IgnoredAny>,
    #[serde(default, rename = "account")]
    accounts: Vec<Spanned<RawAccount>>,
    #[serde(default, rename = "notice")]
    _notices: Vec<IgnoredAny>,
    #[serde(default, rename = "channel")]
    _channels: Vec<IgnoredAny>,
    #[serde(default)]
    alerts: RawAlerts,
    #[serde(default, rename = "route")]
    routes: Vec<RawRoute>,
    quiet_hours: Option<RawQuietHours>,
    #[serde(default)]
    support: Support,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    state_dir: Option<PathBuf>,
    timezone: Option<TimeZone>,
    language: Option<Language>,
    control_socket: Option<PathBuf>,
    control_group: Option<Spanned<String>>,
    retention: Option<Duration>,
    metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    source: Spanned<String>,
    id: Spanned<String>,
    name: Option<String>,
    min_balance: Option<Amount>,
    drop_abs: Option<Amount>,
    drop_pct: Option<Percent>,
    drop_window: Option<Duration>,
    large_debit: Option<Amount>,
    learning_period: Option<Duration>,
    #[serde(default)]
    trusted_payees: Vec<String>,
    velocity_count: Option<Count>,
    velocity_sum: Option<Amount>,
    velocity_window: Option<Duration>,
    duplicate_window: Option<Duration>,
    card_expiry_warn: Option<Duration>,
    tolerance: Option<Amount>,
    pending_max_age: Option<Duration>,
    stale_after: Option<DurationOrOff>,
    #[serde(default)]
    expected: Vec<Spanned<RawExpected>>,
}

/// `[[account.expected]]`: a monthly payment the account expects.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpected {
    name: String,
    payee: Option<String>,
    day: DayOfMonth,
    amount: SignedAmount,
    late: Option<Duration>,
    change: Option<Percent>,
}

/// The `[[source]]`, `[[notice]]` and `[[channel]]` tables, taken out of the document to be read
/// kind by kind (see `entry`).
#[derive(Default)]
struct Entries<'i> {
    sources: Vec<Spanned<DeValue<'i>>>,
    notices: Vec<Spanned<DeValue<'i>>>,
    channels: Vec<Spanned<DeValue<'i>>>,
}

impl<'i> Entries<'i> {
    /// Takes the lists out of `document`; a key that is not a list stays, for [`RawConfig`] to refuse.
    fn take(document: &mut DeTable<'i>) -> Self {
        let mut take = |name: &str| -> Vec<Spanned<DeValue<'i>>> {
            let is_list =
                document.iter().any(|(key, value)| key.get_ref().as_ref() == name && value.get_ref().is_array());
            if !is_list {
                return Vec::new();
            }
            let key = document.keys().find(|key| key.get_ref().as_ref() == name).cloned();
            match key.and_then(|key| document.remove(&key)).map(Spanned::into_inner) {
                Some(DeValue::Array(items)) => items.into_iter().collect(),
                _ => Vec::new(),
            }
        };
        Entries { sources: take("source"), notices: take("notice"), channels: take("channel") }
    }
}

/// Parses and validates; every error carries its place in `text`.
pub(super) fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let document = DeTable::parse(text).map_err(|e| {
        let key = e.span().map(|s| messages::key_at(text, s.start)).unwrap_or_default();
        let message = messages::humanize(&key, &first_line(e.message()));
        ConfigError::at(path, text, e.span(), key.clone(), message.with_key(&key))
    })?;
    let span = document.span();
    let mut document = document.into_inner();
    let entries = Entries::take(&mut document);
    let validator = Validator { text, path, warnings: Default::default() };
    let raw = validator.deserialize("", toml::Deserializer::from(Spanned::new(span, document)));
    validator.config(raw, entries).map_err(|errors| {
        ConfigError::gather(errors).unwrap_or_else(|| ConfigError::unplaced(path, "the config is not valid"))
    })
}

/// Reads each of `tables` with `read`: what reads, in order; each mistake goes to `errors`.
fn read_each<'i, T>(
    tables: Vec<Spanned<DeValue<'i>>>,
    errors: &mut Vec<ConfigError>,
    read: impl Fn(usize, Spanned<DeValue<'i>>) -> Result<T, ConfigError>,
) -> Vec<T> {
    tables.into_iter().enumerate().filter_map(|(i, table)| read(i, table).map_err(|e| errors.push(e)).ok()).collect()
}

/// serde_path_to_error spells the inside of `Spanned` values; people only need the key.
fn clean_path(path: &str) -> String {
    let cleaned = path.replace(".$__serde_spanned_private_value", "");
    if cleaned == "." { String::new() } else { cleaned }
}

pub(super) fn first_line(message: &str) -> String {
    message.trim().lines().next().unwrap_or_default().to_owned()
}

pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
    /// What is allowed but risky, said by `payguard check` and logged when the daemon loads it.
    pub(super) warnings: std::cell::RefCell<Vec<String>>,
}

impl Validator<'_> {
    /// Deserializes what `deserializer` reads (the part of the file at the key `prefix`), with
    /// errors that name the file, line, column and key.
    pub(super) fn deserialize<'de, T, D>(&self, prefix: &str, deserializer: D) -> Result<T, ConfigError>
    where
        T: Deserialize<'de>,
        D: serde::Deserializer<'de, Error = toml::de::Error>,
    {
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let inner = clean_path(&e.path().to_string());
            let path_key = match (prefix.is_empty(), inner.is_empty()) {
                (true, _) => inner,
                (false, true) => prefix.to_owned(),
                (false, false) => format!("{prefix}.{inner}"),
            };
            let message = messages::humanize(&path_key, &first_line(e.inner().message()));
            let key = message.key.clone().unwrap_or(path_key);
            ConfigError::at(self.path, self.text, e.inner().span(), key, message.text)
        })
    }

    pub(super) fn error<T>(
        &self,
        span: std::ops::Range<usize>,
        key: String,
        message: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError::at(self.path, self.text, Some(span), key, message))
    }

    /// Reads every table on its own, so that one mistake does not hide the next: each table that
    /// cannot be read is one error. What looks across tables (names, references) is judged only
    /// once they all read, as a table that did not would make it report mistakes that are not there.
    fn config(&self, raw: Result<RawConfig, ConfigError>, entries: Entries<'_>) -> Result<Config, Vec<ConfigError>> {
        let nothing_to_watch = entries.sources.is_empty() && entries.notices.is_empty();
        let mut errors = Vec::new();
        let sources = read_each(entries.sources, &mut errors, |i, s| self.source(i, s));
        let notices = read_each(entries.notices, &mut errors, |i, n| self.notice(i, n));
        let channels = read_each(entries.channels, &mut errors, |i, c| self.channel(i, c));
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                errors.push(e);
                return Err(errors);
            }
        };
        // Only when the rest of the file reads: `[source]` written with single brackets is no list,
        // and its own error says so.
        if nothing_to_watch {
            errors.push(ConfigError::unplaced(
                self.path,
                "no [[source]] is configured (and no [[notice]]): there is nothing to watch",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.across(raw, sources, notices, channels).map_err(|e| vec![e])
    }

    /// The config of tables that each read, checked across them.
    fn across(
        &self,
        raw: RawConfig,
        sources: Vec<super::source::Read>,
        notices: Vec<(NoticeConfig, std::ops::Range<usize>)>,
        channels: Vec<(ChannelConfig, std::ops::Range<usize>)>,
    ) -> Result<Config, ConfigError> {
        self.unique("source", sources.iter().map(|s| (s.source.name.as_str(), s.name_span.clone())))?;
        let source_names: Vec<&str> = sources.iter().map(|s| s.source.name.as_str()).collect();

        let mut accounts = Vec::new();
        for (i, account) in raw.accounts.into_iter().enumerate() {
            accounts.push(self.account(i, account, &sources)?);
        }
        let mut seen = HashSet::new();
        for (i, (account, span)) in accounts.iter().enumerate() {
            if !seen.insert(&account.account) {
                return self.error(
                    span.clone(),
                    format!("account[{i}].id"),
                    format!(
                        "account {} of source {} is configured twice",
                        account.account.account, account.account.source
                    ),
                );
            }
        }
        // A kind whose data names no account puts all of it on the source's one account.
        for (i, source) in sources.iter().enumerate() {
            let count = accounts.iter().filter(|(a, _)| a.account.source == source.source.name).count();
            if let Some(why) = source.source.kind.get().single_account()
                && count != 1
            {
                return self.error(
                    source.name_span.clone(),
                    format!("source[{i}].name"),
                    format!(
                        "{why}, so the source {:?} needs exactly one [[account]] (it has {count})",
                        source.source.name
                    ),
                );
            }
            let name = &source.source.name;
            for (key, id) in source.source.kind.get().named_accounts() {
                if !accounts.iter().any(|(a, _)| a.account.source == *name && a.account.account == id) {
                    return self.error(
                        source.name_span.clone(),
                        format!("source[{i}].{key}"),
                        format!(
                            "{key} is {id:?}, which is no [[account]] of the source {name:?}, so what it reads would not be watched: add [[account]] with source = {name:?} and id = {id:?}, or correct the rule"
                        ),
                    );
                }
            }
        }

        self.unique("notice", notices.iter().map(|(n, span)| (n.name.as_str(), span.clone())))?;
        // Sources and notices both name alert scopes: one name for two things would merge their alerts.
        for (i, (notice, span)) in notices.iter().enumerate() {
            if source_names.contains(&notice.name.as_str()) {
                return self.error(
                    span.clone(),
                    format!("notice[{i}].name"),
                    format!(
                        "notice name {:?} is also the name of a [[source]]: alerts are kept apart by these names, so a notice needs a name of its own",
                        notice.name
                    ),
                );
            }
        }

        let notice_names: Vec<&str> = notices.iter().map(|(n, _)| n.name.as_str()).collect();
        for (i, read) in sources.iter().enumerate() {
            if let Some(notice) = read.source.polling.notice.as_deref().filter(|n| !notice_names.contains(n)) {
                let at = read.notice_span.clone().unwrap_or(0..0);
                return self.error(
                    at,
                    format!("source[{i}].notice"),
                    format!("no [[notice]] is named {notice:?}: `notice` names the status page whose maintenance explains this source's outages"),
                );
            }
        }

        self.unique("channel", channels.iter().map(|(c, span)| (c.name.as_str(), span.clone())))?;

        let daemon = DaemonConfig {
            state_dir: raw.daemon.state_dir.unwrap_or_else(default_state_dir),
            timezone: raw.daemon.timezone.map_or(chrono_tz::UTC, |t| t.0),
            language: raw.daemon.language.unwrap_or(Language::En),
            control_socket: raw.daemon.control_socket,
            control_group: raw.daemon.control_group.map(|name| self.control_group(name)).transpose()?,
            retention: raw.daemon.retention.map_or(chrono::TimeDelta::days(400), |d| d.0),
            metrics_listen: raw.daemon.metrics_listen,
        };
        let channel_names: Vec<&str> = channels.iter().map(|(c, _)| c.name.as_str()).collect();
        let alerting = self.alerting(raw.alerts, raw.routes, raw.quiet_hours, &channel_names, daemon.timezone)?;
        let zone = crate::model::Zone(daemon.timezone);
        Ok(Config {
            path: self.path.to_owned(),
            daemon,
            sources: sources.into_iter().map(|s| s.source).collect(),
            // Findings tell their times on the daemon's clock.
            accounts: accounts
                .into_iter()
                .map(|(mut a, _)| {
                    a.rules.zone = zone;
                    a
                })
                .collect(),
            notices: notices.into_iter().map(|(n, _)| n).collect(),
            channels: channels.into_iter().map(|(c, _)| c).collect(),
            alerting: alerting.policy,
            max_delivery_age: alerting.max_delivery_age,
            support: raw.support,
            warnings: self.warnings.take(),
        })
    }

    /// `[daemon] control_group`, resolved here rather than when the socket is bound: a group that
    /// does not exist is then a config error with its place, from `payguard check` as from startup.
    fn control_group(&self, name: Spanned<String>) -> Result<ControlGroup, ConfigError> {
        super::resolve_group(name.get_ref())
            .or_else(|e| self.error(name.span(), "daemon.control_group".into(), e.to_string()))
    }

    /// Where `field = …` is written inside the table at `table`, for keys serde gives no span
    /// (optional fields that are present where they do not belong); the table itself otherwise.
    pub(super) fn key_span(&self, table: &std::ops::Range<usize>, field: &str) -> std::ops::Range<usize> {
        // A table's span may cover only its header: read on to the next header.
        let body = self.text.get(table.start..).unwrap_or_default();
        let mut offset = 0;
        for (n, line) in body.split_inclusive('\n').enumerate() {
            let trimmed = line.trim_start();
            if n > 0 && trimmed.starts_with('[') {
                break;
            }
            if trimmed.strip_prefix(field).is_some_and(|rest| rest.trim_start().starts_with('=')) {
                let start = table.start + offset + (line.len() - trimmed.len());
                return start..start + field.len();
            }
            offset += line.len();
        }
        table.clone()
    }

    fn unique<'n>(
        &self,
        what: &str,
        names: impl Iterator<Item = (&'n str, std::ops::Range<usize>)>,
    ) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for (i, (name, span)) in names.enumerate() {
            if !seen.insert(name) {
                return self.error(
                    span,
                    format!("{what}[{i}].name"),
                    format!("{what} name {name:?} is used twice: names must be unique"),
                );
            }
        }
        Ok(())
    }
}

impl Validator<'_> {
    fn account(
        &self,
        i: usize,
        raw: Spanned<RawAccount>,
        sources: &[super::source::Read],
    ) -> Result<(AccountConfig, std::ops::Range<usize>), ConfigError> {
        let raw = raw.into_inner();
        let Some(source) = sources.iter().map(|s| &s.source).find(|s| s.name == *raw.source.get_ref()) else {
            let names: Vec<&str> = sources.iter().map(|s| s.source.name.as_str()).collect();
            return self.error(
                raw.source.span(),
                format!("account[{i}].source"),
                format!("no [[source]] is named {:?}: expected one of {}", raw.source.get_ref(), names.join(", ")),
            );
        };
        let defaults = Rules::default();
        let rules = Rules {
            min_balance: raw.min_balance.map(|a| a.0),
            drop_abs: raw.drop_abs.map(|a| a.0),
            drop_pct: raw.drop_pct.map(|p| p.0).or(defaults.drop_pct),
            drop_window: raw.drop_window.map_or(defaults.drop_window, |d| d.0),
            large_debit: raw.large_debit.map(|a| a.0),
            learning_period: raw.learning_period.map_or(defaults.learning_period, |d| d.0),
            trusted_payees: raw.trusted_payees.iter().map(|p| payee_key(p)).collect(),
            velocity_count: raw.velocity_count.map(|c| c.0).or(defaults.velocity_count),
            velocity_sum: raw.velocity_sum.map(|a| a.0),
            velocity_window: raw.velocity_window.map_or(defaults.velocity_window, |d| d.0),
            duplicate_window: raw.duplicate_window.map_or(defaults.duplicate_window, |d| d.0),
            card_expiry_warn: raw.card_expiry_warn.map_or(defaults.card_expiry_warn, |d| d.0),
            tolerance: raw.tolerance.map_or(defaults.tolerance, |a| a.0),
            pending_max_age: raw.pending_max_age.map_or(defaults.pending_max_age, |d| d.0),
            expected: Vec::new(),
            stale_after: match raw.stale_after {
                Some(DurationOrOff(after)) => after,
                None => defaults.stale_after.filter(|_| source.kind.get().stays_current()),
            },
            zone: defaults.zone,
        };
        let mut rules = rules;
        for (j, expected) in raw.expected.into_iter().enumerate() {
            let span = expected.span();
            rules.expected.push(self.expected(i, j, expected.into_inner(), span)?);
        }
        let id_span = raw.id.span();
        let id = raw.id.into_inner();
        let account = AccountRef::new(raw.source.into_inner(), id.clone());
        let name = raw.name.unwrap_or(id);
        Ok((AccountConfig { account, name, rules }, id_span))
    }
}

impl Validator<'_> {
    /// One `[[account.expected]]`. Money out needs a payee: an amount alone matches too much.
    fn expected(
        &self,
        i: usize,
        j: usize,
        raw: RawExpected,
        span: std::ops::Range<usize>,
    ) -> Result<Expected, ConfigError> {
        let key = |field: &str| format!("account[{i}].expected[{j}].{field}");
        if raw.name.trim().is_empty() {
            return self.error(span, key("name"), "an expected payment needs a name, like \"salary\" or \"rent\"");
        }
        let payee = raw.payee.filter(|p| !payee_key(p).is_empty()).map(|p| (payee_key(&p), p));
        if raw.amount.0.is_sign_negative() && payee.is_none() {
            return self.error(
                span,
                key("payee"),
                format!(
                    "{:?} is money out, so it needs the payee it goes to (payee = \"Landlord Co\"): an amount alone matches too much",
                    raw.name
                ),
            );
        }
        Ok(Expected {
            name: raw.name,
            payee,
            day: raw.day.0,
            amount: raw.amount.0,
            late: raw.late.map_or(TimeDelta::days(3), |d| d.0),
            change: raw.change.map(|c| c.0),
        })
    }
}

fn default_state_dir() -> PathBuf {
    // systemd's StateDirectory= sets this; elsewhere the FHS place for a system daemon.
    std::env::var_os("STATE_DIRECTORY").map_or_else(|| PathBuf::from("/var/lib/payguard"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_group(group: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[daemon]\ncontrol_group = \"{group}\"\n\n[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"https://u:p@bridge.example.com/simplefin\"\nschedule = \"0 * * * *\"\n"
        );
        parse(&text, Path::new("payguard.toml"))
    }

    const SOURCE: &str = "[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"https://u:p@bridge.example.com/simplefin\"\nschedule = \"0 * * * *\"\n";

    fn channel(name: &str, extra: &str) -> String {
        format!(
            "\n[[channel]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"https://hooks.example.com/{name}\"\n{extra}"
        )
    }

    #[test]
    fn alerts_group_by_account_unless_told_otherwise() {
        use crate::alert::GroupBy;
        let default = parse(SOURCE, Path::new("payguard.toml")).expect("config");
        let policy = &default.alerting;
        assert_eq!(policy.group_by, [GroupBy::Account]);
        assert_eq!(
            (policy.group_wait, policy.group_interval),
            (chrono::TimeDelta::seconds(30), chrono::TimeDelta::minutes(5))
        );
        let text = format!("{SOURCE}\n[alerts]\ngroup_by = []\ngroup_wait = \"0s\"\ngroup_interval = \"1h\"\n");
        let ungrouped = parse(&text, Path::new("payguard.toml")).expect("config");
        let policy = &ungrouped.alerting;
        assert!(policy.group_by.is_empty());
        assert_eq!(
            (policy.group_wait, policy.group_interval),
            (chrono::TimeDelta::zero(), chrono::TimeDelta::hours(1))
        );
    }

    #[test]
    fn every_table_that_cannot_be_read_is_its_own_mistake_in_file_order() {
        let text = format!(
            "{}{}{}{}[daemon]\ntimezone = \"Mars/Olympus\"\n",
            SOURCE.replace("0 * * * *", "0 * * *"),
            channel("ok", ""),
            channel("hook", "max_per_hour = 0\n"),
            channel("chat", "colour = \"red\"\n"),
        );
        let error = parse(&text, Path::new("payguard.toml")).expect_err("four mistakes");
        let found: Vec<(usize, &str)> = error.all().map(|e| (e.line, e.key.as_str())).collect();
        assert_eq!(
            found,
            [
                (5, "source[0].schedule"),
                (12, "channel[1].max_per_hour"),
                (22, "channel[2].colour"),
                (24, "daemon.timezone")
            ],
            "{error}"
        );
        assert_eq!(error.to_string().lines().count(), 1, "Display is the first alone: {error}");
    }

    #[test]
    fn what_looks_across_tables_waits_until_every_table_reads() {
        // A broken source and an account of it: the account's source is not reported missing.
        let text = format!("{}overlap = \"1000d\"\n\n[[account]]\nsource = \"bank\"\nid = \"A\"\n", SOURCE);
        let error = parse(&text, Path::new("payguard.toml")).expect_err("a mistake");
        assert_eq!((error.key.as_str(), error.more.len()), ("source[0].overlap", 0), "{error}");
    }

    #[test]
    fn at_most_twenty_mistakes_are_reported() {
        let channels: String = (0..25).map(|i| channel(&format!("c{i}"), "max_per_hour = 0\n")).collect();
        let error = parse(&format!("{SOURCE}{channels}"), Path::new("payguard.toml")).expect_err("25 mistakes");
        assert_eq!(error.all().count(), 20);
        assert_eq!(error.more.last().map(|e| e.key.as_str()), Some("channel[19].max_per_hour"), "the first twenty");
    }

    /// `stale_after` is on by default where the platform keeps its data current, off for a folder
    /// of statements (as old as the last export), and what an account sets wins either way.
    #[test]
    fn stale_after_defaults_by_kind_of_source() {
        let text = |bank: &str, folder: &str| {
            format!(
                "[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"https://u:p@bridge.example.com/simplefin\"\nschedule = \"0 * * * *\"\n\n[[source]]\nname = \"folder\"\nkind = \"statements\"\ndir = \"/tmp\"\nformat = \"alipay-csv\"\nschedule = \"0 * * * *\"\n\n[[account]]\nsource = \"bank\"\nid = \"ACT-1\"\n{bank}\n[[account]]\nsource = \"folder\"\nid = \"alipay\"\n{folder}\n"
            )
        };
        let stale_after = |bank: &str, folder: &str| {
            let config = parse(&text(bank, folder), Path::new("payguard.toml")).expect("a config");
            config.accounts.iter().map(|a| a.rules.stale_after.map(|d| d.num_days())).collect::<Vec<_>>()
        };
        assert_eq!(stale_after("", ""), [Some(3), None]);
        assert_eq!(stale_after("stale_after = \"off\"", "stale_after = \"35d\""), [None, Some(35)]);
    }

    #[test]
    fn control_group_is_resolved_to_its_gid() {
        // root is group 0 in every /etc/group.
        let config = with_group("root").expect("a config");
        assert_eq!(config.daemon.control_group, Some(ControlGroup { name: "root".into(), gid: 0 }));
    }

    #[test]
    fn a_missing_or_impossible_control_group_is_a_config_error_with_its_place() {
        let missing = with_group("payguard-no-such-group").expect_err("no such group");
        assert_eq!((missing.line, missing.column, missing.key.as_str()), (2, 17, "daemon.control_group"));
        assert!(missing.message.contains("groupadd --system payguard-no-such-group"), "{missing}");
        let impossible = with_group("pay guard").expect_err("not a name");
        assert_eq!((impossible.line, impossible.key.as_str()), (2, "daemon.control_group"));
        assert!(impossible.message.contains("not a group name"), "{impossible}");
    }
}
