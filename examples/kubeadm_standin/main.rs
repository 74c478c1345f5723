//! A strict stand-in for `kubeadm`, for the sandbox tests (real kubeadm cannot run there).
//!
//! It pretends to be kubeadm `$STANDIN_KUBEADM_VERSION` (default 1.35.2) and:
//! - parses the `--config` YAML (node path under `$SANDBOX_ROOT`) and rejects unknown kinds,
//!   apiVersions the version does not serve, and unknown fields, from its own allow-list
//!   written from the kubeadm configuration API reference (kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta3/ and .v1beta4/; not from the crate's types); checks the shape of extraArgs
//!   (map in v1beta3, `{name, value}` list in v1beta4), token / CA hash / certificate key
//!   formats, node names, the control-plane version skew, and the flags that may not be
//!   mixed with `--config`;
//! - runs kubeadm's preflight file checks, and simulates the kubelet: swap on, a cgroup
//!   driver different from containerd's `SystemdCgroup`, or a missing
//!   /var/lib/kubelet/config.yaml make init/join fail the way kubeadm does, with the
//!   kubelet's complaint in `$SANDBOX_ROOT/.standin/kubelet.journal`;
//! - writes the files kubeadm writes (admin.conf, super-admin.conf from 1.29, kubelet.conf,
//!   static pod manifests, pki, /var/lib/kubelet/config.yaml) under `$SANDBOX_ROOT`;
//! - keeps the cluster in `$STANDIN_CLUSTER` (shared by the sandboxes of one test): init
//!   registers the endpoint, tokens, CA hash (computed with `openssl`, independently of the
//!   crate) and uploaded certificate key; join discovers through it and fails like kubeadm
//!   while the endpoint is down, or when token, hash or certificate key do not match;
//! - appends `kubeadm ARGS` to `$STANDIN_LOG`; fails every command when `$STANDIN_FAIL`
//!   names kubeadm; `$STANDIN_KUBEADM_BREAK=kubelet-config` skips writing the kubelet config.

mod certs;
mod preflight;
mod reset;
mod upgrade;
mod validation;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, exit};

use serde_json::Value;

mod yaml11;

/// What went wrong: message for stderr and exit code (1 general, 2 preflight, 3 validation).
struct Exit(String, i32);

type Res<T> = Result<T, Exit>;

fn fail<T>(code: i32, msg: impl Into<String>) -> Res<T> {
    Err(Exit(msg.into(), code))
}

struct Env {
    root: PathBuf,
    cluster: PathBuf,
    version: (u32, u32, u32),
    break_kubelet_config: bool,
}

