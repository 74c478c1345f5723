//! kubeadm's preflight, evaluated ahead of kubeadm over facts read once ([`Facts`], see
//! the sibling `facts` module): a table of small pure rules ([`RULES`]), each giving findings named and
//! worded as kubeadm names and words them (kubernetes/kubernetes
//! cmd/kubeadm/app/preflight/checks.go and checks_linux.go: `InitNodeChecks`,
//! `JoinNodeChecks`, `addCommonChecks`, `addExecChecks`; docs/preflight.md lists them).

use std::collections::BTreeSet;

use super::sockets::Listener;
use crate::packages::tools::{HostTool, Need};
use crate::values::KubeVersion;

/// kubeadm's control-plane minimum CPUs (`kubeadmconstants.ControlPlaneNumCPU`).
pub const MIN_CPUS: usize = 2;
/// kubeadm's control-plane minimum memory in MB (`kubeadmconstants.ControlPlaneMem`).
pub const MIN_MEM_MB: u64 = 1700;
/// The kubelet's port, checked on every node.
pub const KUBELET_PORT: u16 = 10250;
/// kube-scheduler's and kube-controller-manager's secure ports, and etcd's client and peer
/// ports: checked on a control plane.
pub const CONTROL_PLANE_PORTS: [u16; 4] = [10259, 10257, 2379, 2380];
/// The modules kube-proxy's IPVS mode needs (kube-proxy's IPVS README: ip_vs, the rr, wrr
/// and sh schedulers, and nf_conntrack, which took over nf_conntrack_ipv4 in Linux 4.19).
pub const IPVS_MODULES: [&str; 5] = ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"];

/// What was read from the node, once.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The Kubernetes version the node gets.
    pub version: Option<KubeVersion>,
    /// `kubeadm init` (true) or `kubeadm join`.
    pub init: bool,
    /// The node is (or becomes) a control plane.
    pub control_plane: bool,
    /// The API server's port on this node.
    pub api_port: u16,
    /// Host tools and whether each was found.
    pub tools: Vec<(HostTool, bool)>,
    /// The packages step installs missing host tools (its method is not `none`).
    pub packages_installs_tools: bool,
    /// Listening sockets on the ports kubeadm checks; `None`: no /proc/net/tcp to read.
    pub listeners: Option<Vec<Listener>>,
    /// Processors in /proc/cpuinfo.
    pub cpus: Option<usize>,
    /// MemTotal of /proc/meminfo in MB (what sysinfo's totalram reports).
    pub mem_mb: Option<u64>,
    /// Entries of /etc/kubernetes/manifests (`None`: no such directory).
    pub manifests: Option<Vec<String>>,
    /// Entries of /var/lib/etcd (`None`: no such directory).
    pub etcd_data: Option<Vec<String>>,
    /// kubeadm-owned files that exist although kubeadm has not run (FileAvailable checks).
    pub present_files: Vec<String>,
    /// The node name kubeadm registers.
    pub node_name: String,
    /// The node name is in the node's /etc/hosts.
    pub name_resolves: bool,
    /// Why the container runtime did not answer (`None`: it did).
    pub runtime_error: Option<String>,
    /// The containerd step installs and starts the runtime (`containerd.install` is not
    /// `none`).
    pub runtime_managed: bool,
    /// The kubelet unit file exists.
    pub kubelet_unit: bool,
    /// The kubelet unit is enabled.
    pub kubelet_enabled: bool,
    /// The time synchronisation service found active, if any.
    pub time_sync: Option<String>,
    /// Seconds since the epoch now, and the bundle CA's notBefore.
    pub clock: Option<(i64, i64)>,
    /// kube-proxy runs in IPVS mode.
    pub ipvs: bool,
    /// Check names whose errors the profile turns into warnings (lowercase; `all`).
    pub ignored: BTreeSet<String>,
}

/// How kubeadm treats a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// kubeadm stops (`[ERROR NAME]`).
    Error,
    /// kubeadm goes on (`[WARNING NAME]`).
    Warning,
}

/// One finding: kubeadm's check name and words, and what happens about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// kubeadm's check name (`Port-6443`, `Mem`, `FileExisting-conntrack`), as
    /// `ignore_preflight_errors` takes it.
    pub check: String,
    /// Error or warning, as kubeadm would report it.
    pub severity: Severity,
    /// What kubeadm would say.
    pub message: String,
    /// What bootstrap does about it, or what the operator must do.
    pub remedy: String,
    /// bootstrap fixes it itself (in an earlier step or this one): never an error.
    pub ours: bool,
}

