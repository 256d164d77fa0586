//! What a run produces: one [`ScenarioReport`] per scenario, printed as a Markdown table and
//! written as JSON together with the machine the figures came from.

use serde::Serialize;
use serde_json::Value;

/// One figure of a scenario, with its target when the issue sets one.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// Human-readable target (`≥ 0.95`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the value meets the target (`None` without a target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<bool>,
}

impl Metric {
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value,
            unit: unit.into(),
            target: None,
            pass: None,
        }
    }

    /// Target `value ≥ min`.
    pub fn at_least(mut self, min: f64) -> Self {
        self.target = Some(format!("≥ {}", fmt_num(min)));
        self.pass = Some(self.value >= min);
        self
    }

    /// Target `value ≤ max`.
    pub fn at_most(mut self, max: f64) -> Self {
        self.target = Some(format!("≤ {}", fmt_num(max)));
        self.pass = Some(self.value <= max);
        self
    }

    /// A target that is checked elsewhere (e.g. a condition over several figures).
    pub fn target(mut self, text: impl Into<String>, pass: bool) -> Self {
        self.target = Some(text.into());
        self.pass = Some(pass);
        self
    }
}

/// The result of one scenario (or one variant of it).
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub scenario: String,
    /// What was run (sizes, settings), for reproducing it.
    pub parameters: Value,
    pub metrics: Vec<Metric>,
    /// How figures were derived, what was extrapolated, why a target was missed.
    pub notes: Vec<String>,
    /// Time series behind the figures (e.g. writes per second), for plots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Value>,
    /// `uptime`-style load averages when the scenario started and ended.
    pub load_before: [f64; 3],
    pub load_after: [f64; 3],
}

impl ScenarioReport {
    pub fn new(scenario: impl Into<String>, parameters: Value) -> Self {
        Self {
            scenario: scenario.into(),
            parameters,
            metrics: Vec::new(),
            notes: Vec::new(),
            series: None,
            load_before: load_average(),
            load_after: [0.0; 3],
        }
    }

    pub fn metric(&mut self, metric: Metric) -> &mut Self {
        self.metrics.push(metric);
        self
    }

    pub fn note(&mut self, note: impl Into<String>) -> &mut Self {
        self.notes.push(note.into());
        self
    }

    pub fn finish(mut self) -> Self {
        self.load_after = load_average();
        self
    }
}

/// The machine a run happened on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub load_at_start: [f64; 3],
    pub load_at_end: [f64; 3],
}

impl Machine {
    pub fn probe() -> Self {
        Self {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            load_at_start: load_average(),
            load_at_end: [0.0; 3],
        }
    }
}

/// The whole run, as written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub command: String,
    pub started_at: String,
    pub duration_secs: f64,
    pub machine: Machine,
    pub scenarios: Vec<ScenarioReport>,
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`); zeros where unavailable.
pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = [0.0; 3];
    for (slot, field) in out.iter_mut().zip(text.split_whitespace()) {
        *slot = field.parse().unwrap_or(0.0);
    }
    out
}

pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        return "n/a".into();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let abs = v.abs();
    if abs >= 100.0 {
        format!("{v:.0}")
    } else if abs >= 10.0 {
        format!("{v:.1}")
    } else if abs >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

fn fmt_load(l: [f64; 3]) -> String {
    format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])
}

/// The Markdown the bench prints: the machine, then one table row per metric.
pub fn markdown(run: &RunReport) -> String {
    let m = &run.machine;
    let mut out = String::new();
    out.push_str(&format!(
        "Machine: {} × {}, kernel {}; load {} at start, {} at end\n\n",
        m.nproc,
        m.cpu_model,
        m.kernel,
        fmt_load(m.load_at_start),
        fmt_load(m.load_at_end)
    ));
    out.push_str("| scenario | metric | value | unit | target | ok |\n");
    out.push_str("|---|---|---:|---|---|---|\n");
    for s in &run.scenarios {
        for metric in &s.metrics {
            let ok = match metric.pass {
                Some(true) => "yes",
                Some(false) => "**MISS**",
                None => "",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                s.scenario,
                metric.name,
                fmt_num(metric.value),
                metric.unit,
                metric.target.as_deref().unwrap_or(""),
                ok
            ));
        }
    }
    let mut notes = String::new();
    for s in &run.scenarios {
        for n in &s.notes {
            notes.push_str(&format!("- {}: {}\n", s.scenario, n));
        }
        notes.push_str(&format!(
            "- {}: load {} → {}\n",
            s.scenario,
            fmt_load(s.load_before),
            fmt_load(s.load_after)
        ));
    }
    if !notes.is_empty() {
        out.push_str("\nNotes:\n");
        out.push_str(&notes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_compare_in_the_stated_direction() {
        assert_eq!(Metric::new("a", 0.96, "").at_least(0.95).pass, Some(true));
        assert_eq!(Metric::new("a", 0.94, "").at_least(0.95).pass, Some(false));
        assert_eq!(Metric::new("a", 11.0, "ms").at_most(10.0).pass, Some(false));
    }

    #[test]
    fn numbers_print_compactly() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.9512), "0.951");
        assert_eq!(fmt_num(123.456), "123");
        assert_eq!(fmt_num(f64::NAN), "n/a");
    }
}
