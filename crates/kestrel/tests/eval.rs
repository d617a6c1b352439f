//! `kestrel eval adfa` end to end on a small data set written by the test: two "programs" make up the
//! normal traces; the attacks are the same programs with a foreign burst of calls in the middle.

use assert_cmd::Command;
use std::path::Path;

fn program(kind: usize, len: usize, seed: usize) -> Vec<u16> {
    // Loops of a program's own calls, with some variation from the seed.
    let body: &[u16] = if kind == 0 { &[3, 4, 5, 3, 4, 6, 197, 3] } else { &[102, 102, 4, 54, 3, 102, 146] };
    (0..len).map(|i| body[(i * (1 + seed % 3) + seed) % body.len()]).collect()
}

fn write(dir: &Path, sub: &str, name: &str, calls: &[u16]) {
    std::fs::create_dir_all(dir.join(sub)).unwrap();
    let text: Vec<String> = calls.iter().map(u16::to_string).collect();
    std::fs::write(dir.join(sub).join(name), text.join(" ")).unwrap();
}

#[test]
fn adfa_evaluation_separates_foreign_bursts_from_normal_traces() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..60 {
        write(d, "Training_Data_Master", &format!("UTD-{i:04}.txt"), &program(i % 2, 200 + i, i));
    }
    for i in 0..100 {
        write(d, "Validation_Data_Master", &format!("UVD-{i:04}.txt"), &program(i % 2, 150 + i, i + 6));
    }
    for i in 0..20 {
        let mut t = program(i % 2, 200, i);
        // A shell: execve, dup2, dup2, socketcall… in the middle of the program.
        t.splice(100..100, [11, 63, 63, 102, 11, 63, 6, 11]);
        write(d, &format!("Attack_Data_Master/Shell_{}", i % 3 + 1), &format!("UAD-{i}.txt"), &t);
    }
    // A fourth run recorded only a process the attack never touched: a trace like the normal ones.
    write(d, "Attack_Data_Master/Shell_4", "UAD-20.txt", &program(0, 200, 0));
    let out =
        Command::cargo_bin("kestrel").unwrap().args(["eval", "adfa"]).arg(d).args(["-f", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["schema"], "kestrel.eval.adfa/v1");
    assert_eq!(r["traces"]["training"], 60);
    assert_eq!(r["traces"]["attack"], 21);
    for field in ["auc", "dr_at_1pct_far", "dr_at_5pct_far"] {
        let v = r[field].as_f64().unwrap_or_else(|| panic!("no {field}: {r}"));
        assert!(v > 0.9, "{field} = {v}: {r:#}");
    }
    // Each figure with its 95 % interval, which holds it.
    for field in ["auc", "dr_at_1pct_far", "dr_at_5pct_far"] {
        let (v, i) = (r[field].as_f64().unwrap(), &r["ci95"][field]);
        let (low, high) = (i["low"].as_f64().unwrap(), i["high"].as_f64().unwrap());
        assert!(low <= v && v <= high && high <= 1.0, "{field}: {v} not in {i}");
    }
    let shell = &r["models"][0]["families"]["Shell"];
    assert_eq!((&shell["traces"], &shell["detected_at_5pct_far"]), (&21.into(), &20.into()), "{shell:#}");
    // Per attack run: three of the four runs raised an alarm.
    assert_eq!((&shell["runs"], &shell["runs_alarmed_at_5pct_far"]), (&4.into(), &3.into()), "{shell:#}");
    assert_eq!(shell["runs_alarmed_at_1pct_far"], 3, "{shell:#}");

    // The table names every model and the family.
    let out = Command::cargo_bin("kestrel").unwrap().args(["eval", "adfa"]).arg(d).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("stide") && text.contains("lm") && text.contains("Shell"), "{text}");
    assert!(text.contains("runs   3 / 4     3 / 4"), "{text}");
    assert!(text.contains("[95 % bootstrap intervals"), "{text}");
}

#[test]
fn adfa_evaluation_names_a_bad_trace() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Training_Data_Master", "UTD-0001.txt", &[1, 2, 3]);
    std::fs::write(dir.path().join("Training_Data_Master/UTD-0002.txt"), "1 2 three").unwrap();
    write(dir.path(), "Validation_Data_Master", "UVD-0001.txt", &[1, 2, 3]);
    let out = Command::cargo_bin("kestrel").unwrap().args(["eval", "adfa"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("UTD-0002.txt") && err.contains("token 3"), "{err}");
}
