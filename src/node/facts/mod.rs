//! Facts about the node that several parts of bootstrap judge, each read by exactly one
//! function here: the steps (`cgroup`, `containerd`, `swap`, `packages`), the preflight rules
//! and the kubeadm failure diagnosis all call these readers rather than reading the files or
//! running the probes themselves. Paths the profile names (`containerd.config_path`) are
//! passed in, never assumed.
//!
//! | fact | reader |
//! |------|--------|
//! | containerd's CRI settings (runc `SystemdCgroup`, sandbox image, CRI disabled) | [`containerd::config`] |
//! | the installed containerd version | [`containerd::version`] |
//! | the kubelet's configured cgroup driver | [`kubelet::driver`] |
//! | the cgroup version (v1, v2, hybrid) | [`cgroup::mode`] |
//! | the swap areas active now | [`swap::active`] |
//! | kubeadm / kubelet / kubectl / crictl versions of an executable | [`versions::probe`] |
//! | a program's version found on `PATH` (`bootstrap version`) | [`versions::program_version`] |
//! | how each program is asked for its version | [`versions::KUBEADM`] and its siblings |
//! | the pause image the installed kubeadm expects | [`kubeadm::pause_image`] |
//! | whether systemd is the init system | [`systemd::is_init`] |
//! | whether containerd answers on its socket | [`containerd::answers`] |

pub mod cgroup;
pub mod containerd;
pub mod kubeadm;
pub mod kubelet;
pub mod swap;
pub mod systemd;
pub mod versions;

#[cfg(test)]
pub(crate) mod testing {
    //! A temporary root to run the readers against.

    use crate::host::Host;

    /// A host over a fresh temporary root; `files` are (node path, text) written under it.
    pub fn root_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let real = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(real.parent().unwrap()).unwrap();
            std::fs::write(real, text).unwrap();
        }
        let host = Host::new(dir.path().to_path_buf());
        (dir, host)
    }
}