impl Finding {
    fn new(check: impl Into<String>, severity: Severity, message: String, remedy: String) -> Self {
        Finding {
            check: check.into(),
            severity,
            message,
            remedy,
            ours: false,
        }
    }

    /// Marks the finding as fixed by bootstrap itself (or not).
    fn owned(mut self, ours: bool) -> Self {
        self.ours = ours;
        self
    }

    /// The line kubeadm would print: `[ERROR Port-6443]: Port 6443 is in use`.
    pub fn kubeadm_line(&self) -> String {
        let level = match self.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        };
        format!("[{level} {}]: {}", self.check, self.message)
    }
}

/// Whether `check` is in the ignore set (kubeadm's `setHasItemOrAll`: case-insensitive, or
/// `all`).
pub fn is_ignored(ignored: &BTreeSet<String>, check: &str) -> bool {
    ignored.contains("all") || ignored.contains(&check.to_lowercase())
}

/// One rule: facts in, findings out.
pub type Rule = fn(&Facts, &mut Vec<Finding>);

/// Every rule, in kubeadm's order.
pub const RULES: &[Rule] = &[
    resources,
    ports,
    files,
    runtime,
    executables,
    hostname,
    kubelet_unit,
    clock,
    time_sync,
];

/// Evaluates every rule.
pub fn analyse(facts: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in RULES {
        rule(facts, &mut out);
    }
    out
}

fn resources(f: &Facts, out: &mut Vec<Finding>) {
    if !(f.control_plane) {
        return;
    }
    if let Some(cpus) = f.cpus.filter(|c| *c < MIN_CPUS) {
        out.push(Finding::new(
            "NumCPU",
            Severity::Error,
            format!("the number of available CPUs {cpus} is less than the required {MIN_CPUS}"),
            format!("give the control plane at least {MIN_CPUS} CPUs (/proc/cpuinfo lists {cpus})"),
        ));
    }
    if let Some(mb) = f.mem_mb.filter(|m| *m < MIN_MEM_MB) {
        out.push(Finding::new(
            "Mem",
            Severity::Error,
            format!("the system RAM ({mb} MB) is less than the minimum {MIN_MEM_MB} MB"),
            format!("give the control plane at least {MIN_MEM_MB} MB of memory (MemTotal in /proc/meminfo is {mb} MB)"),
        ));
    }
}

/// The ports kubeadm checks on this node, in its order.
pub fn checked_ports(control_plane: bool, api_port: u16) -> Vec<u16> {
    let mut ports = Vec::new();
    if control_plane {
        ports.push(api_port);
        ports.extend(CONTROL_PLANE_PORTS);
    }
    ports.push(KUBELET_PORT);
    ports
}

fn ports(f: &Facts, out: &mut Vec<Finding>) {
    let Some(listeners) = &f.listeners else {
        return;
    };
    for port in checked_ports(f.control_plane, f.api_port) {
        let holders: Vec<String> = listeners
            .iter()
            .filter(|l| l.port == port)
            .map(|l| match &l.process {
                Some(p) => format!("{p} on {}:{port}", l.address),
                None => format!("a process bootstrap cannot see on {}:{port}", l.address),
            })
            .collect();
        if holders.is_empty() {
            continue;
        }
        out.push(Finding::new(
            format!("Port-{port}"),
            Severity::Error,
            format!("Port {port} is in use"),
            format!(
                "{} listens there: stop it or move it to another port",
                holders.join(", ")
            ),
        ));
    }
}

fn dir_available(path: &str, entries: &Option<Vec<String>>, out: &mut Vec<Finding>) {
    if let Some(entries) = entries.as_ref().filter(|e| !e.is_empty()) {
        out.push(Finding::new(
            format!("DirAvailable-{}", path.replace('/', "-")),
            Severity::Error,
            format!("{path} is not empty"),
            format!(
                "it holds {}, left by an earlier run? `kubeadm reset -f` empties it",
                entries.join(", ")
            ),
        ));
    }
}

