//! A small neural language model of system-call sequences (Bengio-style neural n-gram model), trained on the
//! CPU with candle: each call's last `context` predecessors are embedded (a learned vector per call, so that
//! calls used alike end up alike and unseen combinations of them are not all equally strange), concatenated,
//! passed through one `tanh` hidden layer and a softmax over the calls seen while learning. A call's
//! surprise is `-ln p(call | context)`; a trace scores its mean surprise.
//!
//! Compared with the n-gram models in [`crate::seq`], it generalises across contexts never seen whole, at
//! the price of learning time (seconds to a minute on ADFA-LD) and scoring speed (a matrix product per
//! call). Learning is deterministic: weights drawn from a seeded generator, batches in a seeded order.

use crate::rng::Rng;
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rustc_hash::FxHashMap;

/// The model's size and how it is learned.
#[derive(Debug, Clone)]
pub struct NeuralConfig {
    /// Calls of context before the predicted one.
    pub context: usize,
    /// Width of a call's embedding.
    pub embed: usize,
    /// Width of the hidden layer.
    pub hidden: usize,
    /// Passes over the training calls.
    pub epochs: usize,
    /// Calls per gradient step.
    pub batch: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of the initial weights and of the batch order.
    pub seed: u64,
}

impl Default for NeuralConfig {
    fn default() -> Self {
        NeuralConfig { context: 12, embed: 24, hidden: 256, epochs: 8, batch: 256, learning_rate: 2e-3, seed: 1 }
    }
}

/// A learning or scoring failure inside candle (shapes, allocation): not expected with a valid config.
#[derive(Debug, thiserror::Error)]
#[error("neural model: {0}")]
pub struct NeuralError(#[from] candle_core::Error);

/// Symbol 0 pads the context before a trace's first call; 1 is a call never seen while learning.
const PAD: u32 = 0;
const UNSEEN: u32 = 1;

/// The learned model.
#[derive(Debug)]
pub struct NeuralLm {
    cfg: NeuralConfig,
    symbols: FxHashMap<u16, u32>,
    embedding: Tensor,
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    /// Mean surprise per call over the training data at the last epoch.
    pub training_loss: f64,
}

impl NeuralLm {
    /// Learns from `traces`.
    pub fn learn(cfg: &NeuralConfig, traces: &[&[u16]]) -> Result<NeuralLm, NeuralError> {
        Self::learn_with(cfg, traces, &mut |_, _| {})
    }

    /// Learns from `traces`, calling `epoch_done(epoch, training loss)` after each epoch (from 1).
    pub fn learn_with(
        cfg: &NeuralConfig,
        traces: &[&[u16]],
        epoch_done: &mut dyn FnMut(usize, f64),
    ) -> Result<NeuralLm, NeuralError> {
        let cfg = NeuralConfig {
            context: cfg.context.max(1),
            embed: cfg.embed.max(1),
            hidden: cfg.hidden.max(1),
            batch: cfg.batch.max(1),
            ..cfg.clone()
        };
        let mut symbols: FxHashMap<u16, u32> = FxHashMap::default();
        let mut calls: Vec<u16> = traces.iter().flat_map(|t| t.iter().copied()).collect();
        calls.sort_unstable();
        calls.dedup();
        for (i, c) in calls.into_iter().enumerate() {
            symbols.insert(c, i as u32 + 2);
        }
        let vocab = symbols.len() + 2;
        let (k, d, h) = (cfg.context, cfg.embed, cfg.hidden);

        // Every training position: its context and the call that followed.
        let mut contexts: Vec<u32> = Vec::new();
        let mut targets: Vec<u32> = Vec::new();
        for t in traces {
            let enc: Vec<u32> = t.iter().map(|c| symbols[c]).collect();
            push_windows(&enc, k, &mut contexts, &mut targets);
        }
        let dev = Device::Cpu;
        let mut rng = Rng(cfg.seed);
        let mut init = |rows: usize, cols: usize, scale: f64| -> Result<Var, NeuralError> {
            let v: Vec<f32> = (0..rows * cols).map(|_| rng.normal(scale)).collect();
            Ok(Var::from_tensor(&Tensor::from_vec(v, (rows, cols), &dev)?)?)
        };
        let embedding = init(vocab, d, 0.1)?;
        let w1 = init(k * d, h, 1.0 / ((k * d) as f64).sqrt())?;
        let b1 = Var::from_tensor(&Tensor::zeros(h, DType::F32, &dev)?)?;
        let w2 = init(h, vocab, 1.0 / (h as f64).sqrt())?;
        let b2 = Var::from_tensor(&Tensor::zeros(vocab, DType::F32, &dev)?)?;
        let mut opt = AdamW::new(
            vec![embedding.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone()],
            ParamsAdamW { lr: cfg.learning_rate, weight_decay: 0.0, ..Default::default() },
        )?;
        let mut model = NeuralLm {
            cfg: cfg.clone(),
            symbols,
            embedding: embedding.as_tensor().clone(),
            w1: w1.as_tensor().clone(),
            b1: b1.as_tensor().clone(),
            w2: w2.as_tensor().clone(),
            b2: b2.as_tensor().clone(),
            training_loss: f64::NAN,
        };
        let n = targets.len();
        if n == 0 {
            return Ok(model);
        }
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = Rng(cfg.seed ^ 0x5eed);
        for epoch in 1..=cfg.epochs {
            for i in (1..n).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let mut total = 0.0;
            for chunk in order.chunks(cfg.batch) {
                let ctx: Vec<u32> = chunk.iter().flat_map(|&i| contexts[i * k..(i + 1) * k].iter().copied()).collect();
                let tgt: Vec<u32> = chunk.iter().map(|&i| targets[i]).collect();
                let x = Tensor::from_vec(ctx, (chunk.len(), k), &dev)?;
                let y = Tensor::from_vec(tgt, chunk.len(), &dev)?;
                let logits = model.logits(&x)?;
                let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
                total += f64::from(loss.to_scalar::<f32>()?) * chunk.len() as f64;
                opt.backward_step(&loss)?;
            }
            model.training_loss = total / n as f64;
            epoch_done(epoch, model.training_loss);
        }
        Ok(model)
    }

    /// Distinct calls learned.
    pub fn vocabulary(&self) -> usize {
        self.symbols.len()
    }

    /// The model's configuration.
    pub fn config(&self) -> &NeuralConfig {
        &self.cfg
    }

    fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, k) = x.dims2()?;
        let e = self.embedding.index_select(&x.flatten_all()?, 0)?.reshape((b, k * self.cfg.embed))?;
        let hidden = e.matmul(&self.w1)?.broadcast_add(&self.b1)?.tanh()?;
        hidden.matmul(&self.w2)?.broadcast_add(&self.b2)
    }

    /// Each call's surprise, `-ln p(call | its context)`, in nats.
    pub fn surprises(&self, calls: &[u16]) -> Result<Vec<f64>, NeuralError> {
        let k = self.cfg.context;
        let enc: Vec<u32> = calls.iter().map(|c| self.symbols.get(c).copied().unwrap_or(UNSEEN)).collect();
        let (mut contexts, mut targets) = (Vec::new(), Vec::new());
        push_windows(&enc, k, &mut contexts, &mut targets);
        let mut out = Vec::with_capacity(targets.len());
        const CHUNK: usize = 4096;
        for (ctx, tgt) in contexts.chunks(CHUNK * k).zip(targets.chunks(CHUNK)) {
            let x = Tensor::from_vec(ctx.to_vec(), (tgt.len(), k), &Device::Cpu)?;
            let logp = candle_nn::ops::log_softmax(&self.logits(&x)?, D::Minus1)?;
            let y = Tensor::from_vec(tgt.to_vec(), (tgt.len(), 1), &Device::Cpu)?;
            let picked: Vec<f32> = logp.gather(&y, 1)?.flatten_all()?.to_vec1()?;
            out.extend(picked.into_iter().map(|lp| -f64::from(lp)));
        }
        Ok(out)
    }

    /// A trace's score: its mean surprise per call (0 for an empty trace).
    pub fn score(&self, calls: &[u16]) -> Result<f64, NeuralError> {
        let s = self.surprises(calls)?;
        Ok(if s.is_empty() { 0.0 } else { s.iter().sum::<f64>() / s.len() as f64 })
    }
}

