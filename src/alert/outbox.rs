//! The outbox's policy: what a delivery is, when it is tried again, when it is given up, which due
//! deliveries of a channel go out as one message (an incident's, `groups`), when such a message
//! may go (`ready_at`), and how a channel over its hourly limit folds the overflow into one digest.
//! The daemon carries it out.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::Alert;

/// Why a message is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeEvent {
    /// The alert started firing.
    Firing,
    /// Still firing, unacknowledged, after `repeat_interval`.
    Repeat,
    /// The condition cleared.
    Resolved,
}

impl NoticeEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeEvent::Firing => "firing",
            NoticeEvent::Repeat => "repeat",
            NoticeEvent::Resolved => "resolved",
        }
    }
}

/// One message owed to one channel: a row of the outbox until it is delivered or given up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub channel: String,
    pub event: NoticeEvent,
    /// The alert as it was when the message became owed.
    pub alert: Alert,
    pub created_at: DateTime<Utc>,
    /// Not before this time: quiet hours, backoff and `Retry-After` push it later.
    pub not_before: DateTime<Utc>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl Delivery {
    pub fn new(
        alert: &Alert,
        event: NoticeEvent,
        channel: &str,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Self {
        Delivery {
            id: format!("{}.{}.{}.{}", alert.id, event.as_str(), channel, now.timestamp_millis()),
            channel: channel.to_owned(),
            event,
            alert: alert.clone(),
            created_at: now,
            not_before,
            attempts: 0,
            last_error: None,
        }
    }
}

/// The deliveries that `notices` owe: one per routed channel, held through quiet hours.
pub fn enqueue(notices: &[(Alert, NoticeEvent)], policy: &super::Policy, now: DateTime<Utc>) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    for (alert, event) in notices {
        let finding = &alert.finding;
        let not_before = policy.release_time(finding.severity, now);
        for channel in policy.channels_for(finding.severity, Some(finding.kind), Some(&finding.account)) {
            deliveries.push(Delivery::new(alert, *event, &channel, now, not_before));
        }
    }
    deliveries
}

/// How a delivery ended, kept in the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Delivered,
    /// The channel said no for good (a 4xx, a bad address).
    Failed {
        error: String,
    },
    /// Kept failing for longer than `max_delivery_age`.
    Expired {
        error: String,
    },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed { .. } => "failed",
            Outcome::Expired { .. } => "expired",
        }
    }
}

/// A finished delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub alert_id: String,
    pub channel: String,
    pub event: NoticeEvent,
    pub created_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub attempts: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Delivered inside a digest with others.
    pub digest: bool,
    /// The incident of its alert, so the time of a channel's last message of an incident
    /// outlives a restart.
    #[serde(default)]
    pub incident: Option<String>,
}

/// What one attempt at sending came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    /// Worth trying again; `after` is the channel's own wish (`Retry-After`).
    Retry {
        error: String,
        after: Option<TimeDelta>,
    },
    GiveUp {
        error: String,
    },
}

/// What to do with a delivery after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Finish(Box<DeliveryRecord>),
    Reschedule(Box<Delivery>),
}

const FIRST_RETRY: TimeDelta = TimeDelta::seconds(30);
const LONGEST_WAIT: TimeDelta = TimeDelta::hours(1);

/// Exponential backoff from 30 s, doubling to at most an hour, with ±20 % jitter. The jitter is
/// derived from the delivery's id, so retries of many deliveries spread out yet every run is
/// reproducible.
pub fn backoff(attempts: u32, seed: &str) -> TimeDelta {
    let base = crate::retry::backoff(FIRST_RETRY, LONGEST_WAIT, attempts);
    let hash = crate::model::short_hash(&format!("{seed}#{attempts}"));
    let unit = u64::from_str_radix(&hash[..4], 16).unwrap_or(0) as i64; // 0..65535
    let jitter_millis = base.num_milliseconds() * (unit - 32_768) / (32_768 * 5);
    base + TimeDelta::milliseconds(jitter_millis)
}

