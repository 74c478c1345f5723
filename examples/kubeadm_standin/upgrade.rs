//! `kubeadm upgrade plan|apply|node`, from kubeadm's source (kubernetes/kubernetes
//! `cmd/kubeadm/app/cmd/upgrade/{plan,apply,node,common}.go` and
//! `cmd/kubeadm/app/phases/upgrade/policy.go`, `EnforceVersionPolicies`):
//! - every subcommand needs an initialised (apply, plan: /etc/kubernetes/admin.conf) or
//!   joined (node: /etc/kubernetes/kubelet.conf) node, else kubeadm cannot build a client;
//! - the version policy: one minor at a time, never a minor newer than kubeadm itself
//!   (mandatory), a patch newer than kubeadm only with `--force` (skippable);
//! - `apply` asks for confirmation unless `--yes`/`-y` (or `--force`); without a terminal
//!   the question is not answered and kubeadm does not proceed;
//! - kubeadm's own version is that of the kubeadm installed under `$SANDBOX_ROOT/usr/bin`
//!   (the package the agent upgrades), else `$STANDIN_KUBEADM_VERSION`;
//! - the cluster's version is `serverVersion` in `kube.json` of the cluster directory,
//!   shared with the kubectl stand-in (examples/kubectl_node_standin); `apply` sets it;
//! - `$STANDIN_KILL` naming `kubeadm-upgrade` kills the caller right after the upgrade took
//!   effect (the worst moment for a resume: done, not yet recorded).

use std::fs;

use serde_json::Value;

use super::{Env, Exit, Res, fail, parse_version};

type V = (u32, u32, u32);

fn show((a, b, c): V) -> String {
    format!("v{a}.{b}.{c}")
}

/// The installed kubeadm's version (the apt stand-in writes `V=x.y.z` into the program).
fn kubeadm_version(env: &Env) -> V {
    fs::read_to_string(env.path("/usr/bin/kubeadm"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("V=").and_then(parse_version))
        })
        .unwrap_or(env.version)
}

fn state_path(env: &Env) -> std::path::PathBuf {
    env.cluster.join("kube.json")
}

fn load(env: &Env) -> Res<Value> {
    let text = fs::read_to_string(state_path(env))
        .map_err(|e| Exit(format!("unable to fetch the cluster version: {e}"), 1))?;
    serde_json::from_str(&text).map_err(|e| Exit(format!("cluster state: {e}"), 1))
}

fn cluster_version(state: &Value) -> Res<V> {
    state["serverVersion"]
        .as_str()
        .and_then(parse_version)
        .ok_or_else(|| {
            Exit(
                "Unable to fetch cluster version: no serverVersion".into(),
                1,
            )
        })
}

fn client(env: &Env, file: &str) -> Res<()> {
    if env.exists(file) {
        return Ok(());
    }
    fail(
        1,
        format!(
            "couldn't create a Kubernetes client from file \"{file}\": failed to load admin kubeconfig: open {file}: no such file or directory"
        ),
    )
}

/// `EnforceVersionPolicies`: (mandatory, skippable) errors.
fn policy(cluster: V, kubeadm: V, new: V) -> (Vec<String>, Vec<String>) {
    let (mut mandatory, mut skippable) = (Vec::new(), Vec::new());
    let n = show(new);
    if new.1 > cluster.1 + 1 {
        mandatory.push(format!("Specified version to upgrade to \"{n}\" is too high; kubeadm can upgrade only 1 minor version at a time"));
    }
    if new.1 + 1 < cluster.1 {
        mandatory.push(format!("Specified version to downgrade to \"{n}\" is too low; kubeadm can downgrade only 1 minor version at a time"));
    }
    if kubeadm < new {
        if new.1 > kubeadm.1 {
            mandatory.push(format!("Specified version to upgrade to \"{n}\" is at least one minor release higher than the kubeadm minor release ({} > {}). Such an upgrade is not supported", new.1, kubeadm.1));
        } else {
            skippable.push(format!("Specified version to upgrade to \"{n}\" is higher than the kubeadm version \"{}\". Upgrade kubeadm first using the tool you used to install kubeadm", show(kubeadm)));
        }
    }
    if kubeadm.0 > new.0 || kubeadm.1 > new.1 {
        skippable.push(format!(
            "Kubeadm version {} can only be used to upgrade to Kubernetes version {}.{}",
            show(kubeadm),
            kubeadm.0,
            kubeadm.1
        ));
    }
    (mandatory, skippable)
}

