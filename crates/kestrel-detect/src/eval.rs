//! `kestrel eval adfa`: the sequence models on ADFA-LD's protocol. Learn on the training normals only,
//! score every validation normal and every attack, report ROC AUC and the detection rate at 1 % and 5 %
//! false alarms — the thresholds taken from the validation normals, never from attacks.

use crate::adfa::{Dataset, Trace};
use crate::metrics::{at_false_alarm_rate, auc, bootstrap_interval, Interval, OperatingPoint};
use crate::neural::{NeuralConfig, NeuralError, NeuralLm};
use crate::seq::{NgramLm, NgramSet};
use crate::suffix::SuffixModel;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// One model's results.
#[derive(Debug, Clone, Serialize)]
pub struct ModelResult {
    /// The model (`stide-6`, `lm-5`, `ensemble`).
    pub model: String,
    /// What it scores.
    pub description: String,
    /// Wall time to learn it and score every trace (the fast models are learnt and scored together: each
    /// shows their total, calibration included).
    pub seconds: f64,
    /// ROC AUC, validation normals against attacks.
    pub auc: f64,
    /// Detection rate at 1 % false alarms on the validation normals.
    pub dr_at_1pct_far: f64,
    /// Detection rate at 5 % false alarms.
    pub dr_at_5pct_far: f64,
    /// 95 % bootstrap intervals of the three figures ([`BOOTSTRAP_RESAMPLES`] resamples: validation normals one
    /// by one, attacks a run at a time): how far another sample of the same kinds of trace could move them.
    pub ci95: Intervals,
    /// The operating points behind the two rates.
    pub operating_points: Vec<OperatingPoint>,
    /// Per attack family: traces, and detected at 5 % false alarms.
    pub families: BTreeMap<String, FamilyResult>,
}

/// Resamples behind each 95 % interval.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// A figure of normal and attack scores (AUC, a detection rate).
type Figure = dyn Fn(&[f64], &[f64]) -> Option<f64> + Sync;

/// The 95 % intervals of a model's figures (`None` where the data give none).
#[derive(Debug, Clone, Serialize)]
pub struct Intervals {
    /// Of the ROC AUC.
    pub auc: Option<Interval>,
    /// Of the detection rate at 1 % false alarms.
    pub dr_at_1pct_far: Option<Interval>,
    /// Of the detection rate at 5 % false alarms.
    pub dr_at_5pct_far: Option<Interval>,
}

/// How one attack family fared.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyResult {
    /// Attack traces of the family.
    pub traces: usize,
    /// Of those, detected at the 5 % false-alarm threshold.
    pub detected_at_5pct_far: usize,
    /// Attack runs of the family (its folders, `<Family>_<run>`: every trace recorded during one attack,
    /// the processes the attack did not touch included).
    pub runs: usize,
    /// Runs with at least one trace above the 1 % false-alarm threshold: the attack raised an alarm. (Not
    /// the target, which is per trace; the per-trace false-alarm rate still holds for normal traces.)
    pub runs_alarmed_at_1pct_far: usize,
    /// The same at the 5 % threshold.
    pub runs_alarmed_at_5pct_far: usize,
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct AdfaReport {
    /// Always `kestrel.eval.adfa/v1`.
    pub schema: &'static str,
    /// Traces in each part.
    pub traces: BTreeMap<&'static str, usize>,
    /// The detector kestrel uses (the first of `models`): its figures, repeated at the top.
    pub detector: String,
    /// ROC AUC of the detector.
    pub auc: f64,
    /// Its detection rate at 1 % false alarms.
    pub dr_at_1pct_far: f64,
    /// Its detection rate at 5 % false alarms.
    pub dr_at_5pct_far: f64,
    /// The 95 % intervals of the detector's figures.
    pub ci95: Intervals,
    /// Every model evaluated, the detector first.
    pub models: Vec<ModelResult>,
}

/// Parameters of the evaluation.
#[derive(Debug, Clone)]
pub struct AdfaConfig {
    /// STIDE's n.
    pub stide_n: usize,
    /// The language model's order.
    pub lm_order: usize,
    /// Folds of the training data for calibrating the ensemble (each model's normal scores are those of
    /// traces it did not learn from).
    pub folds: usize,
    /// The neural language model, or `None` to leave it out (it takes most of the evaluation's time).
    pub neural: Option<NeuralConfig>,
}

impl Default for AdfaConfig {
    fn default() -> Self {
        AdfaConfig { stide_n: 6, lm_order: 5, folds: 5, neural: Some(NeuralConfig::default()) }
    }
}

/// The fast models: each scores a trace, the ensemble combines them.
const FAST: usize = 3;

#[derive(Debug, Clone)]
struct Models {
    stide: NgramSet,
    lm: NgramLm,
    suffix: SuffixModel,
}