fn files(f: &Facts, out: &mut Vec<Finding>) {
    for path in &f.present_files {
        out.push(Finding::new(
            format!("FileAvailable-{}", path.replace('/', "-")),
            Severity::Error,
            format!("{path} already exists"),
            "left by an earlier kubeadm run? `kubeadm reset -f` removes it".into(),
        ));
    }
    if f.init {
        dir_available("/var/lib/etcd", &f.etcd_data, out);
    } else if !f.control_plane {
        dir_available("/etc/kubernetes/manifests", &f.manifests, out);
    }
}

fn runtime(f: &Facts, out: &mut Vec<Finding>) {
    if let Some(why) = &f.runtime_error {
        out.push(Finding::new(
            "CRI",
            Severity::Error,
            format!("container runtime is not running: {why}"),
            "the containerd step installs and starts it: see its result, or `systemctl status containerd`"
                .into(),
        ).owned(f.runtime_managed));
    }
}

fn executables(f: &Facts, out: &mut Vec<Finding>) {
    for (tool, found) in &f.tools {
        if *found {
            continue;
        }
        let severity = match tool.need {
            Need::Required => Severity::Error,
            Need::Warned => Severity::Warning,
        };
        let (remedy, ours) = match (tool.package, f.packages_installs_tools) {
            (Some(p), true) => (
                format!("the packages step installs it (Debian package {p})"),
                true,
            ),
            (Some(p), false) => (
                format!("packages.method = \"none\": install the Debian package {p}"),
                false,
            ),
            (None, _) => (
                "the packages step installs cri-tools (packages.cri_tools = true)".into(),
                false,
            ),
        };
        let mut finding = Finding::new(
            tool.check_name(),
            severity,
            format!("{} not found in system path", tool.name),
            remedy,
        );
        finding.ours = ours;
        out.push(finding);
    }
}

fn hostname(f: &Facts, out: &mut Vec<Finding>) {
    if !f.name_resolves {
        out.push(Finding::new(
            "Hostname",
            Severity::Warning,
            format!("hostname \"{}\" could not be reached", f.node_name),
            "the hosts step maps it in /etc/hosts (do not --skip hosts), or give it a DNS record"
                .into(),
        ).owned(true));
    }
}

fn kubelet_unit(f: &Facts, out: &mut Vec<Finding>) {
    if !f.kubelet_unit {
        out.push(Finding::new(
            "Service-Kubelet",
            Severity::Warning,
            "kubelet service does not exist".into(),
            "the packages step installs the kubelet and its unit (packages.method other than \"none\")".into(),
        ).owned(f.packages_installs_tools));
    } else if !f.kubelet_enabled {
        let mut finding = Finding::new(
            "Service-Kubelet",
            Severity::Warning,
            "kubelet service is not enabled, please run 'systemctl enable kubelet.service'".into(),
            "bootstrap enables it".into(),
        );
        finding.ours = true;
        out.push(finding);
    }
}

fn clock(f: &Facts, out: &mut Vec<Finding>) {
    let Some((now, not_before)) = f.clock.filter(|(now, nb)| now < nb) else {
        return;
    };
    let at = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map(|d| d.to_string())
            .unwrap_or_else(|_| t.to_string())
    };
    out.push(Finding::new(
        "Clock",
        Severity::Error,
        format!(
            "the clock ({}) is earlier than the bundle CA's notBefore ({}): every certificate kubeadm signs with it is not valid yet",
            at(now),
            at(not_before)
        ),
        "set the clock (enable time synchronisation: systemd-timesyncd or chrony), then apply again".into(),
    ));
}

