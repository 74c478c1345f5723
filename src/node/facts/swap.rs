//! The swap areas active now, from `/proc/swaps` under the root (the kernel's list; see
//! proc(5)). The `swap` step turns each off; the kubeadm diagnosis names them when the
//! kubelet refused to start with swap on.

use crate::formats::proc_swaps::{self, SwapArea};
use crate::host::{Host, HostError};

/// The kernel's list of active swap areas.
pub const PROC_SWAPS: &str = "/proc/swaps";

/// The swap areas active now (none when /proc/swaps is absent under the root).
pub fn active(host: &Host) -> Result<Vec<SwapArea>, HostError> {
    Ok(proc_swaps::parse(
        &host.read(PROC_SWAPS)?.unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testing::root_with;
    use super::*;

    #[test]
    fn reads_the_kernels_list() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swap\\040file file\t\t1048572\t\t0\t\t-2\n/dev/zram0 partition 100 0 100\n";
        let (_d, host) = root_with(&[(PROC_SWAPS, text)]);
        let areas = active(&host).unwrap();
        assert_eq!(areas.len(), 2);
        assert_eq!(areas[0].path, "/swap file");
        assert_eq!(areas[1].kind, "partition");
        let (_d, off) = root_with(&[(PROC_SWAPS, "Filename Type Size Used Priority\n")]);
        assert!(active(&off).unwrap().is_empty());
        let (_d, absent) = root_with(&[]);
        assert!(active(&absent).unwrap().is_empty());
    }
}
