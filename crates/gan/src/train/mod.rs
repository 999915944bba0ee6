//! Training: Algorithm 1 (and the authors' simultaneous schedule), run directories,
//! checkpoints and resumption.

mod gan;
mod run;

pub use gan::{Gan, Progress, StepStats, check_finite, grid_labels, tensor_from};
pub use run::{
    CheckpointState, EpochMetrics, EvalData, Observer, Outcome, Run, Silent, StepReport,
    checkpoint_image_shape, files, load_checkpoint, load_latest, read_run_config,
};