impl Env {
    fn path(&self, node: &str) -> PathBuf {
        self.root.join(node.trim_start_matches('/'))
    }
    fn exists(&self, node: &str) -> bool {
        self.path(node).exists()
    }
    fn write(&self, node: &str, text: &str) {
        let p = self.path(node);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    fn journal(&self, line: &str) {
        let p = self.path("/.standin/kubelet.journal");
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        writeln!(f, "kubelet[1234]: {line}").unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// The allow-list (the kubeadm configuration API reference, v1beta3 and v1beta4), per API version.

enum S {
    Any,
    Str,
    Bool,
    Int,
    List(Box<S>),
    Obj(Vec<(&'static str, S)>),
    /// extraArgs / kubeletExtraArgs: a string map (v1beta3) or `{name, value}` list (v1beta4).
    Args,
}

fn obj(fields: Vec<(&'static str, S)>) -> S {
    S::Obj(fields)
}
fn list(s: S) -> S {
    S::List(Box::new(s))
}

fn endpoint() -> S {
    obj(vec![("advertiseAddress", S::Str), ("bindPort", S::Int)])
}

fn node_registration(v4: bool) -> S {
    let mut f = vec![
        ("name", S::Str),
        ("criSocket", S::Str),
        (
            "taints",
            list(obj(vec![
                ("key", S::Str),
                ("value", S::Str),
                ("effect", S::Str),
                ("timeAdded", S::Str),
            ])),
        ),
        ("kubeletExtraArgs", S::Args),
        ("ignorePreflightErrors", list(S::Str)),
        ("imagePullPolicy", S::Str),
    ];
    if v4 {
        f.push(("imagePullSerial", S::Bool));
    }
    obj(f)
}

fn timeouts() -> S {
    obj(vec![
        ("controlPlaneComponentHealthCheck", S::Str),
        ("kubeletHealthCheck", S::Str),
        ("kubernetesAPICall", S::Str),
        ("etcdAPICall", S::Str),
        ("tlsBootstrap", S::Str),
        ("discovery", S::Str),
        ("upgradeManifests", S::Str),
    ])
}

fn init_schema(v4: bool) -> S {
    let mut f = vec![
        ("apiVersion", S::Str),
        ("kind", S::Str),
        (
            "bootstrapTokens",
            list(obj(vec![
                ("token", S::Str),
                ("description", S::Str),
                ("ttl", S::Str),
                ("expires", S::Str),
                ("usages", list(S::Str)),
                ("groups", list(S::Str)),
            ])),
        ),
        ("nodeRegistration", node_registration(v4)),
        ("localAPIEndpoint", endpoint()),
        ("certificateKey", S::Str),
        ("skipPhases", list(S::Str)),
        ("patches", obj(vec![("directory", S::Str)])),
    ];
    if v4 {
        f.push(("dryRun", S::Bool));
        f.push(("timeouts", timeouts()));
    }
    obj(f)
}

fn component(v4: bool) -> S {
    let mut f = vec![("extraArgs", S::Args), ("extraVolumes", list(S::Any))];
    if v4 {
        f.push(("extraEnvs", list(S::Any)));
    }
    obj(f)
}

fn cluster_schema(v4: bool) -> S {
    let mut api = vec![
        ("extraArgs", S::Args),
        ("extraVolumes", list(S::Any)),
        ("certSANs", list(S::Str)),
    ];
    let mut local = vec![
        ("imageRepository", S::Str),
        ("imageTag", S::Str),
        ("dataDir", S::Str),
        ("extraArgs", S::Args),
        ("serverCertSANs", list(S::Str)),
        ("peerCertSANs", list(S::Str)),
    ];
    let mut external = vec![
        ("endpoints", list(S::Str)),
        ("caFile", S::Str),
        ("certFile", S::Str),
        ("keyFile", S::Str),
    ];
    let mut dns = vec![("imageRepository", S::Str), ("imageTag", S::Str)];
    let mut f = vec![
        ("apiVersion", S::Str),
        ("kind", S::Str),
        ("kubernetesVersion", S::Str),
        ("controlPlaneEndpoint", S::Str),
        (
            "networking",
            obj(vec![
                ("serviceSubnet", S::Str),
                ("podSubnet", S::Str),
                ("dnsDomain", S::Str),
            ]),
        ),
        ("controllerManager", component(v4)),
        ("scheduler", component(v4)),
        ("certificatesDir", S::Str),
        ("imageRepository", S::Str),
        ("featureGates", S::Any),
        ("clusterName", S::Str),
    ];
    if v4 {
        api.push(("extraEnvs", list(S::Any)));
        local.push(("extraEnvs", list(S::Any)));
        external.push(("httpEndpoints", list(S::Str)));
        dns.push(("disabled", S::Bool));
        f.push(("proxy", obj(vec![("disabled", S::Bool)])));
        f.push(("encryptionAlgorithm", S::Str));
        f.push(("certificateValidityPeriod", S::Str));
        f.push(("caCertificateValidityPeriod", S::Str));
    } else {
        api.push(("timeoutForControlPlane", S::Str));
    }
    f.push(("apiServer", obj(api)));
    f.push((
        "etcd",
        obj(vec![("local", obj(local)), ("external", obj(external))]),
    ));
    f.push(("dns", obj(dns)));
    obj(f)
}

fn join_schema(v4: bool) -> S {
    let mut discovery = vec![
        (
            "bootstrapToken",
            obj(vec![
                ("token", S::Str),
                ("apiServerEndpoint", S::Str),
                ("caCertHashes", list(S::Str)),
                ("unsafeSkipCAVerification", S::Bool),
            ]),
        ),
        ("file", obj(vec![("kubeConfigPath", S::Str)])),
        ("tlsBootstrapToken", S::Str),
    ];
    let mut f = vec![
        ("apiVersion", S::Str),
        ("kind", S::Str),
        ("nodeRegistration", node_registration(v4)),
        ("caCertPath", S::Str),
        (
            "controlPlane",
            obj(vec![
                ("localAPIEndpoint", endpoint()),
                ("certificateKey", S::Str),
            ]),
        ),
        ("skipPhases", list(S::Str)),
        ("patches", obj(vec![("directory", S::Str)])),
    ];
    if v4 {
        f.push(("dryRun", S::Bool));
        f.push(("timeouts", timeouts()));
    } else {
        discovery.push(("timeout", S::Str));
    }
    f.push(("discovery", obj(discovery)));
    obj(f)
}

fn kubelet_schema() -> S {
    let mut f: Vec<(&'static str, S)> = vec![
        ("apiVersion", S::Str),
        ("kind", S::Str),
        ("cgroupDriver", S::Str),
        ("failSwapOn", S::Bool),
        ("failCgroupV1", S::Bool),
        ("memorySwap", S::Any),
        ("maxPods", S::Int),
        ("featureGates", S::Any),
        ("authentication", S::Any),
        ("authorization", S::Any),
    ];
    for key in [
        "containerRuntimeEndpoint",
        "clusterDomain",
        "resolvConf",
        "staticPodPath",
    ] {
        f.push((key, S::Str));
    }
    f.push(("clusterDNS", list(S::Str)));
    obj(f)
}

fn proxy_schema() -> S {
    obj(vec![
        ("apiVersion", S::Str),
        ("kind", S::Str),
        ("mode", S::Str),
        ("clusterCIDR", S::Str),
        ("bindAddress", S::Str),
        ("metricsBindAddress", S::Str),
        ("featureGates", S::Any),
        ("iptables", S::Any),
        ("ipvs", S::Any),
        ("nftables", S::Any),
        ("conntrack", S::Any),
    ])
}

/// The JSON type name Go's encoding/json puts in "cannot unmarshal X into ...".
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Strict decoding of one document (`kind`) into its API type. A JSON null leaves a field
/// at its zero value, as Go's decoder does; a value of the wrong JSON type fails with
/// encoding/json's own message (`json: cannot unmarshal bool into Go struct field
/// ….nodeRegistration.name of type string`), which is what kubeadm prints after
/// sigs.k8s.io/yaml turned an unquoted `no` into `false`.
fn check(v: &Value, s: &S, kind: &str, path: &str, v4: bool, errors: &mut Vec<String>) {
    if v.is_null() {
        return;
    }
    let wrong = |errors: &mut Vec<String>, go_type: &str| {
        errors.push(format!(
            "json: cannot unmarshal {} into Go struct field {kind}{path} of type {go_type}",
            json_kind(v)
        ))
    };
    match s {
        S::Any => {}
        S::Str => {
            if !v.is_string() {
                wrong(errors, "string");
            }
        }
        S::Bool => {
            if !v.is_boolean() {
                wrong(errors, "bool");
            }
        }
        S::Int => {
            if !v.is_u64() {
                wrong(errors, "int32");
            }
        }
        S::List(item) => match v.as_array() {
            Some(items) => {
                for (i, x) in items.iter().enumerate() {
                    check(x, item, kind, &format!("{path}[{i}]"), v4, errors);
                }
            }
            None => wrong(errors, "[]string"),
        },
        S::Obj(fields) => match v.as_object() {
            Some(map) => {
                for (k, x) in map {
                    let key = k.as_str();
                    match fields.iter().find(|(name, _)| *name == key) {
                        Some((_, fs)) => check(x, fs, kind, &format!("{path}.{key}"), v4, errors),
                        None => errors.push(format!(
                            "strict decoding error: unknown field \"{}\"",
                            format!("{path}.{key}").trim_start_matches('.')
                        )),
                    }
                }
            }
            None => wrong(errors, "struct"),
        },
        S::Args => {
            if v4 {
                // []Arg{Name, Value string}
                let arg = obj(vec![("name", S::Str), ("value", S::Str)]);
                match v.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            check(item, &arg, kind, &format!("{path}[{i}]"), v4, errors);
                        }
                    }
                    None => wrong(errors, "[]v1beta4.Arg"),
                }
            } else {
                // map[string]string
                match v.as_object() {
                    Some(map) => {
                        for x in map.values() {
                            check(x, &S::Str, kind, path, v4, errors);
                        }
                    }
                    None => wrong(errors, "map[string]string"),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Formats.

fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut p = s.trim_start_matches('v').split('.').map(|x| x.parse().ok());
    Some((p.next()??, p.next()??, p.next()??))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

// ---------------------------------------------------------------------------------------
// The config file.

struct Config {
    docs: BTreeMap<String, Value>,
}

impl Config {
    fn kind(&self, kind: &str) -> Option<&Value> {
        self.docs.get(kind)
    }
}

fn load_config(env: &Env, node_path: &str, command: &str) -> Res<Config> {
    let text = fs::read_to_string(env.path(node_path)).or_else(|e| {
        fail(
            1,
            format!("unable to read config from \"{node_path}\": {e}"),
        )
    })?;
    let (maj, min, _) = env.version;
    let mut docs = BTreeMap::new();
    let mut errors = Vec::new();
    for v in yaml11::documents(&text).or_else(|e| fail(3, e))? {
        let api = str_at(&v, &["apiVersion"]).unwrap_or("").to_string();
        let kind = str_at(&v, &["kind"]).unwrap_or("").to_string();
        let kubeadm_api = |want: &str| api == format!("kubeadm.k8s.io/{want}");
        let schema = match kind.as_str() {
            "InitConfiguration" | "ClusterConfiguration" | "JoinConfiguration" => {
                let v4 = kubeadm_api("v1beta4");
                let served = (v4 && (maj, min) >= (1, 31))
                    || (kubeadm_api("v1beta3") && (maj, min) < (1, 36));
                if !served {
                    return fail(
                        3,
                        format!(
                            "no kind \"{kind}\" is registered for version \"{api}\" in kubeadm v{maj}.{min}"
                        ),
                    );
                }
                match kind.as_str() {
                    "InitConfiguration" => (init_schema(v4), v4),
                    "ClusterConfiguration" => (cluster_schema(v4), v4),
                    _ => (join_schema(v4), v4),
                }
            }
            "KubeletConfiguration" if api == "kubelet.config.k8s.io/v1beta1" => {
                (kubelet_schema(), false)
            }
            "KubeProxyConfiguration" if api == "kubeproxy.config.k8s.io/v1alpha1" => {
                (proxy_schema(), false)
            }
            _ => {
                return fail(
                    3,
                    format!("no kind \"{kind}\" is registered for version \"{api}\""),
                );
            }
        };
        check(&v, &schema.0, &kind, "", schema.1, &mut errors);
        if docs.insert(kind.clone(), v).is_some() {
            errors.push(format!("duplicate {kind}"));
        }
    }
    // Values with formats, in kubeadm's words (see validation.rs).
    if let Some(init) = docs.get("InitConfiguration") {
        check_init(init, &mut errors)?;
    }
    if let Some(join) = docs.get("JoinConfiguration") {
        check_join(join, &mut errors);
    }
    let registration = docs
        .get(if command == "init" {
            "InitConfiguration"
        } else {
            "JoinConfiguration"
        })
        .and_then(|d| d.get("nodeRegistration"));
    check_registration(registration, &mut errors);
    if let Some(cluster) = docs.get("ClusterConfiguration") {
        check_version(cluster, (maj, min))?;
    }
    if errors.is_empty() {
        Ok(Config { docs })
    } else {
        fail(3, validation::aggregate(&errors))
    }
}

/// InitConfiguration's tokens (a token not of the pattern fails decoding, exit 1) and key.
fn check_init(init: &Value, errors: &mut Vec<String>) -> Res<()> {
    let tokens = init.get("bootstrapTokens").and_then(Value::as_array);
    for t in tokens.into_iter().flatten() {
        let token = str_at(t, &["token"]).unwrap_or("");
        if !validation::token_ok(token) {
            return fail(1, validation::token_not_of_the_form(token));
        }
    }
    let key = str_at(init, &["certificateKey"]).unwrap_or("");
    errors.extend(validation::certificate_key("certificateKey", key));
    Ok(())
}

/// `ValidateDiscovery` and `ValidateJoinControlPlane`'s key.
fn check_join(join: &Value, errors: &mut Vec<String>) {
    let discovery = join.get("discovery");
    let bt = discovery.and_then(|d| d.get("bootstrapToken"));
    let file = discovery.and_then(|d| d.get("file"));
    match (bt, file) {
        (None, None) => errors.push(validation::invalid(
            "discovery",
            "",
            "bootstrapToken or file must be set",
        )),
        (Some(_), Some(_)) => errors.push(validation::invalid(
            "discovery",
            "",
            "bootstrapToken and file cannot both be set",
        )),
        _ => {}
    }
    if let Some(bt) = bt {
        let endpoint = str_at(bt, &["apiServerEndpoint"]).unwrap_or("");
        if endpoint.is_empty() {
            errors.push(validation::required(
                "discovery.bootstrapToken",
                "APIServerEndpoint is not set",
            ));
        }
        let hashes = bt.get("caCertHashes").and_then(Value::as_array);
        if hashes.is_none_or(Vec::is_empty)
            && bt.get("unsafeSkipCAVerification") != Some(&Value::Bool(true))
        {
            errors.push(validation::invalid("discovery.bootstrapToken.caCertHashes", "", "using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue"));
        }
        let token = str_at(bt, &["token"]).unwrap_or("");
        if !validation::token_ok(token) {
            errors.push(validation::invalid(
                "discovery.bootstrapToken.token",
                token,
                "the bootstrap token is invalid",
            ));
        }
        if let Some(e) = validation::split_host_port(endpoint) {
            errors.push(validation::invalid(
                "discovery.bootstrapToken.apiServerEndpoint",
                endpoint,
                &e,
            ));
        }
    }
    // Defaulting copies the discovery token into an empty tlsBootstrapToken.
    let tls = discovery
        .and_then(|d| str_at(d, &["tlsBootstrapToken"]))
        .filter(|t| !t.is_empty());
    if let Some(tls) = tls
        && !validation::token_ok(tls)
    {
        errors.push(validation::invalid(
            "discovery.tlsBootstrapToken",
            tls,
            "the bootstrap token is invalid",
        ));
    }
    if let Some(cp) = join.get("controlPlane") {
        let key = str_at(cp, &["certificateKey"]).unwrap_or("");
        errors.extend(validation::certificate_key(
            "controlPlane.certificateKey",
            key,
        ));
    }
}

/// `ValidateNodeRegistrationOptions`: the name and the CRI socket.
fn check_registration(registration: Option<&Value>, errors: &mut Vec<String>) {
    if let Some(name) = registration.and_then(|r| str_at(r, &["name"])) {
        for e in validation::dns1123_subdomain(name) {
            errors.push(validation::invalid("nodeRegistration.name", name, &e));
        }
    }
    if let Some(sock) = registration.and_then(|r| str_at(r, &["criSocket"])) {
        match validation::cri_socket("nodeRegistration.criSocket", sock) {
            Ok(Some(warning)) => {
                eprintln!("W1201 00:00:00.000000       1 initconfiguration.go:125] {warning}")
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
}

/// `NormalizeKubernetesVersion`: a control plane older than kubeadm supports is refused
/// (exit 1, a plain error); a newer one is kubeadm's preflight warning, not refused here.
fn check_version(cluster: &Value, (maj, min): (u32, u32)) -> Res<()> {
    let text = str_at(cluster, &["kubernetesVersion"]).unwrap_or("");
    let Some(v) = parse_version(text) else {
        return fail(
            1,
            format!(
                "couldn't parse Kubernetes version {}: could not parse {} as version",
                validation::quote(text),
                validation::quote(text)
            ),
        );
    };
    if (v.0, v.1) < (maj, min - 1) {
        return fail(
            1,
            format!(
                "this version of kubeadm only supports deploying clusters with the control plane version >= {maj}.{}.0. Current version: {text}",
                min - 1
            ),
        );
    }
    Ok(())
}

/// Flags that may be combined with --config (kubeadm's isAllowedFlag).
fn check_flags(flags: &[String]) -> Res<()> {
    let allowed = [
        "config",
        "ignore-preflight-errors",
        "dry-run",
        "kubeconfig",
        "node-name",
        "kubeconfig-dir",
        "upload-certs",
        "print-join-command",
        "rootfs",
        "v",
        "log-file",
    ];
    let has_config = flags
        .iter()
        .any(|f| f == "--config" || f.starts_with("--config="));
    let bad: Vec<&str> = flags
        .iter()
        .filter(|f| f.starts_with("--"))
        .map(|f| f.trim_start_matches("--").split('=').next().unwrap_or(""))
        .filter(|f| !allowed.contains(f) && !f.starts_with("skip-"))
        .collect();
    if has_config && !bad.is_empty() {
        return fail(
            1,
            format!("can not mix '--config' with arguments [{}]", bad.join(" ")),
        );
    }
    if !has_config {
        return fail(1, "this stand-in only runs with --config");
    }
    Ok(())
}

fn flag_value(flags: &[String], name: &str) -> Option<String> {
    let i = flags.iter().position(|f| f == name)?;
    flags.get(i + 1).cloned()
}

// ---------------------------------------------------------------------------------------
// The cluster, shared between sandboxes.

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Res<Vec<u8>> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .or_else(|e| fail(1, format!("openssl: {e}")))?;
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return fail(
            1,
            format!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ),
        );
    }
    Ok(out.stdout)
}

/// `sha256:` + SHA-256 of the CA's DER public key, the shell way (the openssl pipeline of kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-join/; kubeadm's cmd/kubeadm/app/util/pubkeypin).
fn ca_hash(cert: &Path) -> Res<String> {
    let pubkey = openssl(
        &["x509", "-in", cert.to_str().unwrap(), "-pubkey", "-noout"],
        None,
    )?;
    let der = openssl(&["pkey", "-pubin", "-outform", "DER"], Some(&pubkey))?;
    let sum = openssl(&["dgst", "-sha256", "-hex", "-r"], Some(&der))?;
    Ok(format!(
        "sha256:{}",
        String::from_utf8_lossy(&sum)
            .split_whitespace()
            .next()
            .unwrap_or("")
    ))
}

fn random_token() -> String {
    let mut bytes = [0u8; 22];
    getrandom::fill(&mut bytes).unwrap();
    let chars: String = bytes
        .iter()
        .map(|b| b"abcdefghijklmnopqrstuvwxyz0123456789"[usize::from(*b) % 36] as char)
        .collect();
    format!("{}.{}", &chars[..6], &chars[6..])
}

fn cluster_dir(env: &Env, endpoint: &str) -> Option<PathBuf> {
    let id = fs::read_to_string(env.cluster.join("endpoints").join(endpoint)).ok()?;
    Some(env.cluster.join(id.trim()))
}

fn kubeconfig(server: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: c3RhbmRpbg==\n    server: https://{server}\n  name: kubernetes\nusers:\n- name: {user}\n  user:\n    client-certificate-data: c3RhbmRpbg==\n"
    )
}

fn write_control_plane_files(env: &Env, server: &str, node: &str) {
    for (file, user) in [
        ("admin.conf", "kubernetes-admin"),
        ("controller-manager.conf", "system:kube-controller-manager"),
        ("scheduler.conf", "system:kube-scheduler"),
        ("kubelet.conf", &format!("system:node:{node}")),
    ] {
        env.write(
            &format!("/etc/kubernetes/{file}"),
            &kubeconfig(server, user),
        );
    }
    for m in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        env.write(
            &format!("/etc/kubernetes/manifests/{m}.yaml"),
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {m}\n  namespace: kube-system\n"
            ),
        );
    }
    for f in [
        "apiserver.crt",
        "apiserver.key",
        "apiserver-kubelet-client.crt",
        "apiserver-kubelet-client.key",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "front-proxy-client.crt",
        "front-proxy-client.key",
        "sa.key",
        "sa.pub",
        "etcd/ca.crt",
        "etcd/ca.key",
        "etcd/server.crt",
        "etcd/server.key",
    ] {
        env.write(&format!("/etc/kubernetes/pki/{f}"), "standin\n");
    }
}

/// The cluster's kubelet configuration with this node's `kubeletconfiguration` patches
/// applied, as kubeadm's `patches` mechanism does (files named
/// `target[suffix][+patchtype].extension`, applied in name order; patchtype `strategic`
/// (default), `merge` or `json`; extension `yaml` or `json`). For the flat fields of a
/// KubeletConfiguration a strategic merge patch acts as a JSON merge patch (RFC 7386);
/// `json` patches are not modelled and refused.
fn patched_kubelet_config(env: &Env, config: &str, dir: Option<&str>) -> Res<String> {
    let Some(dir) = dir else {
        return Ok(config.to_string());
    };
    let mut names: Vec<String> = fs::read_dir(env.path(dir))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut value = yaml11::documents(config)
        .ok()
        .and_then(|d| d.into_iter().next())
        .unwrap_or(Value::Null);
    for name in names
        .iter()
        .filter(|n| n.starts_with("kubeletconfiguration"))
    {
        let stem = name.trim_end_matches(".yaml").trim_end_matches(".json");
        let kind = stem.split_once('+').map_or("strategic", |(_, k)| k);
        if kind == "json" {
            return fail(
                1,
                format!("the stand-in does not model json patches: {name}"),
            );
        }
        let text = fs::read_to_string(env.path(&format!("{dir}/{name}"))).unwrap_or_default();
        let patch = yaml11::documents(&text)
            .or_else(|e| {
                fail(
                    1,
                    format!(
                        "error execution phase kubelet-start: could not apply patch {name}: {e}"
                    ),
                )
            })?
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
        merge_patch(&mut value, &patch);
    }
    Ok(serde_norway::to_string(&value).unwrap())
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let t = target.as_object_mut().unwrap();
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn kubelet_files(env: &Env, kubelet: &str) {
    if !env.break_kubelet_config {
        env.write("/var/lib/kubelet/config.yaml", kubelet);
    }
    env.write("/var/lib/kubelet/kubeadm-flags.env", "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock\"\n");
}

/// The kubelet's view of the node: `Err` with the kubelet's complaint when it would not run.
fn kubelet_runs(env: &Env) -> Res<()> {
    let Ok(config) = fs::read_to_string(env.path("/var/lib/kubelet/config.yaml")) else {
        env.journal("E0101 run.go:72] \"command failed\" err=\"failed to load kubelet config file, path: /var/lib/kubelet/config.yaml, error: open /var/lib/kubelet/config.yaml: no such file or directory\"");
        return fail(1, "");
    };
    let config = yaml11::documents(&config)
        .ok()
        .and_then(|d| d.into_iter().next())
        .unwrap_or(Value::Null);
    let swaps = fs::read_to_string(env.path("/proc/swaps")).unwrap_or_default();
    let fail_swap_on = config.get("failSwapOn") != Some(&Value::Bool(false));
    if swaps.lines().skip(1).any(|l| !l.trim().is_empty()) && fail_swap_on {
        env.journal("E0101 run.go:72] \"command failed\" err=\"failed to run Kubelet: running with swap on is not supported, please disable swap or set --fail-swap-on flag to false\"");
        return fail(1, "");
    }
    let kubelet_driver = str_at(&config, &["cgroupDriver"]).unwrap_or("systemd");
    if let Ok(toml) = fs::read_to_string(env.path("/etc/containerd/config.toml")) {
        let systemd = toml.lines().any(|l| {
            let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            l == "SystemdCgroup=true"
        });
        let runtime = if systemd { "systemd" } else { "cgroupfs" };
        if runtime != kubelet_driver {
            env.journal("E0101 pod_workers.go:1298] \"Error syncing pod\" err=\"failed to \\\"CreatePodSandbox\\\": rpc error: code = Unknown desc = failed to create containerd task: OCI runtime create failed: expected cgroupsPath to be of format \\\"slice:prefix:name\\\" for systemd cgroups\"");
            return fail(1, "");
        }
    }
    env.journal("I0101 kubelet.go:2400] \"Started kubelet\"");
    Ok(())
}

const WAIT_FAILED: &str = "[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory \"/etc/kubernetes/manifests\"\n[kubelet-check] The kubelet is not healthy after 4m0s\n\nUnfortunately, an error has occurred, likely caused by:\n\t- The kubelet is not running\n\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)\n\nerror execution phase wait-control-plane: could not initialize a Kubernetes cluster\nTo see the stack trace of this error execute with --v=5 or higher";

fn init(env: &Env, flags: &[String]) -> Res<String> {
    check_flags(flags)?;
    let config = load_config(
        env,
        &flag_value(flags, "--config").unwrap_or_default(),
        "init",
    )?;
    let empty = Value::Null;
    let init = config.kind("InitConfiguration").unwrap_or(&empty);
    let cluster = config.kind("ClusterConfiguration").unwrap_or(&empty);
    // preflight
    let mut errors = Vec::new();
    preflight::check(env, &config, true, &mut errors);
    for m in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ] {
        let p = format!("/etc/kubernetes/manifests/{m}.yaml");
        if env.exists(&p) {
            errors.push(format!(
                "\t[ERROR FileAvailable--etc-kubernetes-manifests-{m}.yaml]: {p} already exists"
            ));
        }
    }
    if env.exists("/etc/kubernetes/kubelet.conf") {
        errors.push("\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists".into());
    }
    if !errors.is_empty() {
        return fail(
            2,
            format!(
                "[preflight] Running pre-flight checks\nerror execution phase preflight: [preflight] Some fatal errors occurred:\n{}",
                errors.join("\n")
            ),
        );
    }
    let mut out =
        String::from("[init] Using Kubernetes version\n[preflight] Running pre-flight checks\n");
    // certs: a pre-placed CA is used when cert and key match.
    let (crt, key) = (
        env.path("/etc/kubernetes/pki/ca.crt"),
        env.path("/etc/kubernetes/pki/ca.key"),
    );
    match (crt.exists(), key.exists()) {
        (true, true) => {
            let cert_pub = openssl(
                &["x509", "-in", crt.to_str().unwrap(), "-pubkey", "-noout"],
                None,
            )?;
            let key_pub = openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout"], None)?;
            if cert_pub != key_pub {
                return fail(
                    1,
                    "error execution phase certs/ca: failure loading ca certificate authority: the private key does not match the certificate",
                );
            }
            out.push_str("[certs] Using existing ca certificate authority\n");
        }
        (false, false) => {
            fs::create_dir_all(crt.parent().unwrap()).unwrap();
            openssl(
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    key.to_str().unwrap(),
                    "-out",
                    crt.to_str().unwrap(),
                    "-subj",
                    "/CN=kubernetes",
                    "-days",
                    "3650",
                ],
                None,
            )?;
            out.push_str("[certs] Generating \"ca\" certificate and key\n");
        }
        _ => {
            return fail(
                1,
                "error execution phase certs/ca: failure loading ca certificate authority: couldn't load the certificate and key",
            );
        }
    }
    let port = init
        .get("localAPIEndpoint")
        .and_then(|e| e.get("bindPort"))
        .and_then(Value::as_u64)
        .unwrap_or(6443);
    let advertise = str_at(init, &["localAPIEndpoint", "advertiseAddress"]).unwrap_or("10.0.2.15");
    let local = format!("{advertise}:{port}");
    let cpe = str_at(cluster, &["controlPlaneEndpoint"]).map(|e| {
        if e.contains(':') {
            e.to_string()
        } else {
            format!("{e}:{port}")
        }
    });
    let server = cpe.clone().unwrap_or_else(|| local.clone());
    let node = str_at(init, &["nodeRegistration", "name"])
        .unwrap_or("standin-host")
        .to_string();
    write_control_plane_files(env, &server, &node);
    if env.version.1 >= 29 {
        env.write(
            "/etc/kubernetes/super-admin.conf",
            &kubeconfig(&server, "kubernetes-super-admin"),
        );
    }
    let kubelet = match config.kind("KubeletConfiguration") {
        Some(k) => serde_norway::to_string(k).unwrap(),
        None => "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n".into(),
    };
    kubelet_files(env, &kubelet);
    if kubelet_runs(env).is_err() {
        return fail(1, format!("{out}{WAIT_FAILED}"));
    }
    // The cluster now answers at its endpoints.
    let id = server.replace([':', '[', ']'], "_");
    let dir = env.cluster.join(&id);
    fs::create_dir_all(dir.join("nodes")).unwrap();
    fs::copy(&crt, dir.join("ca.crt")).unwrap();
    fs::copy(&key, dir.join("ca.key")).unwrap();
    fs::write(dir.join("ca-hash"), ca_hash(&crt)?).unwrap();
    fs::write(dir.join("kubelet-config.yaml"), &kubelet).unwrap();
    let mut tokens: Vec<String> = init
        .get("bootstrapTokens")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| str_at(t, &["token"]).map(str::to_string))
        .collect();
    if tokens.is_empty() {
        tokens.push(random_token());
    }
    fs::write(dir.join("tokens"), tokens.join("\n") + "\n").unwrap();
    if flags.iter().any(|f| f == "--upload-certs") {
        let key = str_at(init, &["certificateKey"])
            .map(str::to_string)
            .unwrap_or_else(|| {
                let mut b = [0u8; 32];
                getrandom::fill(&mut b).unwrap();
                b.iter().map(|x| format!("{x:02x}")).collect()
            });
        fs::write(dir.join("certificate-key"), &key).unwrap();
        out.push_str(&format!("[upload-certs] Using certificate key:\n{key}\n"));
    }
    fs::write(dir.join("nodes").join(&node), "control-plane\n").unwrap();
    fs::create_dir_all(env.cluster.join("endpoints")).unwrap();
    for ep in [Some(local), cpe].into_iter().flatten() {
        fs::write(env.cluster.join("endpoints").join(ep), &id).unwrap();
    }
    env.write("/.standin/cluster-id", &id);
    let hash = fs::read_to_string(dir.join("ca-hash")).unwrap();
    out.push_str(&format!("\nYour Kubernetes control-plane has initialized successfully!\n\nkubeadm join {server} --token {} \\\n\t--discovery-token-ca-cert-hash {hash}\n", tokens[0]));
    Ok(out)
}

fn join(env: &Env, flags: &[String]) -> Res<String> {
    check_flags(flags)?;
    let config = load_config(
        env,
        &flag_value(flags, "--config").unwrap_or_default(),
        "join",
    )?;
    let Some(join) = config.kind("JoinConfiguration") else {
        return fail(3, "no JoinConfiguration in the config file");
    };
    let control_plane = join.get("controlPlane").is_some();
    let mut errors = Vec::new();
    preflight::check(env, &config, false, &mut errors);
    if env.exists("/etc/kubernetes/kubelet.conf") {
        errors.push("\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists".to_string());
    }
    let manifests = fs::read_dir(env.path("/etc/kubernetes/manifests"))
        .map(|d| d.count())
        .unwrap_or(0);
    if !control_plane && manifests > 0 {
        errors.push("\t[ERROR DirAvailable--etc-kubernetes-manifests]: /etc/kubernetes/manifests is not empty".into());
    }
    if control_plane && env.exists("/etc/kubernetes/manifests/kube-apiserver.yaml") {
        errors.push("\t[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: /etc/kubernetes/manifests/kube-apiserver.yaml already exists".into());
    }
    if !errors.is_empty() {
        return fail(
            2,
            format!(
                "[preflight] Running pre-flight checks\nerror execution phase preflight: [preflight] Some fatal errors occurred:\n{}",
                errors.join("\n")
            ),
        );
    }
    let bt = join
        .get("discovery")
        .and_then(|d| d.get("bootstrapToken"))
        .unwrap_or(&Value::Null);
    let endpoint = str_at(bt, &["apiServerEndpoint"]).unwrap_or("");
    // Discovery fails in kubeadm's words (kubernetes/kubernetes
    // cmd/kubeadm/app/discovery/token/token.go: `getClusterInfo` keeps "failed to request the
    // cluster-info ConfigMap" or "could not find a JWS signature in the cluster-info
    // ConfigMap for token ID" as its last error; `validateClusterCA` wraps pubkeypin's "none
    // of the public keys ... are pinned"; discovery wraps all in "couldn't validate the
    // identity of the API Server").
    let Some(dir) = cluster_dir(env, endpoint) else {
        return fail(
            1,
            format!(
                "[preflight] Running pre-flight checks\nerror execution phase preflight: couldn't validate the identity of the API Server: failed to request the cluster-info ConfigMap: Get \"https://{endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s\": dial tcp {endpoint}: connect: connection refused\nTo see the stack trace of this error execute with --v=5 or higher"
            ),
        );
    };
    let token = str_at(bt, &["token"]).unwrap_or("");
    let tokens = fs::read_to_string(dir.join("tokens")).unwrap_or_default();
    if !tokens.lines().any(|t| t == token) {
        let id = token.split('.').next().unwrap_or("");
        return fail(
            1,
            format!(
                "error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID \"{id}\""
            ),
        );
    }
    let hashes = bt.get("caCertHashes").and_then(Value::as_array);
    for h in hashes.into_iter().flatten() {
        if let Err(e) = validation::ca_hash(h.as_str().unwrap_or("")) {
            return fail(
                1,
                format!(
                    "error execution phase preflight: couldn't validate the identity of the API Server: {e}"
                ),
            );
        }
    }
    let hash = fs::read_to_string(dir.join("ca-hash")).unwrap_or_default();
    let pinned = bt
        .get("caCertHashes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|h| h.as_str() == Some(hash.as_str()));
    if !pinned {
        return fail(
            1,
            format!(
                "error execution phase preflight: couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"{hash}\" are pinned"
            ),
        );
    }
    let node = str_at(join, &["nodeRegistration", "name"])
        .unwrap_or("standin-host")
        .to_string();
    if dir.join("nodes").join(&node).exists() {
        return fail(
            1,
            format!(
                "error execution phase kubelet-start: a Node with name \"{node}\" and status \"Ready\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node"
            ),
        );
    }
    let mut out = String::from(
        "[preflight] Running pre-flight checks\n[preflight] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...\n",
    );
    if control_plane {
        let uploaded = fs::read_to_string(dir.join("certificate-key")).ok();
        let given = str_at(join, &["controlPlane", "certificateKey"]);
        // kubeadm's words (cmd/kubeadm/app/phases/copycerts/copycerts.go `DownloadCerts`,
        // wrapped by the control-plane-prepare phase): no uploaded Secret, or a key that does
        // not decrypt it (AES-GCM's own error).
        let why = match (&uploaded, given) {
            (None, _) => Some(
                "error downloading the secret: Secret \"kubeadm-certs\" was not found in the \"kube-system\" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one",
            ),
            (Some(k), Some(g)) if k == g => None,
            _ => Some(
                "error decoding secret data with provided key: cipher: message authentication failed",
            ),
        };
        if let Some(why) = why {
            return fail(
                1,
                format!(
                    "[download-certs] Downloading the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\nerror execution phase control-plane-prepare/download-certs: error downloading certs: {why}\nTo see the stack trace of this error execute with --v=5 or higher"
                ),
            );
        }
        write_control_plane_files(env, endpoint, &node);
        fs::copy(dir.join("ca.key"), env.path("/etc/kubernetes/pki/ca.key")).unwrap();
        out.push_str("[download-certs] Downloading the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\n");
    } else {
        env.write(
            "/etc/kubernetes/kubelet.conf",
            &kubeconfig(endpoint, &format!("system:node:{node}")),
        );
    }
    fs::create_dir_all(env.path("/etc/kubernetes/pki")).unwrap();
    fs::copy(dir.join("ca.crt"), env.path("/etc/kubernetes/pki/ca.crt")).unwrap();
    let cluster_kubelet = fs::read_to_string(dir.join("kubelet-config.yaml")).unwrap_or_default();
    let patches = str_at(join, &["patches", "directory"]).map(str::to_string);
    kubelet_files(
        env,
        &patched_kubelet_config(env, &cluster_kubelet, patches.as_deref())?,
    );
    if kubelet_runs(env).is_err() {
        return fail(
            1,
            format!(
                "{out}[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n[kubelet-check] The kubelet is not healthy after 4m0s\nerror execution phase kubelet-start: timed out waiting for the condition"
            ),
        );
    }
    fs::write(
        dir.join("nodes").join(&node),
        if control_plane {
            "control-plane\n"
        } else {
            "worker\n"
        },
    )
    .unwrap();
    out.push_str("\nThis node has joined the cluster\n");
    Ok(out)
}

fn token_create(env: &Env, flags: &[String]) -> Res<String> {
    if !flags.iter().any(|f| f == "--print-join-command") {
        return fail(
            1,
            "this stand-in only supports token create --print-join-command",
        );
    }
    if !env.exists("/etc/kubernetes/admin.conf") {
        return fail(
            1,
            "failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory",
        );
    }
    let id = fs::read_to_string(env.path("/.standin/cluster-id")).unwrap_or_default();
    let dir = env.cluster.join(id.trim());
    let token = random_token();
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(dir.join("tokens"))
        .or_else(|e| fail(1, format!("cluster state: {e}")))?;
    writeln!(f, "{token}").unwrap();
    let server = fs::read_dir(env.cluster.join("endpoints"))
        .unwrap()
        .flatten()
        .find(|e| fs::read_to_string(e.path()).ok().as_deref() == Some(id.trim()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .unwrap_or_default();
    let hash = fs::read_to_string(dir.join("ca-hash")).unwrap_or_default();
    Ok(format!(
        "kubeadm join {server} --token {token} --discovery-token-ca-cert-hash {hash} \n"
    ))
}

fn images(env: &Env, flags: &[String]) -> Res<String> {
    let repo = flag_value(flags, "--image-repository").unwrap_or_else(|| "registry.k8s.io".into());
    let version = flag_value(flags, "--kubernetes-version")
        .unwrap_or_else(|| format!("v{}.{}.{}", env.version.0, env.version.1, env.version.2));
    let pause = match env.version.1 {
        m if m >= 35 => "3.10.1",
        m if m >= 31 => "3.10",
        _ => "3.9",
    };
    Ok([
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
    ]
    .iter()
    .map(|c| format!("{repo}/{c}:{version}\n"))
    .chain([
        format!("{repo}/coredns/coredns:v1.12.0\n"),
        format!("{repo}/pause:{pause}\n"),
        format!("{repo}/etcd:3.6.10-0\n"),
    ])
    .collect())
}

fn kubelet_start(env: &Env, flags: &[String]) -> Res<String> {
    let config = load_config(
        env,
        &flag_value(flags, "--config").unwrap_or_default(),
        "init",
    )?;
    let kubelet = config.kind("KubeletConfiguration").map_or_else(|| "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n".to_string(), |k| serde_norway::to_string(k).unwrap());
    env.write("/var/lib/kubelet/config.yaml", &kubelet);
    Ok("[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"\n[kubelet-start] Starting the kubelet\n".into())
}

/// `kubeadm config print init-defaults`: the defaults in kubeadm's own scheme version
/// (cmd/kubeadm/app/cmd/config.go; v1beta4 is the scheme version from 1.31, v1beta3 before;
/// `STANDIN_KUBEADM_DEFAULT_API` stands for a kubeadm whose default differs), abbreviated to
/// the fields that identify it.
fn init_defaults(env: &Env) -> String {
    let (maj, min, patch) = env.version;
    let api = match std::env::var("STANDIN_KUBEADM_DEFAULT_API").unwrap_or_default() {
        api if !api.is_empty() => api,
        _ if min >= 31 => "kubeadm.k8s.io/v1beta4".to_string(),
        _ => "kubeadm.k8s.io/v1beta3".to_string(),
    };
    format!(
        "apiVersion: {api}\nbootstrapTokens:\n- groups:\n  - system:bootstrappers:kubeadm:default-node-token\n  token: abcdef.0123456789abcdef\n  ttl: 24h0m0s\n  usages:\n  - signing\n  - authentication\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 1.2.3.4\n  bindPort: 6443\nnodeRegistration:\n  criSocket: unix:///var/run/containerd/containerd.sock\n  name: node\n---\napiVersion: {api}\ncertificatesDir: /etc/kubernetes/pki\nclusterName: kubernetes\nimageRepository: registry.k8s.io\nkind: ClusterConfiguration\nkubernetesVersion: {maj}.{min}.{patch}\nnetworking:\n  dnsDomain: cluster.local\n  serviceSubnet: 10.96.0.0/12\n"
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if let Ok(log) = std::env::var("STANDIN_LOG") {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        writeln!(f, "kubeadm {}", args.join(" ")).unwrap();
    }
    let root = PathBuf::from(var("SANDBOX_ROOT"));
    let cluster = std::env::var("STANDIN_CLUSTER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join(".standin/cluster"));
    let version = parse_version(
        &std::env::var("STANDIN_KUBEADM_VERSION").unwrap_or_else(|_| "1.35.2".into()),
    )
    .expect("STANDIN_KUBEADM_VERSION");
    let env = Env {
        root,
        cluster,
        version,
        break_kubelet_config: var("STANDIN_KUBEADM_BREAK") == "kubelet-config",
    };
    if format!(" {} ", var("STANDIN_FAIL")).contains(" kubeadm ") {
        eprintln!("{WAIT_FAILED}");
        exit(1);
    }
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let rest = |n: usize| args[n..].to_vec();
    let result = match words.as_slice() {
        ["version", ..] => Ok(format!("v{}.{}.{}\n", version.0, version.1, version.2)),
        ["init", "phase", "kubelet-start", ..] => kubelet_start(&env, &rest(3)),
        ["init", ..] => init(&env, &rest(1)),
        ["join", ..] => join(&env, &rest(1)),
        ["reset", ..] => reset::reset(&env, &rest(1)),
        ["certs", "renew", "all", ..] => certs::renew_all(&env, &rest(3)),
        ["token", "create", ..] => token_create(&env, &rest(2)),
        ["upgrade", ..] => upgrade::run(&env, &rest(1)),
        ["config", "images", "list", ..] => images(&env, &rest(3)),
        ["config", "print", "init-defaults", ..] => Ok(init_defaults(&env)),
        ["config", "images", "pull", ..] => preflight::images_pull(&env, &rest(3)),
        _ => fail(1, format!("unknown command {:?} for \"kubeadm\"", args)),
    };
    match result {
        Ok(out) => print!("{out}"),
        Err(Exit(msg, code)) => {
            eprintln!("{msg}");
            exit(code);
        }
    }
}
