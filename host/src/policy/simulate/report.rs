//! The simulator's result: one row per decision, printed as a timeline table; rows whose
//! decision differs from the scenario's expectation are marked and make `failed()` true.

use std::fmt;
use std::time::Duration;

use super::scenario::fmt_t;

/// One decision (or one skipped event) of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub at: Duration,
    /// The server, or `global:KEY` for a reload change of a top-level key.
    pub target: String,
    /// What happened: `init_timeout`, `ready`, `reload modified [env]`...
    pub event: String,
    pub attempt: Option<u32>,
    pub consecutive: Option<u32>,
    /// `keep`, `DISABLE`, `apply`, `ignore`, `-` (no decision: ready, or server disabled).
    pub decision: String,
    pub backoff: Option<Duration>,
    pub reason: String,
    /// What the expectation wanted, for each check that failed.
    pub mismatches: Vec<String>,
}

impl Row {
    /// A row with no decision yet: the caller fills in what the step produced.
    pub fn blank(at: Duration, target: impl Into<String>, event: impl Into<String>) -> Row {
        Row {
            at,
            target: target.into(),
            event: event.into(),
            attempt: None,
            consecutive: None,
            decision: "-".into(),
            backoff: None,
            reason: String::new(),
            mismatches: Vec::new(),
        }
    }
}

/// A whole simulation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Lines printed under the table (fallbacks, load notes).
    pub notes: Vec<String>,
    /// A problem outside any row that must fail the run (e.g. a decision fell back).
    pub run_failure: bool,
}

impl Report {
    /// True when any expectation was not met.
    pub fn failed(&self) -> bool {
        self.run_failure || self.rows.iter().any(|r| !r.mismatches.is_empty())
    }

    pub fn mismatch_count(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| !r.mismatches.is_empty())
            .count()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn fmt_backoff(d: Option<Duration>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d.as_millis() < 1000 => format!("{}ms", d.as_millis()),
        Some(d) => {
            let ms = d.as_millis();
            if ms % 1000 == 0 {
                fmt_t(d)
            } else {
                format!("{ms}ms")
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEAD: [&str; 9] = [
            "",
            "t",
            "server",
            "event",
            "attempt",
            "consecutive",
            "decision",
            "backoff",
            "reason",
        ];
        let cells: Vec<[String; 9]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    if r.mismatches.is_empty() { " " } else { "✗" }.to_string(),
                    fmt_t(r.at),
                    r.target.clone(),
                    r.event.clone(),
                    opt(r.attempt),
                    opt(r.consecutive),
                    r.decision.clone(),
                    fmt_backoff(r.backoff),
                    r.reason.clone(),
                ]
            })
            .collect();
        let mut width = HEAD.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, row: &[String]| -> fmt::Result {
            let mut out = String::new();
            for (i, (c, w)) in row.iter().zip(width).enumerate() {
                if i + 1 == row.len() {
                    out.push_str(c);
                } else {
                    out.push_str(c);
                    out.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
                }
            }
            writeln!(f, "{}", out.trim_end())
        };
        line(f, &HEAD.map(String::from))?;
        for (row, r) in cells.iter().zip(&self.rows) {
            line(f, row)?;
            for m in &r.mismatches {
                writeln!(f, "    ✗ expected {m}")?;
            }
        }
        for n in &self.notes {
            writeln!(f, "{n}")?;
        }
        let checked = self.mismatch_count();
        if self.failed() {
            writeln!(
                f,
                "FAILED: {checked} step(s) differ from the scenario's expectations"
            )
        } else {
            writeln!(f, "ok: every expectation met")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(decision: &str, mismatches: Vec<String>) -> Row {
        Row {
            at: Duration::from_secs(93),
            target: "A".into(),
            event: "init_timeout".into(),
            attempt: Some(3),
            consecutive: Some(3),
            decision: decision.into(),
            backoff: Some(Duration::from_millis(2_500)),
            reason: String::new(),
            mismatches,
        }
    }

    #[test]
    fn table_marks_mismatches_and_says_failed() {
        let ok = Report {
            rows: vec![row("keep", vec![])],
            ..Report::default()
        };
        let text = ok.to_string();
        assert!(!ok.failed());
        assert!(
            text.contains("1m33s") && text.contains("2500ms") && text.contains("ok:"),
            "{text}"
        );
        assert!(!text.contains('✗'));

        let bad = Report {
            rows: vec![
                row("keep", vec![]),
                row("keep", vec!["disable: true".into()]),
            ],
            ..Report::default()
        };
        let text = bad.to_string();
        assert!(bad.failed());
        assert!(
            text.contains("✗ expected disable: true") && text.contains("FAILED: 1 step"),
            "{text}"
        );

        let run_failure = Report {
            run_failure: true,
            ..ok
        };
        assert!(run_failure.failed());
    }
}
