//! How well a score separates attacks from normal behaviour: ROC AUC and the detection rate at a chosen
//! false-alarm rate, with the threshold taken from the normal scores only.

use crate::rng::Rng;
use rayon::prelude::*;
use serde::Serialize;

/// Area under the ROC curve: the probability that a random attack scores above a random normal trace
/// (ties count half). `None` when either side is empty or a score is NaN.
pub fn auc(normal: &[f64], attack: &[f64]) -> Option<f64> {
    if normal.is_empty() || attack.is_empty() || normal.iter().chain(attack).any(|s| s.is_nan()) {
        return None;
    }
    // Mann–Whitney U from the rank sum of the attacks, ties given their mean rank.
    let mut all: Vec<(f64, bool)> =
        normal.iter().map(|&s| (s, false)).chain(attack.iter().map(|&s| (s, true))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0; // ranks i+1 ..= j
        rank_sum += mean_rank * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let (n0, n1) = (normal.len() as f64, attack.len() as f64);
    Some((rank_sum - n1 * (n1 + 1.0) / 2.0) / (n0 * n1))
}

/// An operating point: the threshold for a target false-alarm rate and what it gives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// The false-alarm rate asked for.
    pub target_far: f64,
    /// Scores above this alarm.
    pub threshold: f64,
    /// The false-alarm rate reached on the normal scores (≤ the target).
    pub false_alarm_rate: f64,
    /// The share of attacks scoring above the threshold.
    pub detection_rate: f64,
}

/// The lowest threshold at which at most `far` of the normal scores alarm (score > threshold), and the
/// detection rate it gives on the attacks. `None` when there are no normal scores.
pub fn at_false_alarm_rate(normal: &[f64], attack: &[f64], far: f64) -> Option<OperatingPoint> {
    let threshold = threshold_for(normal, far)?;
    let above = |xs: &[f64]| xs.iter().filter(|&&s| s > threshold).count() as f64;
    Some(OperatingPoint {
        target_far: far,
        threshold,
        false_alarm_rate: above(normal) / normal.len() as f64,
        detection_rate: if attack.is_empty() { 0.0 } else { above(attack) / attack.len() as f64 },
    })
}

