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

#[test]
fn dns_evaluation_counts_the_names_the_rules_alert_on() {
    // A list of names: a tunnel's (hex), iodine's raw bytes, a LoadBalancer's ELB (encoded by design, its zone
    // listed), ordinary names (one asked twice), a comment; then the same with a rule file listing the tunnel's zone.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("names.txt");
    let tunnel = "4b6f6e74656e3a2061646d696e2070617373776f72643a2068756e74657232.0.x.example.net";
    let iodine = "0eaba82\\2022dI\\245B\\222aa\\191\\224\\217\\253\\253A\\202qmk\\237.i.example.org";
    let elb = "a8f1e4b6c2d3411e9b0a20a1b2c3d4e5-1234567890.us-west-2.elb.amazonaws.com";
    std::fs::write(&list, format!("# resolver log\n{tunnel}\n{iodine}\n\n{elb}\nwww.example.net\nwww.example.net\n"))
        .unwrap();
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = Command::cargo_bin("kestrel")
            .unwrap()
            .args(["eval", "dns", "-f", "json"])
            .args(extra)
            .arg(&list)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let r = run(&[]);
    assert_eq!((r["questions"].as_u64(), r["names"].as_u64()), (Some(5), Some(4)), "{r:#}");
    assert_eq!((r["encoded"].as_u64(), r["alerted"].as_u64()), (Some(3), Some(2)), "{r:#}");
    assert_eq!(r["by_rule"]["DNS question carrying encoded data"], 2, "{r:#}");
    assert_eq!(r["examples"], serde_json::json!([tunnel, iodine]));
    assert_eq!(r["encoded_not_alerted"], serde_json::json!([elb]));
    let mine = dir.path().join("mine.yaml");
    std::fs::write(&mine, "- list: kestrel_encoded_dns_zones\n  items: [example.net]\n  append: true\n").unwrap();
    let r = run(&["--rules", mine.to_str().unwrap()]);
    assert_eq!(r["examples"], serde_json::json!([iodine]), "{r:#}");
}

#[test]
fn dns_evaluation_names_a_line_that_is_no_name() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("names.txt");
    std::fs::write(&list, format!("www.example.net\n{}\n", "a".repeat(5000))).unwrap();
    let out = Command::cargo_bin("kestrel").unwrap().args(["eval", "dns"]).arg(&list).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("names.txt: line 2 is longer than 4096 bytes"), "{err}");
}
