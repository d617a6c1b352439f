//! Compiles the isolation BPF programs with clang (against the workspace's committed `vmlinux.h`, kept by
//! the sensor crate) and generates their Rust skeleton.

use libbpf_cargo::SkeletonBuilder;
use std::ffi::OsStr;
use std::path::PathBuf;

const SRC: &str = "src/bpf/isolate.bpf.c";

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("CARGO_CFG_TARGET_ARCH");
    let include = PathBuf::from("../kestrel-sensor/src/bpf").join(&arch);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("isolate.skel.rs");
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args([OsStr::new("-I"), include.as_os_str(), OsStr::new("-Wall")])
        .build_and_generate(&out)
        .unwrap_or_else(|e| panic!("building {SRC} (is clang installed? scripts/setup installs it): {e:#}"));
    println!("cargo:rerun-if-changed={SRC}");
}