fn enforce(cluster: V, kubeadm: V, new: V, force: bool) -> Res<()> {
    let (mandatory, skippable) = policy(cluster, kubeadm, new);
    let list = |errs: &[String]| {
        errs.iter()
            .map(|e| format!("\t- {e}\n"))
            .collect::<String>()
    };
    if !mandatory.is_empty() {
        return fail(
            1,
            format!(
                "[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:\n\n{}\nPlease fix the misalignments highlighted above and try upgrading again",
                list(&mandatory)
            ),
        );
    }
    if !skippable.is_empty() && !force {
        return fail(
            1,
            format!(
                "[upgrade/version] FATAL: the --version argument is invalid due to these errors:\n\n{}\nCan be bypassed if you pass the --force flag",
                list(&skippable)
            ),
        );
    }
    Ok(())
}

fn killed_here() {
    if format!(" {} ", std::env::var("STANDIN_KILL").unwrap_or_default())
        .contains(" kubeadm-upgrade ")
    {
        let parent = std::os::unix::process::parent_id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &parent])
            .status();
        std::process::exit(137);
    }
}

fn plan(env: &Env, args: &[String]) -> Res<String> {
    client(env, "/etc/kubernetes/admin.conf")?;
    let cluster = cluster_version(&load(env)?)?;
    let kubeadm = kubeadm_version(env);
    let mut out = format!(
        "[upgrade/versions] Cluster version: {}\n[upgrade/versions] kubeadm version: {}\n",
        show(cluster),
        show(kubeadm)
    );
    let target = match args.iter().find(|a| !a.starts_with('-')) {
        Some(v) => {
            parse_version(v).ok_or_else(|| Exit(format!("unable to parse version {v:?}"), 1))?
        }
        None => kubeadm,
    };
    enforce(cluster, kubeadm, target, false)?;
    if target <= cluster {
        out.push_str("\nAwesome, you're up-to-date! Enjoy!\n");
        return Ok(out);
    }
    out.push_str(&format!("\nUpgrade to the latest version in the v{}.{} series:\n\nCOMPONENT                 NODE      CURRENT   TARGET\nkube-apiserver            node      {}   {}\n\nYou can now apply the upgrade by executing the following command:\n\n\tkubeadm upgrade apply {}\n\n", target.0, target.1, show(cluster), show(target), show(target)));
    Ok(out)
}

