//! The evaluation types (Cost, Speed, Human feedback) and how each turns the aggregates of a
//! dataset's logs into a result.

use serde_json::{Value, json};

use crate::convert::count_as_f64;
use crate::store::logs::LogPageInfo;

/// One evaluator, as `GET …/evaluation-types` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvaluationType {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cost,
    Speed,
    Feedback,
}

pub const EVALUATION_TYPES: [EvaluationType; 3] = [
    EvaluationType {
        id: "cost",
        name: "Cost",
        description: "Average cost of a request with a known cost, in USD",
        kind: Kind::Cost,
    },
    EvaluationType {
        id: "speed",
        name: "Speed",
        description: "Average duration of a request, in milliseconds",
        kind: Kind::Speed,
    },
    EvaluationType {
        id: "human-feedback",
        name: "Human feedback",
        description: "Share of the rated requests rated thumbs up, in percent",
        kind: Kind::Feedback,
    },
];

/// The evaluators are built in: they have always existed, as far as the API shows.
const BUILT_IN_AT: &str = "2026-01-01T00:00:00Z";

/// Result statuses (docs/evaluations.md).
const COMPLETED: u8 = 1;
const NO_DATA: u8 = 2;

impl EvaluationType {
    pub fn find(id: &str) -> Option<EvaluationType> {
        EVALUATION_TYPES.into_iter().find(|t| t.id == id)
    }

    pub fn to_json(self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": match self.kind {
                Kind::Cost => "cost",
                Kind::Speed => "speed",
                Kind::Feedback => "feedback",
            },
            "enable": true,
            "mandatory": false,
            "created_at": BUILT_IN_AT,
            "modified_at": BUILT_IN_AT,
        })
    }

    /// What this evaluator reads off `totals`.
    pub fn evaluate(self, totals: &Totals) -> Outcome {
        let (value, counted) = match self.kind {
            Kind::Cost => (
                average(totals.cost_sum, totals.cost_count).map(|v| format!("{v:.6}")),
                totals.cost_count,
            ),
            Kind::Speed => (
                average(totals.duration_sum, totals.duration_count).map(|v| format!("{v:.1}")),
                totals.duration_count,
            ),
            Kind::Feedback => {
                let rated = totals.feedback_up.saturating_add(totals.feedback_down);
                (
                    average(count_as_f64(totals.feedback_up) * 100.0, rated)
                        .map(|v| format!("{v:.1}")),
                    rated,
                )
            }
        };
        match value {
            Some(result) => Outcome {
                result,
                status: COMPLETED,
                status_description: "completed".into(),
                total_logs: counted,
            },
            None => Outcome {
                result: String::new(),
                status: NO_DATA,
                status_description: match self.kind {
                    Kind::Cost => "no log has a cost",
                    Kind::Speed => "no log has a duration",
                    Kind::Feedback => "no log has feedback",
                }
                .into(),
                total_logs: 0,
            },
        }
    }
}

fn average(sum: f64, count: u64) -> Option<f64> {
    (count > 0).then(|| sum / count_as_f64(count))
}

/// The aggregates of every dataset of an evaluation, added up (a log two datasets select counts
/// once for each).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub logs: u64,
    pub cost_sum: f64,
    pub cost_count: u64,
    pub duration_sum: f64,
    pub duration_count: u64,
    pub feedback_up: u64,
    pub feedback_down: u64,
}

impl Totals {
    pub fn add(&mut self, info: &LogPageInfo) {
        self.logs = self.logs.saturating_add(info.total_count);
        self.cost_sum += info.cost_sum.unwrap_or(0.0);
        self.cost_count = self.cost_count.saturating_add(info.cost_count);
        self.duration_sum += info.duration_sum.unwrap_or(0.0);
        self.duration_count = self.duration_count.saturating_add(info.duration_count);
        self.feedback_up = self.feedback_up.saturating_add(info.feedback_up);
        self.feedback_down = self.feedback_down.saturating_add(info.feedback_down);
    }
}

/// One evaluator's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub result: String,
    pub status: u8,
    pub status_description: String,
    /// The logs the result is made of (those with a cost, a duration, a rating).
    pub total_logs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_evaluator_reads_its_aggregate_across_datasets() {
        let mut totals = Totals::default();
        totals.add(&LogPageInfo {
            total_count: 3,
            cost_sum: Some(0.3),
            cost_count: 2,
            duration_sum: Some(300.0),
            duration_count: 3,
            feedback_up: 1,
            feedback_down: 0,
            ..LogPageInfo::default()
        });
        totals.add(&LogPageInfo {
            total_count: 1,
            cost_sum: Some(0.1),
            cost_count: 1,
            duration_sum: Some(500.0),
            duration_count: 1,
            feedback_up: 1,
            feedback_down: 2,
            ..LogPageInfo::default()
        });
        let outcome = |id| {
            EvaluationType::find(id)
                .expect("built in")
                .evaluate(&totals)
        };
        assert_eq!(outcome("cost").result, "0.133333");
        assert_eq!(outcome("cost").total_logs, 3);
        assert_eq!(outcome("speed").result, "200.0");
        assert_eq!(outcome("human-feedback").result, "50.0");
        assert_eq!(outcome("human-feedback").total_logs, 4);
        assert_eq!(totals.logs, 4);
    }

    #[test]
    fn no_data_is_said_not_shown_as_zero() {
        let outcome = EvaluationType::find("human-feedback")
            .expect("built in")
            .evaluate(&Totals::default());
        assert_eq!(
            (outcome.result.as_str(), outcome.status, outcome.total_logs),
            ("", NO_DATA, 0)
        );
    }
}
