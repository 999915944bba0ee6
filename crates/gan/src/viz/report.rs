//! `gan report`: one self-contained HTML page of a run (no network, no external assets):
//! its curves as inline SVG ([`super::curves_svg`]), the sample grids over epochs behind a
//! slider, the run's other pictures, the resolved config, the checkpoints, and where every
//! number comes from.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::train::{EpochMetrics, files};

/// Grids embedded at most (evenly spaced over the epochs, the last always among them), so
/// that a page of a 2,000-epoch run stays a few megabytes.
pub const MAX_GRIDS: usize = 60;

/// The file `gan report` writes by default.
pub const REPORT: &str = "report.html";

/// What the page is built from; [`RunReport::read`] fills it from a run directory.
pub struct RunReport {
    /// The run directory (with `metrics.jsonl`).
    pub dir: PathBuf,
    /// Its resolved config.
    pub config: TrainConfig,
    /// `config.toml` as written.
    pub config_text: String,
    /// `metrics.jsonl`, one entry per epoch.
    pub metrics: Vec<EpochMetrics>,
    /// `(epoch, PNG path)` of every sample grid.
    pub grids: Vec<(u64, PathBuf)>,
    /// Other PNG pictures of the run (its folder and the folder above a 2-D run's).
    pub figures: Vec<PathBuf>,
    /// `(name, step, epoch, bytes)` of every checkpoint.
    pub checkpoints: Vec<(String, u64, Option<u64>, u64)>,
    /// The scalar series of the run's TensorBoard events, `(tag, [(step, value)])`.
    pub steps: super::StepSeries,
}

/// The scalar series of a run's event files (their good records; see
/// [`crate::train::events::read_events`]).
fn step_series(run: &Path) -> Result<super::StepSeries> {
    use crate::train::events::{Kind, What, event_files, read_events};
    let mut out = super::StepSeries::new();
    for f in event_files(run) {
        for e in read_events(&f)?.0 {
            let Some(What::Summary(s)) = e.what else {
                continue;
            };
            for v in s.value {
                if let Some(Kind::SimpleValue(x)) = v.kind {
                    let at = match out.iter().position(|s| s.0 == v.tag) {
                        Some(i) => i,
                        None => {
                            out.push((v.tag, Vec::new()));
                            out.len() - 1
                        }
                    };
                    out[at].1.push((e.step as f64, x as f64));
                }
            }
        }
    }
    Ok(out)
}

/// Where the page's numbers were made: the binary and the machine.
pub struct Provenance {
    /// The binary's version.
    pub version: String,
    /// The source commit it was built from, when known.
    pub commit: Option<String>,
    /// The CPU model and logical cores.
    pub cpu: String,
}

impl Provenance {
    /// This binary's version and commit, and this machine's CPU (from `/proc/cpuinfo`).
    pub fn here(version: &str, commit: Option<&str>) -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown CPU", |(_, m)| m.trim())
            .to_string();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        Self {
            version: version.into(),
            commit: commit.map(str::to_string),
            cpu: format!("{model}, {cores} logical cores"),
        }
    }
}

fn pngs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "png"))
        .collect();
    v.sort();
    v
}

