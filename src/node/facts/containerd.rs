//! containerd: its CRI settings, read from the config file the profile names
//! (`containerd.config_path`), whether it answers on the profile's socket, and the
//! installed version (`containerd --version`).

use super::versions::{self, CONTAINERD};
use crate::formats::containerd_config::{self, ConfigError, RuntimeFacts};
use crate::host::{Command, Host, HostError, RunError};

/// containerd's CRI settings (runc `SystemdCgroup`, the sandbox image, whether CRI is
/// disabled) from the config file at node path `path`: `None` when the file does not exist,
/// the parse error when it is not a containerd config (schema versions 1, 2 and 3/4 are
/// read; see [`containerd_config`]).
pub fn config(
    host: &Host,
    path: &str,
) -> Result<Option<Result<RuntimeFacts, ConfigError>>, HostError> {
    Ok(host.read(path)?.map(|text| containerd_config::facts(&text)))
}

/// Whether containerd answers on its socket (`ctr --address SOCKET version`, read-only):
/// `Err` with why not (the command's last lines, or why it could not run).
pub fn answers(host: &Host, socket: &str) -> Result<(), String> {
    match host.run(&Command::new("ctr").args(["--address", socket, "version"])) {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => Err(out.tail(2)),
        Err(e) => Err(e.to_string()),
    }
}

/// The installed containerd version (`1.6.20`, `2.1.4`), or `None` when it is not installed
/// (no `containerd` on `PATH`, or a wrapper answering 127) or prints no version.
pub fn version(host: &Host) -> Result<Option<String>, HostError> {
    let command = Command::new(CONTAINERD.name).args(CONTAINERD.version_args.iter().copied());
    let output = match host.run(&command) {
        Ok(output) => output,
        Err(HostError::Run(RunError::NotFound { .. })) => return Ok(None),
        Err(e) => return Err(e),
    };
    if output.code == Some(127) {
        return Ok(None);
    }
    Ok(version_of(&output.stdout))
}

/// The version in `containerd --version` output, without a `v` or a distribution suffix:
/// `containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1` (Debian 12)
/// → `1.6.20`; `containerd github.com/containerd/containerd/v2 v2.0.0 <sha>` → `2.0.0`;
/// `containerd containerd.io 1.7.27 <sha>` (Docker's package) → `1.7.27`.
pub fn version_of(output: &str) -> Option<String> {
    let word = versions::version_word(output.lines().next()?)?;
    word.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::super::testing::root_with;
    use super::*;
    use crate::formats::containerd_config::Schema;

    const FIXTURES: [(&str, &str); 5] = [
        (
            "v2-default-containerd-1.6.20.toml",
            include_str!("../../../tests/fixtures/containerd/v2-default-containerd-1.6.20.toml"),
        ),
        (
            "v2-debian12-package.toml",
            include_str!("../../../tests/fixtures/containerd/v2-debian12-package.toml"),
        ),
        (
            "v2-user-edited.toml",
            include_str!("../../../tests/fixtures/containerd/v2-user-edited.toml"),
        ),
        (
            "v3-containerd-2.x-default.toml",
            include_str!("../../../tests/fixtures/containerd/v3-containerd-2.x-default.toml"),
        ),
        (
            "cri-disabled-stub.toml",
            include_str!("../../../tests/fixtures/containerd/cri-disabled-stub.toml"),
        ),
    ];

    fn read(name: &str, path: &str) -> RuntimeFacts {
        let text = FIXTURES.iter().find(|(n, _)| *n == name).unwrap().1;
        let (_dir, host) = root_with(&[(path, text)]);
        config(&host, path).unwrap().unwrap().unwrap()
    }

    #[test]
    fn reads_the_real_config_formats_at_the_profiles_path() {
        // A path other than /etc/containerd/config.toml: the profile's path is the one read.
        let path = "/opt/containerd/config.toml";
        let stock = read("v2-default-containerd-1.6.20.toml", path);
        assert_eq!(stock.schema, Schema::V2);
        assert_eq!(stock.systemd_cgroup, Some(false));
        assert_eq!(
            stock.sandbox_image.as_deref(),
            Some("registry.k8s.io/pause:3.6")
        );
        assert!(stock.cri_disabled.is_empty());
        let debian = read("v2-debian12-package.toml", path);
        assert_eq!(debian.schema, Schema::V2);
        assert_eq!(debian.systemd_cgroup, None, "unset: containerd's default");
        assert_eq!(
            debian.sandbox_image, None,
            "unset: containerd's built-in default"
        );
        let v3 = read("v3-containerd-2.x-default.toml", path);
        assert_eq!(v3.schema, Schema::V3 { version: 3 });
        assert_eq!(v3.systemd_cgroup, None);
        assert_eq!(
            v3.sandbox_image.as_deref(),
            Some("registry.k8s.io/pause:3.10")
        );
        let stub = read("cri-disabled-stub.toml", path);
        assert_eq!(stub.cri_disabled, ["cri"]);
        let edited = read("v2-user-edited.toml", path);
        assert_eq!(edited.systemd_cgroup, Some(false));
        assert_eq!(
            edited.sandbox_image.as_deref(),
            Some("registry.k8s.io/pause:3.6")
        );
    }

    #[test]
    fn a_missing_or_broken_config_is_told_apart() {
        let (_dir, host) = root_with(&[("/etc/containerd/config.toml", "not [toml")]);
        assert!(
            config(&host, "/etc/containerd/other.toml")
                .unwrap()
                .is_none()
        );
        assert!(
            config(&host, "/etc/containerd/config.toml")
                .unwrap()
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn version_outputs() {
        let v = |s: &str| version_of(s);
        assert_eq!(
            v("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1\n")
                .as_deref(),
            Some("1.6.20")
        );
        assert_eq!(
            v("containerd github.com/containerd/containerd/v2 v2.0.0 207ad711\n").as_deref(),
            Some("2.0.0")
        );
        assert_eq!(
            v("containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da\n")
                .as_deref(),
            Some("1.7.27")
        );
        assert_eq!(v(""), None);
        assert_eq!(v("containerd: unknown flag\n"), None);
    }
}
