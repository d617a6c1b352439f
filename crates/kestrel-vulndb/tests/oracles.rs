//! kestrel's version orderings against each ecosystem's own implementation, on thousands of real version
//! pairs: dpkg (`dpkg --compare-versions`), rpm (`rpm.vercmp` of rpm itself), PEP 440 (Python `packaging`),
//! npm (node-semver), Go (`golang.org/x/mod/semver`), Maven (`ComparableVersion`), RubyGems (`Gem::Version`).
//!
//! The versions are real ones cut from OSV and Debian tracker data (`tests/fixtures/versions/*.txt`, made by
//! `scripts/fixtures/make-version-corpora.py`), plus hand-written edge cases. Pairs: every pair of the
//! hand-written cases, each version with its neighbour in sorted order (similar strings: the hard cases), and
//! a fixed pseudo-random sample. `scripts/setup` installs every oracle; a missing one fails the test.

use kestrel_vulndb::version::Scheme;
use std::cmp::Ordering;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(name)
}

/// The hand-written cases (before the `# sampled` marker) and the sampled ones.
fn corpus(file: &str) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(fixture(&format!("fixtures/versions/{file}"))).unwrap();
    let (mut head, mut sampled) = (Vec::new(), Vec::new());
    let mut in_sample = false;
    for line in text.lines() {
        if line.starts_with("# sampled") {
            in_sample = true;
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if in_sample {
            sampled.push(line.to_string())
        } else {
            head.push(line.to_string())
        }
    }
    (head, sampled)
}

fn pairs(file: &str) -> Vec<(String, String)> {
    let (head, sampled) = corpus(file);
    let mut out = Vec::new();
    for a in &head {
        for b in &head {
            out.push((a.clone(), b.clone()));
        }
    }
    let mut all: Vec<String> = head.iter().chain(sampled.iter()).cloned().collect();
    all.sort();
    all.dedup();
    for w in all.windows(2) {
        out.push((w[0].clone(), w[1].clone()));
    }
    // A fixed linear congruential sequence: the same pairs on every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let i = (x >> 33) as usize % all.len();
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let j = (x >> 33) as usize % all.len();
        out.push((all[i].clone(), all[j].clone()));
    }
    out
}