impl RunReport {
    /// Reads the run in `dir`: an image run's directory, or a 2-D run's output (its training
    /// run is `dir/train`).
    pub fn read(dir: &Path) -> Result<Self> {
        let (run, outer) = if dir.join(files::METRICS_JSONL).is_file() {
            (dir.to_path_buf(), None)
        } else if dir.join("train").join(files::METRICS_JSONL).is_file() {
            (dir.join("train"), Some(dir.to_path_buf()))
        } else {
            return Err(Error::Invalid(format!(
                "{}: not a run directory (no {} in it or in its train/ folder)",
                dir.display(),
                files::METRICS_JSONL
            )));
        };
        let cfg_path = run.join(files::CONFIG);
        let config_text = fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let config =
            TrainConfig::from_toml_str(&config_text, &[], &cfg_path.display().to_string())?;
        let metrics = super::read_metrics(&run.join(files::METRICS_JSONL))?;
        let grids = pngs_in(&run.join(files::SAMPLES))
            .into_iter()
            .filter_map(|p| {
                let stem = p.file_stem()?.to_str()?;
                let e = stem.strip_prefix("epoch-")?.parse::<u64>().ok()?;
                Some((e, p))
            })
            .collect();
        let mut figures = pngs_in(&run);
        if let Some(o) = &outer {
            figures.extend(pngs_in(o));
        }
        let checkpoints = crate::checkpoint::list_checkpoints(&run.join(files::CHECKPOINTS))
            .into_iter()
            .rev()
            .map(|(step, p)| {
                let bytes = fs::read_dir(&p)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum();
                let epoch = crate::train::read_state(&p).ok().map(|s| s.progress.epoch);
                let name = p
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into());
                (name, step, epoch, bytes)
            })
            .collect();
        let steps = step_series(&run)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            config_text,
            metrics,
            grids,
            figures,
            checkpoints,
            steps,
        })
    }

    /// The grids the page embeds: at most [`MAX_GRIDS`], evenly spaced, the last included.
    pub fn shown_grids(&self) -> Vec<&(u64, PathBuf)> {
        let n = self.grids.len();
        if n <= MAX_GRIDS {
            return self.grids.iter().collect();
        }
        let mut idx: Vec<usize> = (0..MAX_GRIDS)
            .map(|i| i * (n - 1) / (MAX_GRIDS - 1))
            .collect();
        idx.dedup();
        idx.into_iter().map(|i| &self.grids[i]).collect()
    }

    /// The page. `refresh`: seconds after which the browser reloads it (`--watch`).
    pub fn html(&self, prov: &Provenance, refresh: Option<u64>) -> Result<String> {
        let c = &self.config;
        let mut h = String::new();
        let title = format!("{}: {}", esc(&c.name), esc(&self.dir.display().to_string()));
        let w = |h: &mut String, s: &str| h.push_str(s);
        w(
            &mut h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        );
        if let Some(s) = refresh {
            let _ = write!(h, "<meta http-equiv=\"refresh\" content=\"{s}\">");
        }
        let _ = write!(
            h,
            "<title>gan report: {title}</title><style>{CSS}</style></head><body>"
        );
        let done = self.metrics.last().map_or(0, |m| m.epoch);
        let _ = write!(
            h,
            "<h1>{title}</h1><p id=\"progress\">{done} of {} epochs, step {}{}</p>",
            c.epochs,
            self.metrics.last().map_or(0, |m| m.step),
            if refresh.is_some() {
                " (this page reloads itself while the run trains)"
            } else {
                ""
            }
        );

        // curves
        w(&mut h, "<h2>Curves</h2>");
        let has_steps = self.steps.iter().any(|s| s.0 == "loss/d");
        if self.metrics.is_empty() {
            w(&mut h, "<p>No epoch has finished yet.</p>");
        } else if self.metrics.len() == 1 && has_steps {
            w(
                &mut h,
                "<p>One epoch so far: its steps are drawn below.</p>",
            );
        } else {
            let panels = super::curves::panel_count(&self.metrics) as u32;
            let svg = super::curves_svg(&self.metrics, 340 * panels, 300)?;
            let _ = write!(
                h,
                "<div id=\"curves\" data-epochs=\"{}\">{svg}</div><p class=\"note\">Per epoch: \
                 the means of the losses and of D's outputs over its steps; the quality \
                 metrics at the epochs that computed them (provenance below).</p>",
                self.metrics.len()
            );
        }

        if has_steps {
            let svg = super::step_curves_svg(&self.steps, 1000, 300)?;
            let _ = write!(
                h,
                "<div id=\"step-curves\">{svg}</div><p class=\"note\">Per step, from the \
                 run's TensorBoard events: the means over each window of {} steps.</p>",
                self.config.tensorboard_every
            );
        }

        // grids
        w(&mut h, "<h2>Samples over epochs</h2>");
        let shown = self.shown_grids();
        if shown.is_empty() {
            w(
                &mut h,
                "<p>No sample grids (the data are not images, or no epoch has finished).</p>",
            );
        } else {
            let last = shown.len() - 1;
            let _ = write!(
                h,
                "<p>The same noise every epoch{}. Epoch <span id=\"grid-epoch\">{}</span></p>\
                 <input id=\"grid-slider\" type=\"range\" min=\"0\" max=\"{last}\" value=\"{last}\" \
                 aria-label=\"epoch\"><div id=\"grids\">",
                if shown.len() < self.grids.len() {
                    format!(
                        ", {} of the {} grids, evenly spaced",
                        shown.len(),
                        self.grids.len()
                    )
                } else {
                    String::new()
                },
                shown[last].0
            );
            for (i, (epoch, path)) in shown.iter().enumerate() {
                let _ = write!(
                    h,
                    "<img class=\"grid\" data-epoch=\"{epoch}\" alt=\"samples after epoch {epoch}\" \
                     src=\"{}\"{}>",
                    data_uri(path)?,
                    if i == last { "" } else { " hidden" }
                );
            }
            w(&mut h, "</div>");
        }

        // other pictures
        if !self.figures.is_empty() {
            w(&mut h, "<h2>Figures</h2>");
            for f in &self.figures {
                let name = f
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into());
                let _ = write!(
                    h,
                    "<figure><img class=\"figure\" alt=\"{n}\" src=\"{}\"><figcaption>{n}</figcaption></figure>",
                    data_uri(f)?,
                    n = esc(&name)
                );
            }
        }

        // provenance
        w(&mut h, "<h2>Provenance</h2><table id=\"provenance\">");
        let last_sigma = self.metrics.iter().rev().find_map(|m| m.parzen_sigma);
        let rows = [
            ("seed", c.seed.to_string()),
            ("binary", format!("gan {}", prov.version)),
            (
                "commit",
                prov.commit
                    .clone()
                    .unwrap_or_else(|| "unknown (built outside git)".into()),
            ),
            ("CPU (this page)", prov.cpu.clone()),
            ("engine", format!("{:?}", c.engine)),
            (
                "Parzen (nats)",
                format!(
                    "{} samples as kernels, sigma chosen on 1,000 validation images{}; the \
                     estimate is over the test images, with its standard error",
                    c.eval_samples,
                    last_sigma.map_or(String::new(), |s| format!(" (last: {s})"))
                ),
            ),
            (
                "FID, precision, recall",
                format!(
                    "extractor: the shipped LeNet's penultimate layer (128-d, not Inception; \
                     MNIST and Fashion-MNIST only); FID: n_fake = {} samples, n_real = the test \
                     images; precision and recall: the first {} of each, k = {}",
                    c.eval_samples,
                    crate::train::PR_POINTS,
                    crate::train::PR_K
                ),
            ),
            (
                "valid_ll",
                "the authors' monitor_ll: 100 samples, sigma 0.2, the validation images".into(),
            ),
            (
                "evaluated",
                if c.eval_every == 0 {
                    "never during training (eval_every = 0)".into()
                } else {
                    format!("every {} epochs", c.eval_every)
                },
            ),
        ];
        for (k, v) in rows {
            let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
        }
        w(&mut h, "</table>");

        // checkpoints
        w(
            &mut h,
            "<h2>Checkpoints</h2><table id=\"checkpoints\"><tr><th>name</th><th>step</th><th>epoch</th><th>size</th></tr>",
        );
        for (name, step, epoch, bytes) in &self.checkpoints {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{step}</td><td>{}</td><td>{:.1} MB</td></tr>",
                esc(name),
                epoch.map_or("?".into(), |e| e.to_string()),
                *bytes as f64 / 1e6
            );
        }
        w(&mut h, "</table>");

        // config
        let _ = write!(
            h,
            "<h2>Config</h2><pre id=\"config\">{}</pre>",
            esc(&self.config_text)
        );
        let _ = writeln!(h, "<script>{SCRIPT}</script></body></html>");
        Ok(h)
    }
}

