//! The one table the benchmark prints: each figure, the floor beside it, the target, verdict.
//!
//! Design decision: rows carry their text already formatted (durations in µs or ms chosen per
//! row), so the table only aligns columns and never reinterprets a number.

use std::time::Duration;

/// One line of the table.
pub struct Row {
    measure: String,
    value: String,
    floor: String,
    floor_is: String,
    overhead: String,
    target: String,
    met: bool,
}

impl Row {
    /// A duration compared with a floor; met when the excess over the floor is under `budget`.
    pub fn duration(
        measure: &str,
        value: Duration,
        floor: Duration,
        floor_is: &str,
        target: &str,
        budget: Duration,
    ) -> Row {
        let excess = value.as_secs_f64() - floor.as_secs_f64();
        Row {
            measure: measure.into(),
            value: micros(value),
            floor: micros(floor),
            floor_is: floor_is.into(),
            overhead: signed(excess),
            target: target.into(),
            met: excess < budget.as_secs_f64(),
        }
    }

    /// Any other figure, its floor and whether its target is met.
    pub fn plain(
        measure: &str,
        value: String,
        floor: String,
        floor_is: &str,
        target: &str,
        met: bool,
    ) -> Row {
        Row {
            measure: measure.into(),
            value,
            floor,
            floor_is: floor_is.into(),
            overhead: String::new(),
            target: target.into(),
            met,
        }
    }
}

/// Microseconds below 10 ms (two decimals below 10 µs, where a tenth is a fifth of a
/// target), milliseconds from there.
fn micros(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < FINE_BELOW {
        format!("{:.2} µs", secs * 1e6)
    } else if secs < MS_FROM {
        format!("{:.1} µs", secs * 1e6)
    } else {
        format!("{:.1} ms", secs * 1e3)
    }
}

/// A difference in seconds, signed, in the unit `micros` would pick for its size.
fn signed(secs: f64) -> String {
    if secs.abs() < FINE_BELOW {
        format!("{:+.2} µs", secs * 1e6)
    } else if secs.abs() < MS_FROM {
        format!("{:+.1} µs", secs * 1e6)
    } else {
        format!("{:+.1} ms", secs * 1e3)
    }
}

/// Durations from this many seconds are shown in milliseconds.
const MS_FROM: f64 = 0.01;
/// Durations below this many seconds are shown to the hundredth of a microsecond.
const FINE_BELOW: f64 = 0.000_01;

/// The rows in order.
#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

const HEADER: [&str; 7] = [
    "measure",
    "component",
    "floor",
    "floor is",
    "overhead",
    "target",
    "met",
];

impl Table {
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// A Markdown table (readable as is in a terminal, pasteable into the README).
    pub fn render(&self) -> String {
        let lines: Vec<[String; 7]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.measure.clone(),
                    r.value.clone(),
                    r.floor.clone(),
                    r.floor_is.clone(),
                    r.overhead.clone(),
                    r.target.clone(),
                    if r.met { "yes".into() } else { "NO".into() },
                ]
            })
            .collect();
        let mut widths = HEADER.map(|h| h.chars().count());
        for line in &lines {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        push_line(&mut out, &HEADER.map(String::from), &widths);
        push_line(&mut out, &widths.map(|w| "-".repeat(w)), &widths);
        for line in &lines {
            push_line(&mut out, line, &widths);
        }
        out
    }
}

fn push_line(out: &mut String, cells: &[String; 7], widths: &[usize; 7]) {
    out.push('|');
    for (cell, width) in cells.iter().zip(widths) {
        let pad = width.saturating_sub(cell.chars().count());
        out.push(' ');
        out.push_str(cell);
        out.push_str(&" ".repeat(pad));
        out.push_str(" |");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_switch_to_milliseconds_at_ten() {
        assert_eq!(micros(Duration::from_micros(9_999)), "9999.0 µs");
        assert_eq!(micros(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(signed(-0.000_5), "-500.0 µs");
        assert_eq!(signed(0.025), "+25.0 ms");
    }

    #[test]
    fn durations_under_ten_microseconds_keep_two_decimals() {
        assert_eq!(micros(Duration::from_nanos(1_634)), "1.63 µs");
        assert_eq!(micros(Duration::from_nanos(10_000)), "10.0 µs");
        assert_eq!(signed(0.000_000_48), "+0.48 µs");
        assert_eq!(signed(-0.000_002), "-2.00 µs");
    }
}