/// Decides the fate of `delivery` after an attempt at `now`.
pub fn after_attempt(
    mut delivery: Delivery,
    attempt: Attempt,
    now: DateTime<Utc>,
    max_age: TimeDelta,
    digest: bool,
) -> Next {
    delivery.attempts += 1;
    let finish = |delivery: &Delivery, outcome| {
        Next::Finish(Box::new(DeliveryRecord {
            id: delivery.id.clone(),
            alert_id: delivery.alert.id.clone(),
            channel: delivery.channel.clone(),
            event: delivery.event,
            created_at: delivery.created_at,
            finished_at: now,
            attempts: delivery.attempts,
            outcome,
            digest,
            incident: delivery.alert.incident.clone(),
        }))
    };
    match attempt {
        Attempt::Sent => finish(&delivery, Outcome::Delivered),
        Attempt::GiveUp { error } => finish(&delivery, Outcome::Failed { error }),
        Attempt::Retry { error, after } => {
            // The later of the receiver's wish and our own backoff: `Retry-After` may push the
            // next attempt out, never in. A receiver answering every request with
            // `Retry-After: 0` would otherwise be sent to in a tight loop until `max_age`.
            let own = backoff(delivery.attempts, &delivery.id);
            let wait = after.map_or(own, |after| after.max(own));
            // A wait past the calendar's end (a `Retry-After` of 10^14 s is valid on the wire) is
            // past `max_age` too; `now + wait` would panic.
            let next = match now.checked_add_signed(wait) {
                Some(next) if next - delivery.created_at <= max_age => next,
                _ => return finish(&delivery, Outcome::Expired { error }),
            };
            delivery.not_before = next;
            delivery.last_error = Some(error);
            Next::Reschedule(Box::new(delivery))
        }
    }
}

/// Decides the fate of a group's deliveries after the attempt at their one message. Those tried
/// again are tried together, at the latest of their backoffs: each alone would split the incident
/// into several messages at the retry.
pub fn after_group_attempt(
    group: Vec<Delivery>,
    attempt: &Attempt,
    now: DateTime<Utc>,
    max_age: TimeDelta,
) -> Vec<Next> {
    let mut nexts: Vec<Next> =
        group.into_iter().map(|d| after_attempt(d, attempt.clone(), now, max_age, false)).collect();
    let latest = nexts.iter().filter_map(|n| if let Next::Reschedule(d) = n { Some(d.not_before) } else { None }).max();
    for next in &mut nexts {
        if let (Next::Reschedule(delivery), Some(latest)) = (next, latest) {
            delivery.not_before = latest;
        }
    }
    nexts
}

/// The due deliveries of one channel, each group one message: the deliveries of one incident
/// together, a delivery whose alert has no incident alone. Groups come oldest first, as do the
/// deliveries in each.
pub fn groups(mut due: Vec<Delivery>) -> Vec<Vec<Delivery>> {
    due.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let mut groups: Vec<Vec<Delivery>> = Vec::new();
    for delivery in due {
        let joins = delivery
            .alert
            .incident
            .as_ref()
            .and_then(|incident| groups.iter().position(|g| g[0].alert.incident.as_ref() == Some(incident)));
        match joins {
            Some(at) => groups[at].push(delivery),
            None => groups.push(vec![delivery]),
        }
    }
    groups
}

/// When a group may go out: an incident's first message on a channel `wait` after its oldest
/// delivery became owed, so findings arriving close together are one message; a later one
/// `interval` after the channel's `last` message of it. A delivery without an incident goes at once.
pub fn ready_at(
    group: &[Delivery],
    last: Option<DateTime<Utc>>,
    wait: TimeDelta,
    interval: TimeDelta,
) -> DateTime<Utc> {
    let oldest = group.iter().map(|d| d.created_at).min().unwrap_or_default();
    match (group.first().and_then(|d| d.alert.incident.as_ref()), last) {
        (None, _) => oldest,
        (Some(_), None) => oldest + wait,
        (Some(_), Some(last)) => (last + interval).max(oldest),
    }
}

/// How the due groups of one channel are sent this round.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Each group one message.
    pub messages: Vec<Vec<Delivery>>,
    /// Sent together as one digest message (never a single group).
    pub digest: Vec<Delivery>,
    /// Held back: the channel has used its hourly allowance.
    pub held: Vec<Delivery>,
}