/// A PNG file as a `data:` URI.
fn data_uri(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font-family:sans-serif;max-width:1800px;margin:1em auto;padding:0 1em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.5em}\
#curves svg{max-width:100%;height:auto}img.grid{image-rendering:pixelated;width:420px}\
#grid-slider{width:420px}img.figure{max-width:100%}table{border-collapse:collapse}\
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\
pre{background:#f6f6f6;padding:8px;overflow:auto}.note{color:#555;font-size:.9em}";

const SCRIPT: &str = "(function(){var s=document.getElementById('grid-slider');if(!s)return;\
var g=document.querySelectorAll('img.grid'),e=document.getElementById('grid-epoch');\
s.addEventListener('input',function(){for(var i=0;i<g.length;i++){g[i].hidden=(i!=s.value);}\
e.textContent=g[s.value].dataset.epoch;});})();";

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with_grids(n: u64) -> RunReport {
        RunReport {
            dir: PathBuf::from("r"),
            config: TrainConfig::preset("mnist-fast", &[]).expect("preset"),
            config_text: String::new(),
            metrics: Vec::new(),
            grids: (1..=n)
                .map(|e| (e, PathBuf::from(format!("{e}.png"))))
                .collect(),
            figures: Vec::new(),
            checkpoints: Vec::new(),
            steps: Vec::new(),
        }
    }

    #[test]
    fn a_long_run_shows_evenly_spaced_grids_from_the_first_to_the_last() {
        let r = report_with_grids(2000);
        let e: Vec<u64> = r.shown_grids().iter().map(|g| g.0).collect();
        assert_eq!(e.len(), MAX_GRIDS);
        assert_eq!((e[0], e[MAX_GRIDS - 1]), (1, 2000));
        let gaps: Vec<u64> = e.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|&g| (33..=34).contains(&g)), "{gaps:?}");
        assert_eq!(report_with_grids(7).shown_grids().len(), 7);
    }

    #[test]
    fn a_damaged_metrics_line_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = TrainConfig::preset("mnist-fast", &[]).expect("preset");
        fs::write(dir.path().join(files::CONFIG), cfg.to_toml().expect("toml")).expect("write");
        fs::write(dir.path().join(files::METRICS_JSONL), "{}\n").expect("write");
        let e = RunReport::read(dir.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("metrics.jsonl") && e.contains("line 1"), "{e}");
    }
}
