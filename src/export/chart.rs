//! The balance over time as an inline SVG line chart, written by hand, with each alert marked as a
//! vertical line at the time it first fired.
//!
//! Money never passes through a float: times map to pixels with integer math on seconds, balances
//! with `Decimal` arithmetic rounded to one decimal place, and both are written as fixed-point text.
//! Degenerate inputs (no balance, one balance, a flat balance, everything at one instant) still give
//! a valid picture with finite coordinates, because the evidence bundle is written whatever the data.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::report::escape;

const WIDTH: i64 = 800;
const HEIGHT: i64 = 300;
const LEFT: i64 = 90;
const RIGHT: i64 = 20;
const TOP: i64 = 20;
const BOTTOM: i64 = 40;

/// An alert to mark on the chart.
pub struct Marker<'a> {
    pub at: DateTime<Utc>,
    pub label: &'a str,
}

/// The chart: `points` are (observed_at, balance), oldest first; `markers` the alerts.
pub fn balance_chart(
    points: &[(DateTime<Utc>, Decimal)],
    markers: &[Marker<'_>],
    currency: &str,
    zone: chrono_tz::Tz,
) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Balance over time">"#
    );
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#999"/>"##
    );

    // The time axis spans the balances and the alerts, so every marker lands inside the plot.
    let times = points.iter().map(|(t, _)| t.timestamp()).chain(markers.iter().map(|m| m.at.timestamp()));
    let (t0, t1) = match (times.clone().min(), times.max()) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle">No balances or alerts in this range</text></svg>"#,
                LEFT + plot_w / 2,
                TOP + plot_h / 2
            );
            return svg;
        }
    };
    let x_of = |t: DateTime<Utc>| -> i64 {
        let span = i128::from(t1) - i128::from(t0);
        if span <= 0 {
            return LEFT + plot_w / 2;
        }
        let offset = i128::from(t.timestamp()) - i128::from(t0);
        let x = i128::from(LEFT) + offset * i128::from(plot_w) / span;
        i64::try_from(x).unwrap_or(LEFT).clamp(LEFT, LEFT + plot_w)
    };

    // A flat balance gets a band around it, so the line sits mid-plot instead of dividing by zero.
    let low = points.iter().map(|(_, b)| *b).min();
    let high = points.iter().map(|(_, b)| *b).max();
    if let (Some(low), Some(high)) = (low, high) {
        let (low, high) = if low == high {
            (low.saturating_sub(Decimal::ONE), high.saturating_add(Decimal::ONE))
        } else {
            (low, high)
        };
        let y_of = |b: Decimal| -> Decimal {
            let top = Decimal::from(TOP);
            // Checked all the way: a range wider than Decimal holds puts the point mid-plot, not a panic.
            let fraction = high
                .checked_sub(b)
                .zip(high.checked_sub(low))
                .and_then(|(num, den)| num.checked_div(den))
                .unwrap_or(Decimal::new(5, 1));
            let y = fraction.checked_mul(Decimal::from(plot_h)).map(|d| top + d).unwrap_or(top);
            y.clamp(top, Decimal::from(TOP + plot_h)).round_dp(1)
        };
        let coords: Vec<String> = points.iter().map(|(t, b)| format!("{},{}", x_of(*t), fixed(y_of(*b)))).collect();
        let _ = write!(
            svg,
            r##"<polyline class="balance" fill="none" stroke="#1f5fa8" stroke-width="2" points="{}"/>"##,
            coords.join(" ")
        );
        for (t, b) in points {
            let _ = write!(
                svg,
                r##"<circle class="balance-point" cx="{}" cy="{}" r="3" fill="#1f5fa8"><title>{} {} {}</title></circle>"##,
                x_of(*t),
                fixed(y_of(*b)),
                escape(&crate::text::time(*t, zone)),
                b,
                escape(currency)
            );
        }
        // The y-axis says the highest and lowest balance seen (exact, as stored).
        let (max, min) = (points.iter().map(|(_, b)| *b).max(), points.iter().map(|(_, b)| *b).min());
        for (value, y) in [(max, TOP + 4), (min, TOP + plot_h)] {
            if let Some(value) = value {
                let _ = write!(
                    svg,
                    r#"<text class="axis" x="{}" y="{y}" text-anchor="end" font-size="11">{value} {}</text>"#,
                    LEFT - 6,
                    escape(currency)
                );
            }
        }
    } else {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">No balances in this range</text>"#,
            LEFT + plot_w / 2,
            TOP + plot_h / 2
        );
    }

    for marker in markers {
        let x = x_of(marker.at);
        let _ = write!(
            svg,
            r##"<line class="alert-marker" x1="{x}" y1="{TOP}" x2="{x}" y2="{}" stroke="#c0392b" stroke-width="2" stroke-dasharray="4 3"><title>{} {}</title></line>"##,
            TOP + plot_h,
            escape(&crate::text::time(marker.at, zone)),
            escape(marker.label)
        );
    }

    // The time axis: its two ends, since every other tick would be a guess at what matters.
    let fmt = |s: i64| DateTime::from_timestamp(s, 0).map(|t| crate::text::time(t, zone)).unwrap_or_default();
    let _ = write!(
        svg,
        r#"<text class="axis" x="{LEFT}" y="{}" font-size="11">{}</text><text class="axis" x="{}" y="{}" text-anchor="end" font-size="11">{}</text>"#,
        HEIGHT - BOTTOM + 16,
        escape(&fmt(t0)),
        LEFT + plot_w,
        HEIGHT - BOTTOM + 16,
        escape(&fmt(t1))
    );
    svg.push_str("</svg>");
    svg
}

