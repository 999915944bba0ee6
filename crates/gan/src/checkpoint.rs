//! Checkpoints: G and D weights as safetensors in PyTorch's layout (so `torch` /
//! `safetensors` load them as `nn.Linear` weights), both optimizers' velocities in the same
//! layout, and a JSON state file with the step, epoch, random stream and a CRC-32 of every
//! file.
//!
//! Writes are atomic: files go into a temporary directory, are fsynced, and the directory is
//! renamed into place; only then are old checkpoints pruned. Loading verifies every checksum
//! and falls back to the newest checkpoint that verifies.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

use crate::error::{Error, Result};

/// CRC-32 of a byte string (the zlib polynomial, via flate2).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

/// A module serialised to safetensors bytes (PyTorch layout: Linear weights as [out, in]).
pub fn module_to_bytes<M: Module>(module: &M, path_for_errors: &Path) -> Result<Vec<u8>> {
    // burn-store's default metadata lives in a HashMap whose order changes from run to run;
    // without it, identical weights give byte-identical files (and checksums).
    let mut store = SafetensorsStore::from_bytes(None)
        .clear_metadata()
        .with_to_adapter(BurnToPyTorchAdapter);
    // `valid()` first folds the pending update of every batch-norm running statistic into
    // its value (burn's `RunningState` keeps the newest update aside until the next one, and
    // saving reads only the folded value): without it a checkpoint holds the statistics of
    // one step earlier and a resumed run's samples differ from an uninterrupted run's
    module
        .valid()
        .save_into(&mut store)
        .map_err(|e| Error::checkpoint(path_for_errors, format!("cannot serialise: {e}")))?;
    store
        .get_bytes()
        .map_err(|e| Error::checkpoint(path_for_errors, format!("cannot serialise: {e}")))
}

/// Loads safetensors bytes (PyTorch layout) into `module`, requiring every tensor to be
/// present with the right shape.
pub fn module_from_bytes<M: Module>(module: &mut M, bytes: Vec<u8>, path: &Path) -> Result<()> {
    let mut store =
        SafetensorsStore::from_bytes(Some(bytes)).with_from_adapter(PyTorchToBurnAdapter);
    let result = module
        .load_from(&mut store)
        .map_err(|e| Error::checkpoint(path, format!("cannot read weights: {e}")))?;
    check_applied(&result, path, |_| false)
}

/// Refuses a load that left errors, missing tensors, or tensors of the file the model does
/// not have (except those `ignorable` names), naming `path`.
pub fn check_applied(
    result: &burn::store::ApplyResult,
    path: &Path,
    ignorable: fn(&str) -> bool,
) -> Result<()> {
    if !result.errors.is_empty() {
        return Err(Error::checkpoint(
            path,
            format!("weights do not fit the model: {:?}", result.errors),
        ));
    }
    if !result.missing.is_empty() {
        let names: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
        return Err(Error::checkpoint(
            path,
            format!("missing tensors: {}", names.join(", ")),
        ));
    }
    let unused: Vec<&str> = result
        .unused
        .iter()
        .map(String::as_str)
        .filter(|n| !ignorable(n))
        .collect();
    if !unused.is_empty() {
        return Err(Error::checkpoint(
            path,
            format!("tensors the model does not have: {}", unused.join(", ")),
        ));
    }
    Ok(())
}

/// Writes `bytes` to `path` and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// The name of the checkpoint directory of global step `step`.
pub fn checkpoint_name(step: u64) -> String {
    format!("step-{step:010}")
}

/// Checkpoint directories under `dir`, newest (highest step) first.
pub fn list_checkpoints(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let step = name.strip_prefix("step-")?.parse::<u64>().ok()?;
            e.path().is_dir().then_some((step, e.path()))
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.0));
    out
}

/// Writes a set of named files as checkpoint `step` under `dir` atomically, then keeps only
/// the newest `keep` checkpoints. `manifest` is given the CRC-32 of each file and must
/// return the state file's contents.
pub fn write_checkpoint(
    dir: &Path,
    step: u64,
    files: &[(&str, Vec<u8>)],
    keep: usize,
    manifest: impl FnOnce(Vec<(String, u32)>) -> Result<Vec<u8>>,
) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let final_dir = dir.join(checkpoint_name(step));
    let tmp = dir.join(format!(".tmp-{}", checkpoint_name(step)));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let written = (|| {
        let mut sums = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            write_synced(&tmp.join(name), bytes)?;
            sums.push((name.to_string(), crc32(bytes)));
        }
        write_synced(&tmp.join(STATE_FILE), &manifest(sums)?)
    })();
    if let Err(e) = written {
        // a full disk, say: leave no half-written directory behind (the older checkpoints
        // were never touched)
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    for (_, old) in list_checkpoints(dir).into_iter().skip(keep) {
        let _ = fs::remove_dir_all(old);
    }
    Ok(final_dir)
}

/// The state file of a checkpoint directory.
pub const STATE_FILE: &str = "state.json";

/// Reads `name` from checkpoint `ckpt` and checks it against its recorded CRC-32.
pub fn read_verified(ckpt: &Path, name: &str, expected_crc: u32) -> Result<Vec<u8>> {
    let path = ckpt.join(name);
    let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let got = crc32(&bytes);
    if got != expected_crc {
        return Err(Error::checkpoint(
            &path,
            format!(
                "checksum mismatch (expected {expected_crc:08x}, file has {got:08x}): the file is damaged"
            ),
        ));
    }
    Ok(bytes)
}
