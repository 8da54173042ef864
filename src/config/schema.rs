//! The TOML schema as written by people, and its translation into [`Config`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::alerting::{RawAlerts, RawQuietHours, RawRoute};
use super::channel::RawChannel;
use super::notice::RawNotice;
use super::values::{Amount, ByteSize, Count, Duration, Percent, TimeZone};
use super::*;
use crate::model::payee_key;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default, rename = "source")]
    sources: Vec<Spanned<RawSource>>,
    #[serde(default, rename = "account")]
    accounts: Vec<Spanned<RawAccount>>,
    #[serde(default, rename = "notice")]
    notices: Vec<Spanned<RawNotice>>,
    #[serde(default, rename = "channel")]
    channels: Vec<Spanned<RawChannel>>,
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

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum RawSourceKind {
    Simplefin,
    HttpJson,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    kind: RawSourceKind,
    schedule: Schedule,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_body: Option<ByteSize>,
    max_requests_per_day: Option<Count>,
    overlap: Option<Spanned<Duration>>,
    down_after: Option<Count>,
    notice: Option<Spanned<String>>,
    /// Plain http to a host other than this machine, for every URL of this source.
    allow_insecure_http: Option<bool>,
    // simplefin
    access_url: Option<Spanned<Secret>>,
    // http-json
    balance_url: Option<Spanned<String>>,
    transactions_url: Option<Spanned<String>>,
    currency: Option<String>,
    auth: Option<RawAuth>,
    mapping: Option<RawMapping>,
}

/// `auth = { type = … }`, shared by `[[source]]` and `[[notice]]` (both kind = "http-json").
#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
pub(super) enum RawAuth {
    None,
    Bearer { token: Secret },
    Basic { username: String, password: Secret },
    Header { name: String, value: Secret },
}

impl RawAuth {
    /// What a missing `auth` means too: no credentials.
    pub(super) fn into_auth(auth: Option<RawAuth>) -> HttpAuth {
        match auth {
            None | Some(RawAuth::None) => HttpAuth::None,
            Some(RawAuth::Bearer { token }) => HttpAuth::Bearer(token),
            Some(RawAuth::Basic { username, password }) => HttpAuth::Basic { username, password },
            Some(RawAuth::Header { name, value }) => HttpAuth::Header { name, value },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    balance: String,
    available: Option<String>,
    currency: Option<String>,
    status: Option<String>,
    #[serde(default)]
    transactions: String,
    id: Option<String>,
    posted: String,
    amount: String,
    payee: Option<String>,
    description: Option<String>,
    pending: Option<String>,
    #[serde(default)]
    pending_values: Vec<String>,
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
}

/// Parses and validates; every error carries its place in `text`.
pub(super) fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        let key = e.span().map(|s| messages::key_at(text, s.start)).unwrap_or_default();
        let message = messages::humanize(&key, &first_line(e.message()));
        ConfigError::at(path, text, e.span(), key.clone(), message.with_key(&key))
    })?;
    let raw: RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path_key = clean_path(&e.path().to_string());
        let message = messages::humanize(&path_key, &first_line(e.inner().message()));
        let key = message.key.clone().unwrap_or(path_key);
        ConfigError::at(path, text, e.inner().span(), key, message.text)
    })?;
    Validator { text, path, warnings: Default::default() }.config(raw)
}

/// serde_path_to_error spells the inside of `Spanned` values; people only need the key.
fn clean_path(path: &str) -> String {
    let cleaned = path.replace(".$__serde_spanned_private_value", "");
    if cleaned == "." { String::new() } else { cleaned }
}

fn first_line(message: &str) -> String {
    message.trim().lines().next().unwrap_or_default().to_owned()
}

pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    path: &'a Path,
    /// What is allowed but risky, said by `payguard check` and logged when the daemon loads it.
    pub(super) warnings: std::cell::RefCell<Vec<String>>,
}