/// The threshold above which at most `far` of `normal` lies: the `⌊far·n⌋+1`-th highest normal score.
pub fn threshold_for(normal: &[f64], far: f64) -> Option<f64> {
    if normal.is_empty() {
        return None;
    }
    let mut sorted = normal.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let allowed = ((far.clamp(0.0, 1.0) * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
    Some(sorted[allowed])
}

/// A 95 % interval of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Its lower end (the 2.5th percentile of the resampled figures).
    pub low: f64,
    /// Its upper end (the 97.5th percentile).
    pub high: f64,
}

/// The 95 % percentile-bootstrap interval of `figure(normal, attack)`: how far it could be from what another
/// sample of the same kinds of trace would give. Each of `resamples` resamples draws the normal scores with
/// replacement one by one and the attack scores a group at a time (`groups[i]` names attack `i`'s group:
/// the traces of one attack run are not independent draws, so they are drawn together). Seeded: the same
/// scores give the same interval. `None` without normal scores, attack groups or resamples.
pub fn bootstrap_interval(
    normal: &[f64],
    attack: &[f64],
    groups: &[usize],
    resamples: usize,
    seed: u64,
    figure: impl Fn(&[f64], &[f64]) -> Option<f64> + Sync,
) -> Option<Interval> {
    let mut members: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for (&g, &s) in groups.iter().zip(attack) {
        members.entry(g).or_default().push(s);
    }
    let members: Vec<Vec<f64>> = members.into_values().collect();
    if normal.is_empty() || members.is_empty() || resamples == 0 {
        return None;
    }
    let mut figures: Vec<f64> = (0..resamples)
        .into_par_iter()
        .filter_map(|r| {
            let mut rng = Rng(seed ^ (r as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
            let n: Vec<f64> = (0..normal.len()).map(|_| normal[rng.below(normal.len())]).collect();
            let a: Vec<f64> =
                (0..members.len()).flat_map(|_| members[rng.below(members.len())].iter().copied()).collect();
            figure(&n, &a).filter(|f| !f.is_nan())
        })
        .collect();
    if figures.is_empty() {
        return None;
    }
    figures.sort_by(f64::total_cmp);
    let at = |q: f64| figures[((q * figures.len() as f64) as usize).min(figures.len() - 1)];
    Some(Interval { low: at(0.025), high: at(0.975) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_reversed_and_tied_scores() {
        assert_eq!(auc(&[1.0, 2.0], &[3.0, 4.0]), Some(1.0));
        assert_eq!(auc(&[3.0, 4.0], &[1.0, 2.0]), Some(0.0));
        assert_eq!(auc(&[1.0, 1.0], &[1.0]), Some(0.5));
        // One of four pairs misordered.
        assert_eq!(auc(&[1.0, 3.0], &[2.0, 4.0]), Some(0.75));
        assert_eq!(auc(&[], &[1.0]), None);
        assert_eq!(auc(&[f64::NAN], &[1.0]), None);
    }

    #[test]
    fn thresholds_come_from_the_normal_scores() {
        let normal: Vec<f64> = (1..=100).map(f64::from).collect();
        // 5 % of 100: five normal scores (96..=100) may alarm, so the threshold is 95.
        let p = at_false_alarm_rate(&normal, &[50.0, 95.0, 96.0, 200.0], 0.05).unwrap();
        assert_eq!(p.threshold, 95.0);
        assert_eq!(p.false_alarm_rate, 0.05);
        assert_eq!(p.detection_rate, 0.5);
        // 0 %: above the highest normal score.
        assert_eq!(threshold_for(&normal, 0.0), Some(100.0));
        // Ties at the threshold never push the false-alarm rate over the target.
        let tied = [1.0, 2.0, 2.0, 2.0];
        let p = at_false_alarm_rate(&tied, &[3.0], 0.25).unwrap();
        assert!(p.false_alarm_rate <= 0.25, "{p:?}");
    }

    #[test]
    fn bootstrap_intervals_hold_the_figure_and_widen_when_attacks_come_in_runs() {
        let normal: Vec<f64> = (0..400).map(|i| f64::from(i % 100)).collect();
        // Half the attacks score above every normal trace, half among the lowest.
        let attack: Vec<f64> = (0..200).map(|i| if i < 100 { 150.0 } else { f64::from(i % 10) }).collect();
        let dr = |n: &[f64], a: &[f64]| at_false_alarm_rate(n, a, 0.05).map(|p| p.detection_rate);
        let each: Vec<usize> = (0..200).collect();
        let i = bootstrap_interval(&normal, &attack, &each, 500, 7, dr).unwrap();
        assert!(i.low <= 0.5 && 0.5 <= i.high && i.high - i.low < 0.2, "{i:?}");
        assert_eq!(bootstrap_interval(&normal, &attack, &each, 500, 7, dr), Some(i), "seeded");
        // The same scores from four runs (each all high or all low): far less is known.
        let runs: Vec<usize> = (0..200).map(|i| i / 50).collect();
        let r = bootstrap_interval(&normal, &attack, &runs, 500, 7, dr).unwrap();
        assert!(r.high - r.low > 2.0 * (i.high - i.low), "{r:?} against {i:?}");
        // Perfectly apart: nothing to doubt.
        let top: Vec<f64> = vec![1000.0; 50];
        let a = bootstrap_interval(&normal, &top, &each[..50], 200, 1, auc).unwrap();
        assert_eq!((a.low, a.high), (1.0, 1.0));
        assert_eq!(bootstrap_interval(&[], &top, &each[..50], 200, 1, auc), None);
    }
}
