//! What the sensor needs of the machine, checked before loading anything, so that a missing piece is named
//! instead of surfacing as a verifier or permission error.

use std::path::Path;

/// Why the sensor cannot run (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    /// The machine lacks something the sensor needs.
    #[error("the sensor cannot run here: {0}")]
    Unsupported(String),
    /// The kubelet settings cannot work (an unreadable CA file).
    #[error("kubelet: {0}")]
    Kubelet(String),
    /// Loading or attaching the BPF program failed.
    #[error("loading the BPF program: {0}")]
    Bpf(String),
    /// A cgroup to watch could not be read.
    #[error("{path}: {reason}")]
    Cgroup {
        /// The cgroup directory.
        path: String,
        /// Why.
        reason: String,
    },
}

fn kernel_release() -> Option<(u32, u32)> {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut it = r.trim().split(['.', '-']);
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Checks the kernel version (≥ 5.8: ring buffers, BTF tracepoints), BTF, privileges and lockdown.
pub fn preflight() -> Result<(), SensorError> {
    match kernel_release() {
        Some((maj, min)) if (maj, min) < (5, 8) => {
            return Err(SensorError::Unsupported(format!(
                "kernel {maj}.{min} is older than 5.8 (BPF ring buffers and BTF-enabled tracepoints are needed)"
            )))
        }
        None => return Err(SensorError::Unsupported("cannot read the kernel release".into())),
        _ => {}
    }
    if !Path::new("/sys/kernel/btf/vmlinux").is_file() {
        return Err(SensorError::Unsupported(
            "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing; it needs CONFIG_DEBUG_INFO_BTF=y)".into(),
        ));
    }
    // SAFETY-free check of the effective capabilities: CAP_BPF (39) and CAP_PERFMON (38), or CAP_SYS_ADMIN (21).
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |bit: u32| eff & (1u64 << bit) != 0;
    if !(has(21) || (has(39) && has(38))) {
        return Err(SensorError::Unsupported(
            "missing privileges: run as root, or with CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)".into(),
        ));
    }
    ensure_tracefs()?;
    if let Ok(l) = std::fs::read_to_string("/sys/kernel/security/lockdown") {
        if l.contains("[confidentiality]") {
            return Err(SensorError::Unsupported(
                "the kernel is locked down in confidentiality mode, which forbids reading kernel memory from BPF"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// System-call tracepoints are attached through tracefs: mount it where libbpf looks when it is not there
/// (containers and minimal hosts often leave it unmounted).
fn ensure_tracefs() -> Result<(), SensorError> {
    for dir in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if Path::new(dir).join("events").is_dir() {
            return Ok(());
        }
    }
    let target = c"/sys/kernel/tracing";
    // SAFETY: mount(2) with valid NUL-terminated strings and no data pointer.
    let rc = unsafe { libc::mount(c"tracefs".as_ptr(), target.as_ptr(), c"tracefs".as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(SensorError::Unsupported(format!(
            "tracefs is not mounted and mounting it at /sys/kernel/tracing failed ({}); mount it: \
             mount -t tracefs tracefs /sys/kernel/tracing",
            std::io::Error::last_os_error()
        )));
    }
    tracing::info!("mounted tracefs at /sys/kernel/tracing");
    Ok(())
}