fn time_sync(f: &Facts, out: &mut Vec<Finding>) {
    if f.time_sync.is_none() {
        out.push(Finding::new(
            "TimeSync",
            Severity::Warning,
            "no time synchronisation service is active (systemd-timesyncd, chrony)".into(),
            "certificates and etcd need agreeing clocks: `systemctl enable --now systemd-timesyncd` (or chrony)".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::tools::host_tools;

    fn healthy() -> Facts {
        let version: KubeVersion = "1.31.4".parse().unwrap();
        Facts {
            version: Some(version),
            init: true,
            control_plane: true,
            api_port: 6443,
            tools: host_tools(version).into_iter().map(|t| (t, true)).collect(),
            packages_installs_tools: true,
            listeners: Some(Vec::new()),
            cpus: Some(2),
            mem_mb: Some(1700),
            node_name: "master".into(),
            name_resolves: true,
            kubelet_unit: true,
            kubelet_enabled: true,
            time_sync: Some("systemd-timesyncd".into()),
            clock: Some((100, 50)),
            ..Facts::default()
        }
    }

    fn lines(f: &Facts) -> Vec<String> {
        analyse(f).iter().map(Finding::kubeadm_line).collect()
    }

    #[test]
    fn a_healthy_node_has_no_findings() {
        assert_eq!(lines(&healthy()), Vec::<String>::new());
    }

    #[test]
    fn resources_on_a_control_plane_only() {
        let mut f = healthy();
        f.cpus = Some(1);
        f.mem_mb = Some(1699);
        assert_eq!(
            lines(&f),
            [
                "[ERROR NumCPU]: the number of available CPUs 1 is less than the required 2",
                "[ERROR Mem]: the system RAM (1699 MB) is less than the minimum 1700 MB"
            ]
        );
        f.control_plane = false;
        f.init = false;
        assert!(lines(&f).is_empty());
    }

    #[test]
    fn ports_per_role_name_the_process() {
        let mut f = healthy();
        let l = |port, process: Option<&str>| Listener {
            port,
            address: "127.0.0.1".into(),
            inode: 1,
            process: process.map(str::to_string),
        };
        f.listeners = Some(vec![l(6443, Some("nginx (pid 42)")), l(10250, None)]);
        let found = analyse(&f);
        assert_eq!(
            found[0].kubeadm_line(),
            "[ERROR Port-6443]: Port 6443 is in use"
        );
        assert!(found[0].remedy.contains("nginx (pid 42) on 127.0.0.1:6443"));
        assert_eq!(found[1].check, "Port-10250");
        f.control_plane = false;
        f.init = false;
        let checks: Vec<String> = analyse(&f).into_iter().map(|x| x.check).collect();
        assert_eq!(
            checks,
            ["Port-10250"],
            "a worker is not held to the control-plane ports"
        );
        assert_eq!(
            checked_ports(true, 8443),
            [8443, 10259, 10257, 2379, 2380, 10250]
        );
    }

    #[test]
    fn executables_by_version_and_method() {
        let version: KubeVersion = "1.31.4".parse().unwrap();
        let mut f = healthy();
        f.tools = host_tools(version)
            .into_iter()
            .map(|t| (t, !["conntrack", "socat"].contains(&t.name)))
            .collect();
        let found = analyse(&f);
        assert_eq!(
            found.iter().map(Finding::kubeadm_line).collect::<Vec<_>>(),
            [
                "[ERROR FileExisting-conntrack]: conntrack not found in system path",
                "[WARNING FileExisting-socat]: socat not found in system path"
            ]
        );
        assert!(
            found.iter().all(|x| x.ours),
            "the packages step installs both"
        );
        f.packages_installs_tools = false;
        assert!(
            analyse(&f)
                .iter()
                .all(|x| !x.ours && x.remedy.contains("install the Debian package"))
        );
        let newer: KubeVersion = "1.32.0".parse().unwrap();
        f.tools = host_tools(newer)
            .into_iter()
            .map(|t| (t, t.name != "conntrack"))
            .collect();
        assert_eq!(
            analyse(&f)[0].severity,
            Severity::Warning,
            "1.32 no longer requires conntrack"
        );
    }

    #[test]
    fn clock_before_the_ca() {
        let mut f = healthy();
        f.clock = Some((1_000, 2_000));
        let found = analyse(&f);
        assert_eq!(found[0].check, "Clock");
        assert!(
            found[0].message.contains("not valid yet"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn join_checks_differ_from_init() {
        let mut f = healthy();
        f.manifests = Some(vec!["other.yaml".into()]);
        f.etcd_data = Some(vec!["member".into()]);
        assert_eq!(
            lines(&f),
            ["[ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty"]
        );
        f.init = false;
        f.control_plane = false;
        assert_eq!(
            lines(&f),
            [
                "[ERROR DirAvailable--etc-kubernetes-manifests]: /etc/kubernetes/manifests is not empty"
            ]
        );
    }

    #[test]
    fn ignore_names_are_case_insensitive() {
        let set: BTreeSet<String> = ["port-6443".to_string()].into();
        assert!(is_ignored(&set, "Port-6443"));
        assert!(!is_ignored(&set, "Mem"));
        assert!(is_ignored(&["all".to_string()].into(), "Mem"));
    }
}
