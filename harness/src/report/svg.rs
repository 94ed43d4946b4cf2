//! SVG strip charts of a latency metric: one row per method and profile, every sample a dot, the
//! median a solid tick, p95 a dashed one, waits that ran out a triangle at their bound. Plain SVG
//! text (no font files, no plotting crate), readable in any browser.

use std::fmt::Write;

use super::profile_order;
use crate::{
    delivery::Method,
    measure::{Metric, Outcome, Sample, percentile},
};

const WIDTH: f64 = 760.0;
const LEFT: f64 = 190.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 56.0;
const ROW: f64 = 40.0;
const BOTTOM: f64 = 46.0;
const COLORS: [&str; 5] = ["#1b6ca8", "#c4432b", "#2e8b57", "#8a5cb8", "#b8860b"];

/// The chart of `metric` (values in ms, shown in seconds) across methods and profiles.
pub fn strip_chart(title: &str, metric: Metric, samples: &[Sample]) -> String {
    // One row per method and profile, in the report's order; one colour per method.
    let mut rows: Vec<((&str, &str), Vec<&Sample>)> = Vec::new();
    for s in samples.iter().filter(|s| s.metric == metric) {
        let key = (s.method.as_str(), s.profile.as_str());
        match rows.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(s),
            None => rows.push((key, vec![s])),
        }
    }
    rows.sort_by_key(|((method, profile), _)| (Method::order(method), profile_order(profile)));
    let mut methods: Vec<&str> = rows.iter().map(|((m, _), _)| *m).collect();
    methods.dedup();
    let max_ms = rows
        .iter()
        .flat_map(|(_, l)| l.iter().map(|s| s.value))
        .fold(0.0, f64::max);
    let x_max = nice_ceiling(max_ms / 1000.0);
    let height = TOP + ROW * rows.len().max(1) as f64 + BOTTOM;
    let x = |seconds: f64| LEFT + (WIDTH - LEFT - RIGHT) * seconds / x_max;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>
<text x="{LEFT}" y="40" fill="#555">dots: samples · solid tick: median · dashed tick: p95 · ▲: not within the bound</text>
"##,
        escape(title)
    );
    if rows.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{}">no samples of {metric}</text>"#,
            TOP + 24.0
        );
    }
    for (i, ((method, profile), list)) in rows.iter().enumerate() {
        let color = COLORS[methods.iter().position(|m| m == method).unwrap_or(0) % COLORS.len()];
        let label = format!("{method} ({profile})");
        let y = TOP + ROW * i as f64 + ROW / 2.0;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text><line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#e3e3e3"/>"##,
            LEFT - 10.0,
            y + 4.0,
            escape(&label),
            WIDTH - RIGHT
        );
        let measured: Vec<f64> = list
            .iter()
            .filter(|s| s.outcome == Outcome::Measured)
            .map(|s| s.value / 1000.0)
            .collect();
        for (n, seconds) in measured.iter().enumerate() {
            // A small fixed spread so equal values stay visible as separate samples.
            let dy = ((n % 5) as f64 - 2.0) * 3.0;
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}" fill-opacity="0.55"/>"#,
                x(*seconds),
                y + dy
            );
        }
        for (p, dash) in [(50.0, ""), (95.0, r#" stroke-dasharray="3,2""#)] {
            if let Some(v) = percentile(&measured, p) {
                let _ = writeln!(
                    svg,
                    r#"<line x1="{0:.1}" x2="{0:.1}" y1="{1}" y2="{2}" stroke="{color}" stroke-width="2"{dash}/>"#,
                    x(v),
                    y - 13.0,
                    y + 13.0
                );
            }
        }
        let bounded: Vec<f64> = list
            .iter()
            .filter(|s| s.outcome == Outcome::NotWithin)
            .map(|s| s.value / 1000.0)
            .collect();
        if let Some(bound) = bounded.iter().copied().reduce(f64::max) {
            let bx = x(bound);
            let _ = writeln!(
                svg,
                r#"<path d="M{:.1},{:.1} l6,10 h-12 z" fill="{color}"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{color}">{} not within {bound:.0} s</text>"#,
                bx,
                y - 5.0,
                bx - 10.0,
                y - 8.0,
                bounded.len()
            );
        }
    }
    let axis_y = TOP + ROW * rows.len().max(1) as f64 + 6.0;
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" x2="{}" y1="{axis_y}" y2="{axis_y}" stroke="#333"/>"##,
        WIDTH - RIGHT
    );
    for tick in 0..=5 {
        let seconds = x_max * f64::from(tick) / 5.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{axis_y}" y2="{1}" stroke="#333"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
            x(seconds),
            axis_y + 5.0,
            axis_y + 19.0,
            trim(seconds)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">seconds</text>"#,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        axis_y + 36.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `value` (1 for nothing to show).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= value)
        .unwrap_or(10.0 * magnitude)
}

fn trim(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{column_method, samples};

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(8.8), 10.0);
        assert_eq!(nice_ceiling(64.8), 100.0);
        assert_eq!(nice_ceiling(360.0), 500.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }

    #[test]
    fn every_sample_is_a_dot_and_bounds_are_triangles() {
        let svg = strip_chart("Rotation", Metric::RotationLatency, &samples());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(svg.matches("<circle").count(), 40, "20 rotations × 2 methods");
        assert_eq!(svg.matches("<path").count(), 1, "one row with a wait that ran out");
        assert!(svg.contains("1 not within 360 s"));
        let (sidecar, operator_method) = (column_method("Sidecar"), column_method("External"));
        for label in [
            format!("{sidecar} (tuned)"),
            format!("{operator_method} (tuned)"),
            format!("{operator_method} (defaults)"),
        ] {
            assert!(svg.contains(&label), "{label}");
        }
        assert!(svg.contains(">500</text>"), "axis up to the bound");
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn no_samples_says_so() {
        let svg = strip_chart("Delivery", Metric::DeliveryLatency, &[]);
        assert!(svg.contains("no samples of delivery_latency"));
    }
}
