//! Training: Algorithm 1 (and the authors' simultaneous schedule), run directories,
//! checkpoints and resumption, TensorBoard event files.

pub mod events;
mod family;
mod gan;
pub mod lock;
mod run;

pub use family::{Dcgan, Family, Mlp, Sampler, load_sampler, model_name};
pub use gan::{
    Gan, Progress, StepStats, Weights, check_finite, grid_label, grid_labels, images_from,
    tensor_from,
};
pub(crate) use run::read_state;
pub use run::{
    CheckpointState, EpochMetrics, EvalData, Loaded, Observer, Outcome, PR_K, PR_POINTS, Run,
    RunKind, Silent, StepReport, check_image_run, checkpoint_image_shape, files, load_checkpoint,
    load_checkpoint_as, load_checkpoint_into, load_latest, load_latest_as, load_latest_into,
    plural, read_run_config, run_kind,
};
