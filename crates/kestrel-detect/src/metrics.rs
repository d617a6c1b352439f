//! How well a score separates attacks from normal behaviour: ROC AUC and the detection rate at a chosen
//! false-alarm rate, with the threshold taken from the normal scores only.

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
}
