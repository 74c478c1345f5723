//! `bootstrap kubeconfig user NAME`: a kubeconfig for a user whose client certificate the
//! cluster CA of the profile's secrets bundle signs (CN = the user, O = each group,
//! clientAuth), for the profile's control-plane endpoint; written 0600 and never printed.

use std::path::{Path, PathBuf};

use crate::access::user;
use crate::cli::{KubeconfigUserArgs, Output};
use crate::host::Host;
use crate::kube::bundle::Bundle;
use crate::profile::Profile;
use crate::profile::node::AddressSource;

/// Why a kubeconfig could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The profile says nothing that would find the CA or the API server.
    #[error("{0}")]
    Profile(String),
    /// The bundle could not be read.
    #[error("cannot read the secrets bundle {dir}: {source}")]
    Bundle {
        /// Its node path.
        dir: String,
        /// The cause.
        source: crate::kube::bundle::BundleError,
    },
    /// The certificate could not be made.
    #[error(transparent)]
    Cert(#[from] user::UserCertError),
    /// The kubeconfig could not be serialised.
    #[error(transparent)]
    Yaml(#[from] crate::kube::yaml::YamlError),
    /// The file could not be written.
    #[error("cannot write {path}: {why}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What failed.
        why: String,
    },
}

/// `https://HOST:PORT` of the API server: `kubeadm.control_plane_endpoint`, else the
/// advertise address, else a literal `node.address`, with `kubeadm.bind_port`.
pub fn server(profile: &Profile) -> Result<String, KubeconfigError> {
    let k = profile.kubeadm.as_ref().ok_or_else(|| KubeconfigError::Profile("the profile has no [kubeadm] section, so no cluster CA or API endpoint: use the first control plane's profile".into()))?;
    let host_port = match (&k.control_plane_endpoint, &k.advertise_address, &profile.node.address) {
        (Some(endpoint), _, _) => endpoint.with_port(k.bind_port),
        (None, Some(ip), _) => crate::values::Endpoint { host: ip.to_string(), port: Some(k.bind_port) }.with_port(k.bind_port),
        (None, None, AddressSource::Literal(ip)) => crate::values::Endpoint { host: ip.to_string(), port: Some(k.bind_port) }.with_port(k.bind_port),
        _ => return Err(KubeconfigError::Profile("the profile names no API address: set kubeadm.control_plane_endpoint (or kubeadm.advertise_address, or a literal node.address)".into())),
    };
    Ok(format!("https://{host_port}"))
}

/// Makes the kubeconfig text for `args` (the certificate signed now).
pub fn make(
    host: &Host,
    profile: &Profile,
    args: &KubeconfigUserArgs,
) -> Result<String, KubeconfigError> {
    let server = server(profile)?;
    let dir = (profile.kubeadm.as_ref())
        .and_then(|k| k.secrets.bundle.clone())
        .ok_or_else(|| KubeconfigError::Profile("the profile names no secrets bundle (kubeadm.secrets.bundle): the cluster CA signs user certificates".into()))?;
    let bundle = Bundle::read(host, &dir).map_err(|source| KubeconfigError::Bundle {
        dir: dir.clone(),
        source,
    })?;
    let ca = bundle.ca.ok_or_else(|| {
        KubeconfigError::Profile(format!(
            "the bundle {dir} lacks ca.crt or ca.key (the first control plane's copy holds both)"
        ))
    })?;
    let creds = user::issue(&ca, &args.name, &args.groups, args.days, host.unix_time())?;
    Ok(user::kubeconfig(&server, &ca.cert_pem, &args.name, &creds)?)
}

/// Writes `text` to `path` as a new 0600 file (never replacing one).
fn write(host_disk: &crate::host::Disk, path: &Path, text: &str) -> Result<(), KubeconfigError> {
    let fail = |why: String| KubeconfigError::Write {
        path: path.to_path_buf(),
        why,
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail("not a file name".into()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    crate::host::create_new_files(host_disk, dir, &[(name, text.as_bytes(), 0o600)])
        .map(|_| ())
        .map_err(|e| {
            fail(format!(
                "{e} (an existing file is never replaced: choose another --out or remove it)"
            ))
        })
}

/// Runs `kubeconfig user`: exit 0 with the file written, 1 on any error.
pub fn run(host: &Host, profile: &Profile, args: &KubeconfigUserArgs, output: Output) -> i32 {
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}.kubeconfig",
            args.name.replace(['/', '\0'], "_")
        ))
    });
    let result = make(host, profile, args)
        .and_then(|text| write(&crate::host::Disk::default(), &out, &text));
    match (result, output) {
        (Ok(()), Output::Json) => {
            super::print_json(
                &serde_json::json!({ "out": out, "user": args.name, "groups": args.groups, "days": args.days }),
            );
            0
        }
        (Ok(()), Output::Human) => {
            println!(
                "kubeconfig for user {} (groups: {}) written to {} (0600; it holds the private key)",
                args.name,
                if args.groups.is_empty() {
                    "none".to_string()
                } else {
                    args.groups.join(", ")
                },
                out.display()
            );
            0
        }
        (Err(e), _) => {
            eprintln!("error: {}", host.redact(&e.to_string()));
            1
        }
    }
}