impl Models {
    fn learn(cfg: &AdfaConfig, traces: &[&[u16]]) -> Models {
        Models {
            stide: NgramSet::learn(cfg.stide_n, traces.iter().copied()),
            lm: NgramLm::learn(cfg.lm_order, traces.iter().copied()),
            suffix: SuffixModel::learn(traces.iter().copied()),
        }
    }

    /// [STIDE's unseen share, the language model's mean surprise, the mean inverse match length].
    fn scores(&self, calls: &[u16]) -> [f64; FAST] {
        let s = self.lm.surprises(calls);
        let mean = if s.is_empty() { 0.0 } else { s.iter().sum::<f64>() / s.len() as f64 };
        [self.stide.score(calls), mean, self.suffix.score(calls)]
    }
}

/// Each model's scores of normal traces it never learned from, sorted: what its score of a new trace is
/// compared against to make scores of different models comparable.
#[derive(Debug, Clone)]
struct Calibration {
    normal: [Vec<f64>; FAST],
}

impl Calibration {
    fn from_folds(cfg: &AdfaConfig, training: &[&[u16]]) -> Calibration {
        let folds = cfg.folds.clamp(2, training.len().max(2));
        let per_fold: Vec<Vec<[f64; FAST]>> = (0..folds)
            .into_par_iter()
            .map(|k| {
                let learn: Vec<&[u16]> =
                    training.iter().enumerate().filter(|(i, _)| i % folds != k).map(|(_, t)| *t).collect();
                let models = Models::learn(cfg, &learn);
                training.iter().enumerate().filter(|(i, _)| i % folds == k).map(|(_, t)| models.scores(t)).collect()
            })
            .collect();
        let mut normal: [Vec<f64>; FAST] = Default::default();
        for s in per_fold.into_iter().flatten() {
            for (n, x) in normal.iter_mut().zip(s) {
                n.push(x);
            }
        }
        for n in &mut normal {
            n.sort_by(f64::total_cmp);
        }
        Calibration { normal }
    }

    /// The ensemble's score: the sum over models of `-ln` of the share of calibration normals scoring at
    /// least as high (Fisher's combination of empirical p-values).
    fn combine(&self, scores: [f64; FAST]) -> f64 {
        scores
            .iter()
            .zip(&self.normal)
            .map(|(&s, normal)| {
                let at_least = normal.len() - normal.partition_point(|&x| x < s);
                -((1 + at_least) as f64 / (1 + normal.len()) as f64).ln()
            })
            .sum()
    }
}

/// Learns on `data.training`, scores the rest, and reports.
pub fn evaluate(data: &Dataset, cfg: &AdfaConfig) -> Result<AdfaReport, NeuralError> {
    evaluate_with(data, cfg, &mut |_| {})
}

/// [`evaluate`], telling `step` what it is doing (one line each, for a progress display).
pub fn evaluate_with(data: &Dataset, cfg: &AdfaConfig, step: &mut dyn FnMut(&str)) -> Result<AdfaReport, NeuralError> {
    let training: Vec<&[u16]> = data.training.iter().map(|t| t.calls.as_slice()).collect();
    let started = Instant::now();
    step(&format!("learning on {} traces, calibrating on 5 folds", training.len()));
    let models = Models::learn(cfg, &training);
    let calibration = Calibration::from_folds(cfg, &training);
    let score_all = |traces: &[Trace]| -> Vec<Vec<f64>> {
        traces
            .par_iter()
            .map(|t| {
                let s = models.scores(&t.calls);
                let mut v = vec![calibration.combine(s)];
                v.extend(s);
                v
            })
            .collect()
    };
    step(&format!("scoring {} normal, {} attack traces", data.validation.len(), data.attacks.len()));
    let mut normal = score_all(&data.validation);
    let mut attack = score_all(&data.attacks);
    let fast_seconds = started.elapsed().as_secs_f64();
    let mut names = vec![
        ("ensemble", "STIDE, the language model and the suffix automaton combined: the sum of -ln of each one's empirical p-value against normal traces it did not learn from (5-fold cross-validation on the training data)".to_string(), fast_seconds),
        ("stide", format!("STIDE, n = {}: the share of the trace's n-grams never seen in training", cfg.stide_n), fast_seconds),
        ("lm", format!("n-gram language model, order {}, interpolated absolute discounting: mean surprise per call", cfg.lm_order), fast_seconds),
        ("suffix", "matching statistics against a suffix automaton of the training traces: mean of 1 / (longest run ending at the call that occurs in training)".to_string(), fast_seconds),
    ];
    if let Some(ncfg) = &cfg.neural {
        let started = Instant::now();
        step(&format!("neural model: epoch 1/{}", ncfg.epochs));
        let lm = NeuralLm::learn_with(ncfg, &training, &mut |epoch, loss| {
            if epoch < ncfg.epochs {
                step(&format!("neural model: epoch {}/{} (loss {loss:.3})", epoch + 1, ncfg.epochs))
            }
        })?;
        step("neural model: scoring");
        for (scores, traces) in [(&mut normal, &data.validation), (&mut attack, &data.attacks)] {
            for (s, t) in scores.iter_mut().zip(traces) {
                s.push(lm.score(&t.calls)?);
            }
        }
        names.push((
            "neural",
            format!(
                "neural language model (candle, CPU): {} calls of context, embeddings of {}, one tanh layer of {}, {} epochs; mean surprise per call (training loss {:.3})",
                ncfg.context, ncfg.embed, ncfg.hidden, ncfg.epochs, lm.training_loss
            ),
            started.elapsed().as_secs_f64(),
        ));
    }
    let models: Vec<ModelResult> = names
        .into_iter()
        .enumerate()
        .map(|(i, (name, description, seconds))| {
            let n: Vec<f64> = normal.iter().map(|s| s[i]).collect();
            let a: Vec<f64> = attack.iter().map(|s| s[i]).collect();
            result(name, description, seconds, &n, &a, &data.attacks)
        })
        .collect();
    let best = &models[0];
    Ok(AdfaReport {
        schema: "kestrel.eval.adfa/v1",
        traces: BTreeMap::from([
            ("training", data.training.len()),
            ("validation", data.validation.len()),
            ("attack", data.attacks.len()),
        ]),
        detector: best.model.clone(),
        auc: best.auc,
        dr_at_1pct_far: best.dr_at_1pct_far,
        dr_at_5pct_far: best.dr_at_5pct_far,
        ci95: best.ci95.clone(),
        models,
    })
}