fn apply(env: &Env, args: &[String]) -> Res<String> {
    let flags: Vec<&str> = args.iter().map(String::as_str).collect();
    for f in flags.iter().filter(|f| f.starts_with('-')) {
        if !["--yes", "-y", "--force", "-f", "--dry-run"].contains(f) {
            return fail(1, format!("unknown flag: {f}"));
        }
    }
    let Some(version) = flags.iter().find(|a| !a.starts_with('-')) else {
        return fail(
            1,
            "missing one or more required arguments. Required arguments: [version]",
        );
    };
    let new = parse_version(version)
        .ok_or_else(|| Exit(format!("unable to parse version {version:?}"), 1))?;
    client(env, "/etc/kubernetes/admin.conf")?;
    let mut state = load(env)?;
    let cluster = cluster_version(&state)?;
    let force = flags.iter().any(|f| ["--force", "-f"].contains(f));
    enforce(cluster, kubeadm_version(env), new, force)?;
    if !force && !flags.iter().any(|f| ["--yes", "-y"].contains(f)) {
        return fail(
            1,
            "[upgrade] Are you sure you want to proceed? [y/N]: won't proceed; the user didn't answer (Y|n) in order to continue",
        );
    }
    state["serverVersion"] = Value::String(format!("{}.{}.{}", new.0, new.1, new.2));
    fs::write(
        state_path(env),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();
    env.write(
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        &format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\nspec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:{}\n", show(new)),
    );
    killed_here();
    Ok(format!(
        "[upgrade/successful] SUCCESS! A control plane node of your cluster was upgraded to \"{}\".\n",
        show(new)
    ))
}

fn node(env: &Env, _args: &[String]) -> Res<String> {
    client(env, "/etc/kubernetes/kubelet.conf")?;
    let cluster = cluster_version(&load(env)?)?;
    let kubeadm = kubeadm_version(env);
    // `kubeadm upgrade node` takes the cluster's version from the kubeadm-config ConfigMap
    // and enforces the same policy towards it (a kubeadm older than the cluster cannot).
    enforce(cluster, kubeadm, cluster, false)?;
    env.write("/var/lib/kubelet/config.yaml", &format!("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n# upgraded by kubeadm {}\n", show(kubeadm)));
    killed_here();
    Ok("[upgrade] The configuration for this node was successfully upgraded!\n".into())
}

/// `kubeadm upgrade SUBCOMMAND ...`.
pub fn run(env: &Env, args: &[String]) -> Res<String> {
    match args.first().map(String::as_str) {
        Some("plan") => plan(env, &args[1..]),
        Some("apply") => apply(env, &args[1..]),
        Some("node") => node(env, &args[1..]),
        other => fail(
            1,
            format!("unknown command {other:?} for \"kubeadm upgrade\""),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_like_kubeadm() {
        let (m, _) = policy((1, 33, 1), (1, 35, 0), (1, 35, 0));
        assert!(m[0].contains("too high"), "{m:?}");
        let (m, _) = policy((1, 34, 3), (1, 34, 3), (1, 35, 2));
        assert!(
            m[0].contains("higher than the kubeadm minor release (35 > 34)"),
            "{m:?}"
        );
        let (m, s) = policy((1, 34, 3), (1, 35, 1), (1, 35, 2));
        assert!(
            m.is_empty() && s[0].contains("Upgrade kubeadm first"),
            "{s:?}"
        );
        let (m, s) = policy((1, 34, 3), (1, 35, 2), (1, 35, 2));
        assert!(m.is_empty() && s.is_empty());
    }

    fn env(root: &std::path::Path) -> Env {
        Env {
            root: root.to_path_buf(),
            cluster: root.join(".standin/cluster"),
            version: (1, 35, 2),
            break_kubelet_config: false,
        }
    }

    #[test]
    fn a_node_not_initialised_or_joined_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let env = env(dir.path());
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let Err(Exit(msg, 1)) = run(&env, &args(&["apply", "v1.35.2", "--yes"])) else {
            panic!("apply ran")
        };
        assert!(msg.contains("/etc/kubernetes/admin.conf"), "{msg}");
        let Err(Exit(msg, 1)) = run(&env, &args(&["node"])) else {
            panic!("node ran")
        };
        assert!(msg.contains("/etc/kubernetes/kubelet.conf"), "{msg}");
        let Err(Exit(msg, 1)) = run(&env, &args(&["apply"])) else {
            panic!("apply without a version ran")
        };
        assert!(msg.contains("Required arguments: [version]"), "{msg}");
    }

    #[test]
    fn apply_needs_yes_and_a_kubeadm_as_new_as_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let env = env(dir.path());
        env.write("/etc/kubernetes/admin.conf", "kind: Config\n");
        env.write(
            "/.standin/cluster/kube.json",
            "{\"serverVersion\": \"1.34.3\"}",
        );
        env.write("/usr/bin/kubeadm", "#!/bin/sh\nV=1.34.3\n");
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let Err(Exit(msg, 1)) = run(&env, &args(&["apply", "v1.35.2", "--yes"])) else {
            panic!("ran")
        };
        assert!(
            msg.contains(
                "at least one minor release higher than the kubeadm minor release (35 > 34)"
            ),
            "{msg}"
        );
        env.write("/usr/bin/kubeadm", "#!/bin/sh\nV=1.35.2\n");
        let Err(Exit(msg, 1)) = run(&env, &args(&["apply", "v1.35.2"])) else {
            panic!("ran")
        };
        assert!(msg.contains("won't proceed"), "{msg}");
        let Err(Exit(msg, 1)) = run(&env, &args(&["apply", "v1.36.0", "--yes"])) else {
            panic!("ran")
        };
        assert!(msg.contains("too high"), "{msg}");
        let out = run(&env, &args(&["plan", "v1.35.2"]))
            .map_err(|Exit(m, _)| m)
            .unwrap();
        assert!(out.contains("\tkubeadm upgrade apply v1.35.2\n"), "{out}");
        run(&env, &args(&["apply", "v1.35.2", "--yes"]))
            .map_err(|Exit(m, _)| m)
            .unwrap();
        let state = std::fs::read_to_string(dir.path().join(".standin/cluster/kube.json")).unwrap();
        assert!(state.contains("\"1.35.2\""), "{state}");
    }
}
