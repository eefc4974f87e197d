//! Datasets and evaluations (docs/evaluations.md): a dataset is a saved set of log filters, an
//! evaluation a snapshot of what the Cost, Speed and Human-feedback evaluators read off the logs
//! its datasets select when it is made.

mod dataset;
mod evaluators;

pub use dataset::{DATASET_KEYS, Dataset, DatasetFilter, MAX_FILTERS, MAX_NAME_CHARS, MAX_VALUES};
pub use evaluators::{EVALUATION_TYPES, EvaluationType, Outcome, Totals};
