//! `maintenance` and `incident`: what the platform itself announces.
//!
//! Maintenance is said as it moves through its stages, each once: announced (info), `lead_time`
//! before it starts (warning), started, and completed. An unresolved incident is a condition: said
//! when it appears, resolved when the platform resolves it or stops listing it.

use chrono::{DateTime, TimeDelta, Utc};

use crate::model::{AccountRef, Finding, FindingKind, Notice, NoticeKind, Phase, Severity, Threshold, Zone};

/// Findings for the notices a source lists now, given what it listed before.
pub fn notices(
    current: &[Notice],
    previous: &[Notice],
    lead_time: TimeDelta,
    zone: Zone,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for notice in current {
        match notice.kind {
            NoticeKind::Maintenance => findings.extend(maintenance_stages(notice, lead_time, zone, now)),
            NoticeKind::Incident if notice.phase != Phase::Over => findings.push(incident(notice, now)),
            NoticeKind::Incident => {}
        }
    }
    // Maintenance that was listed and is gone is over, whether or not the page said "completed".
    for gone in previous.iter().filter(|p| p.kind == NoticeKind::Maintenance && p.phase != Phase::Over) {
        if !current.iter().any(|c| c.id == gone.id) {
            findings.push(stage(gone, "completed", Severity::Info, zone, now));
        }
    }
    findings
}

fn maintenance_stages(notice: &Notice, lead_time: TimeDelta, zone: Zone, now: DateTime<Utc>) -> Vec<Finding> {
    let mut stages = Vec::new();
    match notice.phase {
        Phase::Upcoming => {
            stages.push(stage(notice, "announced", Severity::Info, zone, now));
            if let Some(start) = notice.starts_at
                && now >= start - lead_time
            {
                let mut soon = stage(notice, "soon", Severity::Warning, zone, now);
                soon.threshold =
                    Some(Threshold { key: "lead_time".into(), value: crate::model::Duration(lead_time).to_string() });
                stages.push(soon);
            }
        }
        Phase::Active => stages.push(stage(notice, "started", Severity::Info, zone, now)),
        Phase::Over => stages.push(stage(notice, "completed", Severity::Info, zone, now)),
    }
    stages
}

fn stage(notice: &Notice, stage: &str, severity: Severity, zone: Zone, now: DateTime<Utc>) -> Finding {
    let window = match (notice.starts_at, notice.ends_at) {
        (Some(s), Some(e)) => format!(" from {} to {}", zone.time(s), zone.time(e)),
        (Some(s), None) => format!(" from {}", zone.time(s)),
        _ => String::new(),
    };
    let (title, detail) = match stage {
        "announced" => {
            (format!("Maintenance announced: {}", notice.title), format!("The platform plans maintenance{window}."))
        }
        "soon" => (
            format!("Maintenance starts soon: {}", notice.title),
            format!("Maintenance begins soon{window}: payments may fail while it lasts."),
        ),
        "started" => (format!("Maintenance under way: {}", notice.title), format!("Maintenance has started{window}.")),
        _ => (format!("Maintenance completed: {}", notice.title), "The platform's maintenance is over.".to_owned()),
    };
    let mut finding = base(notice, FindingKind::Maintenance, severity, title, detail, now);
    finding.key = format!("{}|{stage}", notice.id);
    finding
}

fn incident(notice: &Notice, now: DateTime<Utc>) -> Finding {
    let status = if notice.status.is_empty() { String::new() } else { format!(" ({})", notice.status) };
    let detail = if notice.update.is_empty() {
        format!("The platform reports an incident{status}.")
    } else {
        format!("The platform reports an incident{status}: {}", notice.update)
    };
    let mut finding = base(
        notice,
        FindingKind::Incident,
        Severity::Warning,
        format!("Platform incident: {}", notice.title),
        detail,
        now,
    );
    finding.key = notice.id.clone();
    finding
}

fn base(
    notice: &Notice,
    kind: FindingKind,
    severity: Severity,
    title: String,
    detail: String,
    now: DateTime<Utc>,
) -> Finding {
    Finding {
        severity,
        detail: match &notice.url {
            Some(url) => format!("{detail} More: {url}"),
            None => detail,
        },
        when: notice.starts_at,
        about: Some(notice.title.clone()),
        ..Finding::new(kind, AccountRef::new(notice.source.clone(), ""), title, now)
    }
}

/// Whether a maintenance window of `notices` is going on at `now`: a source that fails then is
/// expected to.
pub fn maintenance_active(notices: &[Notice], now: DateTime<Utc>) -> bool {
    notices.iter().filter(|n| n.kind == NoticeKind::Maintenance).any(|n| {
        n.phase == Phase::Active
            || (n.phase == Phase::Upcoming
                && n.starts_at.is_some_and(|s| s <= now)
                && n.ends_at.is_none_or(|e| now < e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::now;

    fn notice(id: &str, kind: NoticeKind, phase: Phase, starts_in_hours: Option<i64>) -> Notice {
        Notice {
            source: "status".into(),
            id: id.into(),
            kind,
            phase,
            status: "scheduled".into(),
            title: format!("notice {id}"),
            impact: None,
            starts_at: starts_in_hours.map(|h| now() + TimeDelta::hours(h)),
            ends_at: starts_in_hours.map(|h| now() + TimeDelta::hours(h + 2)),
            updated_at: None,
            url: None,
            update: String::new(),
            components: vec![],
        }
    }

    fn keys(findings: &[Finding]) -> Vec<String> {
        findings.iter().map(|f| format!("{} {} {}", f.kind, f.key, f.severity)).collect()
    }

    #[test]
    fn maintenance_stages_table() {
        use NoticeKind::*;
        use Phase::*;
        let lead = TimeDelta::hours(24);
        let cases: Vec<(Vec<Notice>, Vec<Notice>, Vec<&str>)> = vec![
            (vec![notice("m", Maintenance, Upcoming, Some(48))], vec![], vec!["maintenance m|announced info"]),
            (
                vec![notice("m", Maintenance, Upcoming, Some(12))],
                vec![],
                vec!["maintenance m|announced info", "maintenance m|soon warning"],
            ),
            (vec![notice("m", Maintenance, Active, Some(-1))], vec![], vec!["maintenance m|started info"]),
            (vec![notice("m", Maintenance, Over, Some(-3))], vec![], vec!["maintenance m|completed info"]),
            // Listed before, gone now: completed.
            (vec![], vec![notice("m", Maintenance, Active, Some(-1))], vec!["maintenance m|completed info"]),
            (vec![notice("i", Incident, Active, None)], vec![], vec!["incident i warning"]),
            (vec![notice("i", Incident, Over, None)], vec![notice("i", Incident, Active, None)], vec![]),
        ];
        for (current, previous, want) in cases {
            assert_eq!(keys(&notices(&current, &previous, lead, Zone::default(), now())), want, "{current:?}");
        }
    }

    #[test]
    fn a_window_is_active_while_it_lasts() {
        let upcoming = notice("m", NoticeKind::Maintenance, Phase::Upcoming, Some(1));
        assert!(!maintenance_active(std::slice::from_ref(&upcoming), now()));
        assert!(maintenance_active(std::slice::from_ref(&upcoming), now() + TimeDelta::minutes(90)));
        assert!(!maintenance_active(&[upcoming], now() + TimeDelta::hours(4)));
        assert!(maintenance_active(&[notice("m", NoticeKind::Maintenance, Phase::Active, None)], now()));
        assert!(!maintenance_active(&[notice("i", NoticeKind::Incident, Phase::Active, None)], now()));
    }
}