fn result(
    name: &str,
    description: String,
    seconds: f64,
    normal: &[f64],
    attack: &[f64],
    attacks: &[Trace],
) -> ModelResult {
    let p1 = at_false_alarm_rate(normal, attack, 0.01);
    let p5 = at_false_alarm_rate(normal, attack, 0.05);
    let above = |p: Option<OperatingPoint>, s: f64| p.is_some_and(|p| s > p.threshold);
    let mut families: BTreeMap<String, FamilyResult> = BTreeMap::new();
    // Per run (the trace's folder): whether any of its traces is above each threshold.
    let mut runs: BTreeMap<(&str, &std::path::Path), (bool, bool)> = BTreeMap::new();
    for (t, &s) in attacks.iter().zip(attack) {
        let family = t.family.as_deref().unwrap_or_default();
        let f = families.entry(family.to_string()).or_insert(FamilyResult {
            traces: 0,
            detected_at_5pct_far: 0,
            runs: 0,
            runs_alarmed_at_1pct_far: 0,
            runs_alarmed_at_5pct_far: 0,
        });
        f.traces += 1;
        f.detected_at_5pct_far += usize::from(above(p5, s));
        let run = runs.entry((family, t.path.parent().unwrap_or(&t.path))).or_default();
        run.0 |= above(p1, s);
        run.1 |= above(p5, s);
    }
    // Each attack trace's run, for the bootstrap.
    let run_of: BTreeMap<(&str, &std::path::Path), usize> = runs.keys().enumerate().map(|(i, &k)| (k, i)).collect();
    let groups: Vec<usize> = attacks
        .iter()
        .map(|t| run_of[&(t.family.as_deref().unwrap_or_default(), t.path.parent().unwrap_or(&t.path))])
        .collect();
    let interval =
        |figure: &Figure| bootstrap_interval(normal, attack, &groups, BOOTSTRAP_RESAMPLES, 0x00AD_FA1D, figure);
    let rate = |far: f64| move |n: &[f64], a: &[f64]| at_false_alarm_rate(n, a, far).map(|p| p.detection_rate);
    let ci95 =
        Intervals { auc: interval(&auc), dr_at_1pct_far: interval(&rate(0.01)), dr_at_5pct_far: interval(&rate(0.05)) };
    for ((family, _), (at1, at5)) in runs {
        if let Some(f) = families.get_mut(family) {
            f.runs += 1;
            f.runs_alarmed_at_1pct_far += usize::from(at1);
            f.runs_alarmed_at_5pct_far += usize::from(at5);
        }
    }
    ModelResult {
        model: name.to_string(),
        description,
        seconds,
        auc: auc(normal, attack).unwrap_or(f64::NAN),
        dr_at_1pct_far: p1.map_or(0.0, |p| p.detection_rate),
        dr_at_5pct_far: p5.map_or(0.0, |p| p.detection_rate),
        ci95,
        operating_points: p1.into_iter().chain(p5).collect(),
        families,
    }
}