fn run_oracle(mut cmd: Command, input: &str, what: &str) -> Vec<String> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child =
        cmd.spawn().unwrap_or_else(|e| panic!("{what} is not runnable ({e}): run scripts/setup, which installs it"));
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_string();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(data.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Compares kestrel with the oracle's answers on every pair. Pairs the oracle calls invalid must be refused by
/// kestrel too (and the other way round); a minimum of real comparisons is required.
fn check(scheme: Scheme, file: &str, oracle: impl FnOnce(&str) -> Vec<String>, min_compared: usize) {
    let pairs = pairs(file);
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let answers = oracle(&input);
    assert_eq!(answers.len(), pairs.len(), "the oracle answered {} of {} pairs", answers.len(), pairs.len());
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for ((a, b), want) in pairs.iter().zip(&answers) {
        let ours = scheme.compare(a, b);
        match (want.as_str(), ours) {
            ("invalid", Err(_)) => {}
            ("invalid", Ok(o)) => mismatches.push(format!("{a} vs {b}: oracle rejects, kestrel says {o:?}")),
            (w, Err(e)) => mismatches.push(format!("{a} vs {b}: oracle says {w}, kestrel rejects: {e}")),
            (w, Ok(o)) => {
                compared += 1;
                let want = match w {
                    "-1" => Ordering::Less,
                    "0" => Ordering::Equal,
                    "1" => Ordering::Greater,
                    other => panic!("oracle answer {other:?}"),
                };
                if o != want {
                    mismatches.push(format!("{a} vs {b}: oracle {want:?}, kestrel {o:?}"));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{scheme}: {} of {} pairs differ:\n{}",
        mismatches.len(),
        pairs.len(),
        mismatches[..mismatches.len().min(30)].join("\n")
    );
    assert!(compared >= min_compared, "{scheme}: only {compared} pairs compared");
    eprintln!("{scheme}: {compared} pairs agree with the oracle ({} refused by both)", pairs.len() - compared);
}

fn tmp_file(name: &str, content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    (dir, p)
}

#[test]
fn dpkg_against_dpkg_compare_versions() {
    check(
        Scheme::Deb,
        "deb.txt",
        |input| {
            let (_d, p) = tmp_file("pairs.tsv", input);
            let script = r#"while IFS=$'\t' read -r a b; do
                if dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then echo -1
                elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo 0
                elif dpkg --compare-versions "$a" gt "$b" 2>/dev/null; then echo 1
                else echo invalid; fi
            done < "$1""#;
            let mut c = Command::new("bash");
            c.arg("-c").arg(script).arg("bash").arg(&p);
            run_oracle(c, "", "dpkg")
        },
        3000,
    );
}

#[test]
fn rpm_against_rpm_vercmp() {
    check(
        Scheme::Rpm,
        "rpm.txt",
        |input| {
            let (_d, p) = tmp_file("pairs.tsv", input);
            let lua = format!(
                "%{{lua: for line in io.lines('{}') do local a, b = line:match('^(.-)\\t(.*)$'); print(rpm.vercmp(a, b) .. '\\n') end}}",
                p.display()
            );
            let mut c = Command::new("rpm");
            c.arg("--eval").arg(lua);
            run_oracle(c, "", "rpm")
        },
        3000,
    );
}

fn venv_python() -> String {
    let venv = std::env::var("KESTREL_VENV")
        .unwrap_or_else(|_| format!("{}/.cache/kestrel/venv", std::env::var("HOME").unwrap_or_default()));
    format!("{venv}/bin/python3")
}

#[test]
fn pep440_against_python_packaging() {
    check(
        Scheme::Pep440,
        "pep440.txt",
        |input| {
            let mut c = Command::new(venv_python());
            c.arg(fixture("oracles/pep440.py"));
            run_oracle(c, input, "python packaging (in the kestrel venv)")
        },
        3000,
    );
}

#[test]
fn npm_against_node_semver() {
    check(
        Scheme::Npm,
        "semver.txt",
        |input| {
            let mut c = Command::new("node");
            c.arg(fixture("oracles/semver.js")).env("NODE_PATH", "/usr/share/nodejs");
            run_oracle(c, input, "node with node-semver")
        },
        3000,
    );
}

#[test]
fn go_against_x_mod_semver() {
    check(
        Scheme::Go,
        "go.txt",
        |input| {
            let dir = tempfile::tempdir().unwrap();
            let bin = dir.path().join("gosemver");
            let build = Command::new("go")
                .args(["build", "-o"])
                .arg(&bin)
                .arg(fixture("oracles/gosemver.go"))
                .env("GO111MODULE", "off")
                .env("GOPATH", "/usr/share/gocode")
                .env("GOCACHE", dir.path().join("cache"))
                .output()
                .unwrap_or_else(|e| panic!("go is not runnable ({e}): run scripts/setup, which installs it"));
            assert!(build.status.success(), "building the Go oracle: {}", String::from_utf8_lossy(&build.stderr));
            run_oracle(Command::new(&bin), input, "the Go oracle")
        },
        3000,
    );
}

#[test]
fn maven_against_comparable_version() {
    check(
        Scheme::Maven,
        "maven.txt",
        |input| {
            let mut c = Command::new("java");
            c.arg("-cp").arg("/usr/share/java/maven-artifact-3.x.jar").arg(fixture("oracles/MavenOracle.java"));
            run_oracle(c, input, "java with maven-artifact")
        },
        3000,
    );
}

#[test]
fn rubygems_against_gem_version() {
    check(
        Scheme::Gem,
        "gem.txt",
        |input| {
            let mut c = Command::new("ruby");
            c.arg(fixture("oracles/gem.rb"));
            run_oracle(c, input, "ruby")
        },
        3000,
    );
}