/// Splits `groups` (oldest first, one message each) by the channel's allowance: `max_per_hour`
/// less what it sent in the last hour. An incident is one message, so it counts once. When more
/// are due than it may send, the last message it may send is a digest of all the rest, so nothing
/// is dropped and the limit holds.
pub fn batch(mut groups: Vec<Vec<Delivery>>, sent_last_hour: usize, max_per_hour: Option<u32>) -> Batch {
    let Some(max) = max_per_hour else { return Batch { messages: groups, ..Batch::default() } };
    let allowance = (max as usize).saturating_sub(sent_last_hour);
    if allowance == 0 {
        return Batch { held: groups.concat(), ..Batch::default() };
    }
    if groups.len() <= allowance {
        return Batch { messages: groups, ..Batch::default() };
    }
    let digest = groups.split_off(allowance - 1).concat();
    Batch { messages: groups, digest, held: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::fixtures::alert;

    fn delivery(id: &str, minutes: i64) -> Delivery {
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let mut d = Delivery::new(&alert(id), NoticeEvent::Firing, "sms", now + TimeDelta::minutes(minutes), now);
        d.id = id.to_owned();
        d
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter_up_to_an_hour() {
        let mut previous = TimeDelta::zero();
        for attempt in 1..=12 {
            let wait = backoff(attempt, "d1");
            let base = (FIRST_RETRY * 2i32.pow(attempt - 1)).min(LONGEST_WAIT);
            assert!(wait >= base * 8 / 10 && wait <= base * 12 / 10, "attempt {attempt}: {wait}");
            if base < LONGEST_WAIT {
                assert!(wait > previous, "attempt {attempt} waits longer");
            }
            previous = wait;
        }
        assert_eq!(backoff(3, "d1"), backoff(3, "d1"), "reproducible");
        assert_ne!(backoff(3, "d1"), backoff(3, "d2"), "spread across deliveries");
    }

    #[test]
    fn attempts_end_or_wait() {
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let day = TimeDelta::hours(24);
        let d = delivery("a", 0);
        assert!(
            matches!(after_attempt(d.clone(), Attempt::Sent, now, day, false), Next::Finish(r) if r.outcome == Outcome::Delivered && r.attempts == 1)
        );
        let give_up = after_attempt(d.clone(), Attempt::GiveUp { error: "400".into() }, now, day, false);
        assert!(matches!(give_up, Next::Finish(r) if matches!(r.outcome, Outcome::Failed { .. })));
        let retry = after_attempt(
            d.clone(),
            Attempt::Retry { error: "429".into(), after: Some(TimeDelta::seconds(120)) },
            now,
            day,
            false,
        );
        assert!(
            matches!(retry, Next::Reschedule(ref r) if r.not_before == now + TimeDelta::seconds(120) && r.attempts == 1)
        );
        let at_once = after_attempt(
            d.clone(),
            Attempt::Retry { error: "429".into(), after: Some(TimeDelta::zero()) },
            now,
            day,
            false,
        );
        assert!(
            matches!(at_once, Next::Reschedule(ref r) if r.not_before == now + backoff(1, "a")),
            "Retry-After: 0 does not cut the backoff short"
        );
        let forever = Attempt::Retry { error: "429".into(), after: Some(TimeDelta::seconds(100_000_000_000_000)) };
        let expired = after_attempt(d.clone(), forever, now, day, false);
        assert!(matches!(expired, Next::Finish(r) if matches!(r.outcome, Outcome::Expired { .. })));
        let late = now + TimeDelta::hours(25);
        let expired = after_attempt(d, Attempt::Retry { error: "down".into(), after: None }, late, day, false);
        assert!(matches!(expired, Next::Finish(r) if matches!(r.outcome, Outcome::Expired { .. })));
    }

    #[test]
    fn overflow_is_folded_into_one_digest() {
        let due = || (0..5).map(|i| delivery(&format!("d{i}"), i)).collect::<Vec<_>>();
        let ids = |ds: &[Delivery]| ds.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
        // (sent in the last hour, limit) → (singles, digest, held)
        let cases: [(usize, Option<u32>, usize, usize, usize); 6] = [
            (0, None, 5, 0, 0),
            (0, Some(10), 5, 0, 0),
            (0, Some(5), 5, 0, 0),
            (0, Some(3), 2, 3, 0),
            (2, Some(3), 0, 5, 0),
            (3, Some(3), 0, 0, 5),
        ];
        for (sent, max, singles, digest, held) in cases {
            let b = batch(groups(due()), sent, max);
            assert_eq!(
                (b.messages.len(), b.digest.len(), b.held.len()),
                (singles, digest, held),
                "sent {sent} max {max:?}"
            );
            let mut all = ids(&b.messages.concat());
            all.extend(ids(&b.digest));
            all.extend(ids(&b.held));
            assert_eq!(all, ids(&due()), "nothing dropped, oldest first");
        }
    }

    fn of_incident(id: &str, minutes: i64, incident: Option<&str>) -> Delivery {
        let mut d = delivery(id, minutes);
        d.alert.incident = incident.map(str::to_owned);
        d
    }

    #[test]
    fn an_incident_is_one_message_and_counts_once_against_the_limit() {
        let due = vec![
            of_incident("a1", 0, Some("i-a")),
            of_incident("b1", 1, Some("i-b")),
            of_incident("x", 2, None),
            of_incident("a2", 3, Some("i-a")),
            of_incident("y", 4, None),
            of_incident("b2", 5, Some("i-b")),
        ];
        let ids = |g: &[Delivery]| g.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(" ");
        let grouped = groups(due.clone());
        assert_eq!(grouped.iter().map(|g| ids(g)).collect::<Vec<_>>(), ["a1 a2", "b1 b2", "x", "y"]);
        // Four messages, a limit of three: two alone, the rest one digest.
        let b = batch(grouped.clone(), 0, Some(3));
        assert_eq!(b.messages.iter().map(|g| ids(g)).collect::<Vec<_>>(), ["a1 a2", "b1 b2"]);
        assert_eq!(ids(&b.digest), "x y");
        assert_eq!(batch(grouped.clone(), 0, Some(4)).messages.len(), 4, "an incident counts once");
        assert_eq!(ids(&batch(grouped, 4, Some(4)).held), "a1 a2 b1 b2 x y");
    }

    #[test]
    fn an_incident_waits_for_company_then_updates_wait_for_the_interval() {
        let (wait, interval) = (TimeDelta::seconds(30), TimeDelta::minutes(5));
        let group = [of_incident("a1", 0, Some("i-a")), of_incident("a2", 1, Some("i-a"))];
        let oldest = group[0].created_at;
        assert_eq!(ready_at(&group, None, wait, interval), oldest + wait, "the first message waits group_wait");
        let last = oldest - TimeDelta::minutes(2);
        assert_eq!(ready_at(&group, Some(last), wait, interval), last + interval, "an update waits group_interval");
        let long_ago = oldest - TimeDelta::hours(2);
        assert_eq!(ready_at(&group, Some(long_ago), wait, interval), oldest, "never before it was owed");
        let alone = [of_incident("x", 0, None)];
        assert_eq!(ready_at(&alone, Some(last), wait, interval), oldest, "no incident: at once");
    }

    #[test]
    fn a_failed_incident_is_tried_again_as_one() {
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let group: Vec<Delivery> = (0..6).map(|i| of_incident(&format!("d{i}"), 0, Some("i-a"))).collect();
        let retry = Attempt::Retry { error: "503".into(), after: None };
        let times: Vec<_> = after_group_attempt(group, &retry, now, TimeDelta::hours(24))
            .into_iter()
            .map(|n| match n {
                Next::Reschedule(d) => d.not_before,
                Next::Finish(r) => panic!("finished: {r:?}"),
            })
            .collect();
        assert!(times.iter().all(|t| *t == times[0]), "one time for all: {times:?}");
        assert!(times[0] >= now + TimeDelta::seconds(24), "{times:?}");
    }

    proptest::proptest! {
        /// Every due delivery ends in exactly one message, digest or hold, and a message never
        /// mixes incidents.
        #[test]
        fn every_due_delivery_is_in_exactly_one_message(
            incidents in proptest::collection::vec(proptest::option::of(0u8..4), 0..24),
            sent in 0usize..6,
            max in proptest::option::of(1u32..6),
        ) {
            let due: Vec<Delivery> = incidents
                .iter()
                .enumerate()
                .map(|(i, inc)| of_incident(&format!("d{i}"), (i % 5) as i64, inc.map(|n| format!("i-{n}")).as_deref()))
                .collect();
            let grouped = groups(due.clone());
            for group in &grouped {
                proptest::prop_assert!(group.iter().all(|d| d.alert.incident == group[0].alert.incident));
                proptest::prop_assert!(group[0].alert.incident.is_some() || group.len() == 1);
            }
            let b = batch(grouped.clone(), sent, max);
            let sends = b.messages.len() + usize::from(!b.digest.is_empty());
            let mut ids: Vec<String> = b.messages.concat().into_iter().chain(b.digest).chain(b.held).map(|d| d.id).collect();
            ids.sort();
            let mut want: Vec<String> = due.into_iter().map(|d| d.id).collect();
            want.sort();
            proptest::prop_assert_eq!(ids, want);
            if let Some(max) = max {
                proptest::prop_assert!(sends <= (max as usize).saturating_sub(sent), "{} sends, {} before, limit {}", sends, sent, max);
            }
        }
    }
}