/// A pixel coordinate with exactly one decimal place.
fn fixed(d: Decimal) -> String {
    let mut d = d.round_dp(1);
    d.rescale(1);
    d.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::{dec, now};
    use chrono::TimeDelta;

    /// Every number in every coordinate attribute, checked to be a finite number inside the canvas.
    fn coordinates(svg: &str) -> Vec<f64> {
        let mut out = Vec::new();
        for attr in ["x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "points"] {
            let needle = format!(" {attr}=\"");
            for (i, _) in svg.match_indices(&needle) {
                let rest = &svg[i + needle.len()..];
                let value = &rest[..rest.find('"').unwrap_or(0)];
                for n in value.split([' ', ',']).filter(|s| !s.is_empty()) {
                    out.push(n.parse::<f64>().unwrap_or(f64::NAN));
                }
            }
        }
        out
    }

    fn assert_valid(svg: &str) {
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        let coords = coordinates(svg);
        assert!(!coords.is_empty());
        for c in coords {
            assert!(c.is_finite() && (0.0..=WIDTH as f64).contains(&c), "{c} in {svg}");
        }
    }

    #[test]
    fn no_points_is_a_valid_empty_chart() {
        let svg = balance_chart(&[], &[], "USD", chrono_tz::Tz::UTC);
        assert_valid(&svg);
        assert!(svg.contains("No balances"));
        let marker = [Marker { at: now(), label: "balance_drop" }];
        let svg = balance_chart(&[], &marker, "USD", chrono_tz::Tz::UTC);
        assert_valid(&svg);
        assert_eq!(svg.matches("class=\"alert-marker\"").count(), 1);
    }

    #[test]
    fn one_point_sits_mid_plot() {
        let svg = balance_chart(&[(now(), dec("100.00"))], &[], "USD", chrono_tz::Tz::UTC);
        assert_valid(&svg);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains(r#"cx="435" cy="140.0""#), "{svg}");
    }

    #[test]
    fn many_points_span_the_plot_and_markers_land_on_their_times() {
        let points: Vec<_> = (0..10)
            .map(|i| (now() + TimeDelta::hours(i), Decimal::from(1000 - i * 150) + Decimal::new(i * 7, 2)))
            .collect();
        let markers = [
            Marker { at: now() + TimeDelta::hours(3), label: "<script>alert(1)</script>" },
            Marker { at: now() + TimeDelta::hours(9), label: "velocity" },
        ];
        let svg = balance_chart(&points, &markers, "USD", chrono_tz::Tz::UTC);
        assert_valid(&svg);
        assert_eq!(svg.matches("<circle").count(), 10);
        assert_eq!(svg.matches("class=\"alert-marker\"").count(), 2);
        // First point top-left, last bottom-right.
        assert!(svg.contains(r#"points="90,20.0 "#), "{svg}");
        assert!(svg.contains(" 780,260.0\""), "{svg}");
        assert!(svg.contains(r#"x1="320""#), "3 of 9 hours across 690 pixels: {svg}");
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
        assert!(svg.contains("1000 USD") && svg.contains("-349.37 USD"), "{svg}");
    }

    #[test]
    fn huge_balances_stay_finite() {
        let points = [(now(), Decimal::MAX), (now() + TimeDelta::hours(1), Decimal::MIN)];
        assert_valid(&balance_chart(&points, &[], "USD", chrono_tz::Tz::UTC));
    }
}
