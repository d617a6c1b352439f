//! Compiles the BPF program with clang (CO-RE, against the committed `vmlinux.h` of the target architecture)
//! and generates its Rust skeleton.

use libbpf_cargo::SkeletonBuilder;
use std::ffi::OsStr;
use std::path::PathBuf;

const SRC: &str = "src/bpf/sensor.bpf.c";

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("CARGO_CFG_TARGET_ARCH");
    let include = PathBuf::from("src/bpf").join(&arch);
    if !include.join("vmlinux.h").is_file() {
        panic!(
            "no src/bpf/{arch}/vmlinux.h: generate it on a {arch} machine with \
             `bpftool btf dump file /sys/kernel/btf/vmlinux format c > src/bpf/{arch}/vmlinux.h`"
        );
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("sensor.skel.rs");
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args([OsStr::new("-I"), include.as_os_str(), OsStr::new("-Isrc/bpf"), OsStr::new("-Wall")])
        .build_and_generate(&out)
        .unwrap_or_else(|e| panic!("building {SRC} (is clang installed? scripts/setup installs it): {e:#}"));
    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-changed=src/bpf/events.h");
}