impl Validator<'_> {
    pub(super) fn error<T>(
        &self,
        span: std::ops::Range<usize>,
        key: String,
        message: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError::at(self.path, self.text, Some(span), key, message))
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        if raw.sources.is_empty() && raw.notices.is_empty() {
            return Err(ConfigError::unplaced(
                self.path,
                "no [[source]] is configured (and no [[notice]]): there is nothing to watch",
            ));
        }
        // Where each source names its notice, for an error if that notice does not exist.
        let notice_spans: Vec<Option<std::ops::Range<usize>>> =
            raw.sources.iter().map(|s| s.get_ref().notice.as_ref().map(Spanned::span)).collect();
        let sources =
            raw.sources.into_iter().enumerate().map(|(i, s)| self.source(i, s)).collect::<Result<Vec<_>, _>>()?;
        self.unique("source", sources.iter().map(|(s, span)| (s.name.as_str(), span.clone())))?;
        let source_names: Vec<&str> = sources.iter().map(|(s, _)| s.name.as_str()).collect();

        let mut accounts = Vec::new();
        for (i, account) in raw.accounts.into_iter().enumerate() {
            accounts.push(self.account(i, account, &source_names)?);
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

        let notices =
            raw.notices.into_iter().enumerate().map(|(i, n)| self.notice(i, n)).collect::<Result<Vec<_>, _>>()?;
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
        for (i, (source, _)) in sources.iter().enumerate() {
            if let Some(notice) = source.polling.notice.as_deref().filter(|n| !notice_names.contains(n)) {
                let at = notice_spans.get(i).cloned().flatten().unwrap_or(0..0);
                return self.error(
                    at,
                    format!("source[{i}].notice"),
                    format!("no [[notice]] is named {notice:?}: `notice` names the status page whose maintenance explains this source's outages"),
                );
            }
        }

        let channel_spans: Vec<(String, std::ops::Range<usize>)> =
            raw.channels.iter().map(|c| (c.get_ref().name().get_ref().clone(), c.get_ref().name().span())).collect();
        self.unique("channel", channel_spans.iter().map(|(name, span)| (name.as_str(), span.clone())))?;
        let channels =
            raw.channels.into_iter().enumerate().map(|(i, c)| self.channel(i, c)).collect::<Result<Vec<_>, _>>()?;

        let daemon = DaemonConfig {
            state_dir: raw.daemon.state_dir.unwrap_or_else(default_state_dir),
            timezone: raw.daemon.timezone.map_or(chrono_tz::UTC, |t| t.0),
            language: raw.daemon.language.unwrap_or(Language::En),
            control_socket: raw.daemon.control_socket,
            control_group: raw.daemon.control_group.map(|name| self.control_group(name)).transpose()?,
            retention: raw.daemon.retention.map_or(chrono::TimeDelta::days(400), |d| d.0),
            metrics_listen: raw.daemon.metrics_listen,
        };
        let channel_names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
        let alerting = self.alerting(raw.alerts, raw.routes, raw.quiet_hours, &channel_names, daemon.timezone)?;
        Ok(Config {
            path: self.path.to_owned(),
            daemon,
            sources: sources.into_iter().map(|(s, _)| s).collect(),
            accounts: accounts.into_iter().map(|(a, _)| a).collect(),
            notices: notices.into_iter().map(|(n, _)| n).collect(),
            channels,
            alerting: alerting.policy,
            max_delivery_age: alerting.max_delivery_age,
            support: raw.support,
            warnings: self.warnings.take(),
        })
    }

    /// `[daemon] control_group`, resolved here rather than when the socket is bound: a group that
    /// does not exist is then a config error with its place, from `payguard check` as from startup.
    fn control_group(&self, name: Spanned<String>) -> Result<crate::control::ControlGroup, ConfigError> {
        crate::control::resolve_group(name.get_ref())
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
    fn source(&self, i: usize, raw: Spanned<RawSource>) -> Result<(SourceConfig, std::ops::Range<usize>), ConfigError> {
        let table = raw.span();
        let raw = raw.into_inner();
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        let key = |field: &str| format!("source[{i}].{field}");
        if name.trim().is_empty() {
            return self.error(name_span, key("name"), "a source needs a non-empty name");
        }
        let http = http_limits(raw.timeout, raw.connect_timeout, raw.max_body, raw.allow_insecure_http);
        let insecure = raw.allow_insecure_http.unwrap_or(false);
        let http_json_only = [
            ("balance_url", raw.balance_url.as_ref().map(Spanned::span)),
            ("transactions_url", raw.transactions_url.as_ref().map(Spanned::span)),
        ];
        let kind = match raw.kind {
            RawSourceKind::Simplefin => {
                if let Some((field, Some(span))) = http_json_only.into_iter().find(|(_, s)| s.is_some()) {
                    return self.error(span, key(field), format!("`{field}` belongs to kind = \"http-json\" sources; a simplefin source reads everything from access_url"));
                }
                if raw.auth.is_some() || raw.mapping.is_some() || raw.currency.is_some() {
                    return self.error(table, key("kind"), "auth, mapping and currency belong to kind = \"http-json\" sources; a simplefin source reads everything from access_url");
                }
                let Some(access_url) = raw.access_url else {
                    return self.error(table, key("access_url"), "a simplefin source needs access_url (the URL the setup token was exchanged for), e.g. \"${file:/etc/payguard/simplefin-url}\"");
                };
                let span = access_url.span();
                let access_url = access_url.into_inner();
                // A URL the config was loaded without (see `Secrets`) is checked where it is resolved.
                if let Ok(text) = access_url.expose() {
                    self.url(span, key("access_url"), text, insecure, "[[source]]")?;
                }
                SourceKind::SimpleFin { access_url }
            }
            RawSourceKind::HttpJson => {
                if let Some(url) = &raw.access_url {
                    return self.error(url.span(), key("access_url"), "`access_url` belongs to kind = \"simplefin\" sources; http-json sources take balance_url and transactions_url");
                }
                let mut urls = Vec::new();
                for (field, value) in [("balance_url", raw.balance_url), ("transactions_url", raw.transactions_url)] {
                    let Some(value) = value else {
                        return self.error(
                            table.clone(),
                            key(field),
                            format!("an http-json source needs {field}, a URL template with {{account}} in it"),
                        );
                    };
                    let example = value.get_ref().replace("{account}", "x");
                    self.url(value.span(), key(field), &example, insecure, "[[source]]")?;
                    urls.push(value.into_inner());
                }
                let Some(mapping) = raw.mapping else {
                    return self.error(table, key("mapping"), "an http-json source needs a [source.mapping] table saying where balance, posted and amount are");
                };
                if mapping.currency.is_none() && raw.currency.is_none() {
                    return self.error(
                        table,
                        key("currency"),
                        "an http-json source needs `currency` (like \"EUR\") or `mapping.currency` (a pointer)",
                    );
                }
                let auth = RawAuth::into_auth(raw.auth);
                let transactions_url = urls.pop().unwrap_or_default();
                let balance_url = urls.pop().unwrap_or_default();
                SourceKind::HttpJson(Box::new(HttpJsonConfig {
                    balance_url,
                    transactions_url,
                    auth,
                    currency: raw.currency,
                    mapping: Mapping {
                        balance: mapping.balance,
                        available: mapping.available,
                        currency: mapping.currency,
                        status: mapping.status,
                        transactions: mapping.transactions,
                        id: mapping.id,
                        posted: mapping.posted,
                        amount: mapping.amount,
                        payee: mapping.payee,
                        description: mapping.description,
                        pending: mapping.pending,
                        pending_values: mapping.pending_values,
                    },
                }))
            }
        };
        let defaults = Polling::defaults(&kind);
        if let Some(overlap) = &raw.overlap
            && overlap.get_ref().0 > chrono::TimeDelta::days(90)
        {
            return self.error(overlap.span(), key("overlap"), "overlap is at most 90 days (SimpleFIN serves no more)");
        }
        let polling = Polling {
            max_requests_per_day: raw.max_requests_per_day.map(|c| c.0).or(defaults.max_requests_per_day),
            overlap: raw.overlap.map_or(defaults.overlap, |o| o.into_inner().0),
            down_after: raw.down_after.map_or(defaults.down_after, |c| c.0),
            notice: raw.notice.map(|n| n.into_inner()),
        };
        Ok((SourceConfig { name, schedule: raw.schedule, http, kind, polling }, name_span))
    }

    fn account(
        &self,
        i: usize,
        raw: Spanned<RawAccount>,
        sources: &[&str],
    ) -> Result<(AccountConfig, std::ops::Range<usize>), ConfigError> {
        let raw = raw.into_inner();
        if !sources.contains(&raw.source.get_ref().as_str()) {
            return self.error(
                raw.source.span(),
                format!("account[{i}].source"),
                format!("no [[source]] is named {:?}: expected one of {}", raw.source.get_ref(), sources.join(", ")),
            );
        }
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
        };
        let id_span = raw.id.span();
        let id = raw.id.into_inner();
        let account = AccountRef::new(raw.source.into_inner(), id.clone());
        let name = raw.name.unwrap_or(id);
        Ok((AccountConfig { account, name, rules }, id_span))
    }
}

/// The request limits (and plain-http allowance) of a `[[source]]` or `[[notice]]`, with the
/// defaults both share.
pub(super) fn http_limits(
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_body: Option<ByteSize>,
    allow_insecure_http: Option<bool>,
) -> HttpLimits {
    HttpLimits {
        connect_timeout: connect_timeout.map_or(std::time::Duration::from_secs(10), Duration::to_std),
        timeout: timeout.map_or(std::time::Duration::from_secs(30), Duration::to_std),
        max_body: max_body.map_or(16 << 20, |b| b.0),
        allow_insecure_http: allow_insecure_http.unwrap_or(false),
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

    #[test]
    fn control_group_is_resolved_to_its_gid() {
        // root is group 0 in every /etc/group.
        let config = with_group("root").expect("a config");
        assert_eq!(config.daemon.control_group, Some(crate::control::ControlGroup { name: "root".into(), gid: 0 }));
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