/// For each position of `enc`: the `k` symbols before it (padded at the start) into `contexts`, the symbol
/// into `targets`.
fn push_windows(enc: &[u32], k: usize, contexts: &mut Vec<u32>, targets: &mut Vec<u32>) {
    for i in 0..enc.len() {
        for j in 0..k {
            contexts.push(if i + j >= k { enc[i + j - k] } else { PAD });
        }
        targets.push(enc[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NeuralConfig {
        NeuralConfig { context: 3, embed: 8, hidden: 32, epochs: 30, batch: 32, learning_rate: 1e-2, seed: 7 }
    }

    #[test]
    fn each_epoch_is_reported_with_its_loss() {
        let normal: Vec<u16> = (0..300).map(|i| [3u16, 5, 7, 11][i % 4]).collect();
        let mut seen = Vec::new();
        let lm = NeuralLm::learn_with(&cfg(), &[&normal], &mut |epoch, loss| seen.push((epoch, loss))).unwrap();
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), (1..=30).collect::<Vec<_>>());
        assert_eq!(seen.last().unwrap().1, lm.training_loss);
        assert!(seen[0].1 > seen[29].1, "the loss falls: {seen:?}");
    }

    #[test]
    fn learns_a_cycle_and_finds_a_break_in_it() {
        let normal: Vec<u16> = (0..300).map(|i| [3u16, 5, 7, 11][i % 4]).collect();
        let lm = NeuralLm::learn(&cfg(), &[&normal]).unwrap();
        assert_eq!(lm.vocabulary(), 4);
        assert!(lm.training_loss < 0.1, "a deterministic cycle is learnt: loss {}", lm.training_loss);
        let same: Vec<u16> = normal[..40].to_vec();
        let mut broken = same.clone();
        broken[20] = 7; // 3 5 7 11 3 ... with a 7 where a 3 belongs
        broken[21] = 3;
        let unseen: Vec<u16> = same.iter().map(|&c| if c == 5 { 99 } else { c }).collect();
        let (s, b, u) = (lm.score(&same).unwrap(), lm.score(&broken).unwrap(), lm.score(&unseen).unwrap());
        assert!(s < 0.2, "normal scores low: {s}");
        assert!(b > s + 0.2, "a broken cycle scores higher: {b} vs {s}");
        assert!(u > b, "a call never seen scores higher still: {u} vs {b}");
    }

    #[test]
    fn learning_is_deterministic_and_empty_input_is_fine() {
        let t: Vec<u16> = (0..100).map(|i| (i * 7 % 13) as u16).collect();
        let a = NeuralLm::learn(&cfg(), &[&t]).unwrap().score(&t[..50]).unwrap();
        let b = NeuralLm::learn(&cfg(), &[&t]).unwrap().score(&t[..50]).unwrap();
        assert_eq!(a, b);
        let empty = NeuralLm::learn(&cfg(), &[]).unwrap();
        assert_eq!(empty.score(&[]).unwrap(), 0.0);
        assert!(empty.score(&[1, 2, 3]).unwrap().is_finite());
    }
}
