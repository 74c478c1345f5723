//! containerd's `config.toml`: know the schema by its `version` key, read the CRI settings
//! kubeadm depends on, and edit exactly those with `toml_edit`, so comments, order and tables
//! we do not own survive byte for byte.
//!
//! | schema | containerd | runc options table | sandbox image key |
//! |---|---|---|---|
//! | 2 | 1.x | `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options` | `plugins."io.containerd.grpc.v1.cri".sandbox_image` |
//! | 3, 4 | 2.x | `plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options` | `plugins."io.containerd.cri.v1.images".pinned_images.sandbox` |

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::values::text::line_col;

/// Plugin ids whose presence in `disabled_plugins` turns the CRI service off.
pub const CRI_PLUGIN_IDS: [&str; 4] = [
    "cri",
    "io.containerd.grpc.v1.cri",
    "io.containerd.cri.v1.runtime",
    "io.containerd.cri.v1.images",
];

/// The config schema, from the file's `version` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// No `version` key: containerd 1.x reads it as version 1 (removed in 2.0).
    V1,
    /// `version = 2`: containerd 1.3 to 1.7.
    V2,
    /// `version = 3` (2.0-2.2) or `version = 4` (2.3+): the CRI tables are the same.
    V3 {
        /// 3 or 4.
        version: i64,
    },
}

/// Why a config cannot be read or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not valid TOML.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A `version` the agent does not know.
    #[error("unknown config schema `version = {0}` (known: 2 for containerd 1.x, 3 and 4 for 2.x)")]
    UnknownVersion(String),
    /// A key the agent must edit has an unexpected type.
    #[error("`{key}` is not a {expected}")]
    Shape {
        /// The dotted key.
        key: String,
        /// What it should be.
        expected: &'static str,
    },
    /// Version 1 configs are not edited: the CRI tables moved in version 2.
    #[error(
        "the file has no `version` key, so containerd reads it as schema version 1, whose CRI tables bootstrap does not edit; move it away (bootstrap then generates one from `containerd config default`) or convert it to `version = 2`"
    )]
    Version1,
    /// Legacy registry mirrors conflict with `config_path`.
    #[error(
        "`registry.mirrors` is set in the CRI registry table; containerd refuses it together with `config_path`. Move those mirrors to the profile's [containerd.mirrors] and delete the table"
    )]
    LegacyMirrors,
}

/// The CRI settings of a config that kubeadm and the kubelet depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFacts {
    /// The schema.
    pub schema: Schema,
    /// runc's `SystemdCgroup` (None when not set: containerd's default is false).
    pub systemd_cgroup: Option<bool>,
    /// The sandbox (pause) image (None when not set: containerd's built-in default).
    pub sandbox_image: Option<String>,
    /// CRI plugin ids listed in `disabled_plugins`.
    pub cri_disabled: Vec<String>,
}

/// What the agent wants in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// runc's `SystemdCgroup`.
    pub systemd_cgroup: bool,
    /// The sandbox image, when the profile decides it.
    pub sandbox_image: Option<String>,
    /// Where CNI plugins are: an existing CNI bin directory setting is pointed here.
    pub cni_bin_dir: String,
    /// The registry hosts directory, when mirrors are configured.
    pub registry_config_path: Option<String>,
}

struct Paths {
    runtime: [&'static str; 2],
    images: [&'static str; 2],
    sandbox: &'static [&'static str],
}

const V2_PATHS: Paths = Paths {
    runtime: ["plugins", "io.containerd.grpc.v1.cri"],
    images: ["plugins", "io.containerd.grpc.v1.cri"],
    sandbox: &["sandbox_image"],
};

const V1_PATHS: Paths = Paths {
    runtime: ["plugins", "cri"],
    images: ["plugins", "cri"],
    sandbox: &["sandbox_image"],
};

const V3_PATHS: Paths = Paths {
    runtime: ["plugins", "io.containerd.cri.v1.runtime"],
    images: ["plugins", "io.containerd.cri.v1.images"],
    sandbox: &["pinned_images", "sandbox"],
};

const RUNC: [&str; 3] = ["containerd", "runtimes", "runc"];

impl Schema {
    fn paths(self) -> &'static Paths {
        match self {
            Schema::V1 => &V1_PATHS,
            Schema::V2 => &V2_PATHS,
            Schema::V3 { .. } => &V3_PATHS,
        }
    }

    /// The runc options table (where `SystemdCgroup` lives) as written in TOML, for messages:
    /// `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options`.
    pub fn runc_options_table(self) -> String {
        self.paths()
            .runtime
            .iter()
            .chain(RUNC.iter())
            .chain(["options"].iter())
            .map(|k| {
                if k.contains('.') {
                    format!("\"{k}\"")
                } else {
                    k.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The `version` number as written.
    pub fn number(self) -> i64 {
        match self {
            Schema::V1 => 1,
            Schema::V2 => 2,
            Schema::V3 { version } => version,
        }
    }
}

/// Parses config text, reporting syntax errors with line and column.
pub fn parse(text: &str) -> Result<DocumentMut, ConfigError> {
    text.parse::<DocumentMut>().map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        ConfigError::Syntax {
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })
}

/// The schema of a parsed config.
pub fn schema(doc: &DocumentMut) -> Result<Schema, ConfigError> {
    match doc.get("version") {
        None => Ok(Schema::V1),
        Some(item) => match item.as_integer() {
            Some(1) => Ok(Schema::V1),
            Some(2) => Ok(Schema::V2),
            Some(v @ (3 | 4)) => Ok(Schema::V3 { version: v }),
            _ => Err(ConfigError::UnknownVersion(
                item.to_string().trim().to_string(),
            )),
        },
    }
}

fn get<'a>(root: &'a dyn TableLike, path: &[&str]) -> Option<&'a Item> {
    let (last, parents) = path.split_last()?;
    let mut table = root;
    for key in parents {
        table = table.get(key)?.as_table_like()?;
    }
    table.get(last)
}

fn cri_disabled(doc: &DocumentMut) -> Vec<String> {
    doc.get("disabled_plugins")
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|id| CRI_PLUGIN_IDS.contains(id))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the facts kubeadm depends on from config text.
pub fn facts(text: &str) -> Result<RuntimeFacts, ConfigError> {
    let doc = parse(text)?;
    let schema = schema(&doc)?;
    let paths = schema.paths();
    let root = doc.as_table();
    let runtime_path: Vec<&str> = paths
        .runtime
        .iter()
        .chain(RUNC.iter())
        .chain(["options", "SystemdCgroup"].iter())
        .copied()
        .collect();
    let sandbox_path: Vec<&str> = paths.images.iter().chain(paths.sandbox).copied().collect();
    Ok(RuntimeFacts {
        schema,
        systemd_cgroup: get(root, &runtime_path).and_then(Item::as_bool),
        sandbox_image: get(root, &sandbox_path)
            .and_then(Item::as_str)
            .map(str::to_string),
        cri_disabled: cri_disabled(&doc),
    })
}

/// Whether the text is a stub that only disables CRI (as Docker's containerd.io package
/// ships): no `plugins` table, CRI in `disabled_plugins`. Such a file is replaced by
/// `containerd config default` rather than edited.
pub fn is_cri_disabled_stub(text: &str) -> bool {
    parse(text).is_ok_and(|doc| doc.get("plugins").is_none() && !cri_disabled(&doc).is_empty())
}

/// The table at `path` under `root`, created (implicit parents, explicit leaf) when missing.
fn table_mut<'a>(
    root: &'a mut dyn TableLike,
    path: &[&str],
) -> Result<&'a mut dyn TableLike, ConfigError> {
    let mut table = root;
    for (i, key) in path.iter().enumerate() {
        if table.get(key).is_none() {
            let mut new = Table::new();
            new.set_implicit(i + 1 < path.len());
            table.insert(key, Item::Table(new));
        }
        table = table
            .get_mut(key)
            .and_then(Item::as_table_like_mut)
            .ok_or_else(|| ConfigError::Shape {
                key: path[..=i].join("."),
                expected: "table",
            })?;
    }
    Ok(table)
}

/// Sets `key` to `value` unless it already has that value; keeps the old value's comments.
fn set(table: &mut dyn TableLike, key: &str, value: Value) {
    if let Some(old) = table.get_mut(key).and_then(Item::as_value_mut) {
        let same = match (old.as_bool(), value.as_bool()) {
            (Some(a), Some(b)) => a == b,
            _ => old.as_str().is_some() && old.as_str() == value.as_str(),
        };
        if same {
            return;
        }
        let decor = old.decor().clone();
        *old = value;
        *old.decor_mut() = decor;
        return;
    }
    let indent = table
        .iter()
        .next()
        .map(|(k, _)| k.to_string())
        .and_then(|k| {
            table
                .key(&k)?
                .leaf_decor()
                .prefix()?
                .as_str()
                .map(str::to_string)
        });
    table.insert(key, Item::Value(value));
    if let (Some(indent), Some(mut new_key)) = (indent, table.key_mut(key)) {
        new_key.leaf_decor_mut().set_prefix(indent);
    }
}

fn path_with<'a>(base: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(rest).copied().collect()
}

fn point_cni(doc: &mut DocumentMut, paths: &Paths, dir: &str) -> Result<(), ConfigError> {
    let cni_path = path_with(&paths.runtime, &["cni"]);
    if get(doc.as_table(), &cni_path).is_none() {
        return Ok(());
    }
    let cni = table_mut(doc.as_table_mut(), &cni_path)?;
    if let Some(dirs) = cni.get_mut("bin_dirs").and_then(Item::as_array_mut) {
        if !dirs.iter().any(|d| d.as_str() == Some(dir)) {
            dirs.push(dir);
        }
    } else if cni
        .get("bin_dir")
        .and_then(Item::as_str)
        .is_some_and(|d| d != dir)
    {
        set(cni, "bin_dir", Value::from(dir));
    }
    Ok(())
}

/// Applies `desired` to config text of schema 2, 3 or 4 and returns the new text. Only the
/// keys named in [`Desired`] (and CRI ids in `disabled_plugins`) are touched; an already
/// matching file comes back byte-identical.
pub fn edit(text: &str, desired: &Desired) -> Result<String, ConfigError> {
    let mut doc = parse(text)?;
    let schema = schema(&doc)?;
    if schema == Schema::V1 {
        return Err(ConfigError::Version1);
    }
    let paths = schema.paths();
    if let Some(list) = doc.get_mut("disabled_plugins").and_then(Item::as_array_mut) {
        list.retain(|v| !v.as_str().is_some_and(|id| CRI_PLUGIN_IDS.contains(&id)));
    }
    let runc = table_mut(doc.as_table_mut(), &path_with(&paths.runtime, &RUNC))?;
    if runc.get("runtime_type").is_none() {
        set(runc, "runtime_type", Value::from("io.containerd.runc.v2"));
    }
    let options = table_mut(
        doc.as_table_mut(),
        &path_with(&paths.runtime, &[RUNC[0], RUNC[1], RUNC[2], "options"]),
    )?;
    set(
        options,
        "SystemdCgroup",
        Value::from(desired.systemd_cgroup),
    );
    if let Some(image) = &desired.sandbox_image {
        let (key, parents) = paths
            .sandbox
            .split_last()
            .unwrap_or((&"sandbox_image", &[]));
        let table = table_mut(doc.as_table_mut(), &path_with(&paths.images, parents))?;
        set(table, key, Value::from(image.as_str()));
    }
    if let Some(config_path) = &desired.registry_config_path {
        let registry = table_mut(doc.as_table_mut(), &path_with(&paths.images, &["registry"]))?;
        if registry
            .get("mirrors")
            .and_then(Item::as_table_like)
            .is_some_and(|m| !m.is_empty())
        {
            return Err(ConfigError::LegacyMirrors);
        }
        set(registry, "config_path", Value::from(config_path.as_str()));
    }
    point_cni(&mut doc, paths, &desired.cni_bin_dir)?;
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_DEFAULT: &str =
        include_str!("../../tests/fixtures/containerd/v2-default-containerd-1.6.20.toml");
    const V2_DEBIAN: &str =
        include_str!("../../tests/fixtures/containerd/v2-debian12-package.toml");
    const V2_USER: &str = include_str!("../../tests/fixtures/containerd/v2-user-edited.toml");
    const V3_DEFAULT: &str =
        include_str!("../../tests/fixtures/containerd/v3-containerd-2.x-default.toml");
    const STUB: &str = include_str!("../../tests/fixtures/containerd/cri-disabled-stub.toml");

    fn desired(image: &str) -> Desired {
        Desired {
            systemd_cgroup: true,
            sandbox_image: Some(image.to_string()),
            cni_bin_dir: "/opt/cni/bin".into(),
            registry_config_path: None,
        }
    }

    /// Asserts that `out` holds `image` and SystemdCgroup = true in the tables of `schema`,
    /// and that editing it again changes nothing.
    fn assert_settled(out: &str, schema: Schema, image: &str) {
        let f = facts(out).unwrap();
        assert_eq!(f.schema, schema);
        assert_eq!(f.systemd_cgroup, Some(true));
        assert_eq!(f.sandbox_image.as_deref(), Some(image));
        assert_eq!(edit(out, &desired(image)).unwrap(), out);
    }

    /// Lines that differ between two texts, as (old, new) pairs of changed lines.
    fn changed_lines(old: &str, new: &str) -> Vec<String> {
        similar::TextDiff::from_lines(old, new)
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .map(|c| format!("{}{}", c.tag(), c.value().trim_end()))
            .collect()
    }

    #[test]
    fn v2_default_gets_systemd_cgroup_and_sandbox_in_the_cri_plugin_only() {
        let out = edit(V2_DEFAULT, &desired("registry.k8s.io/pause:3.10")).unwrap();
        assert_eq!(
            changed_lines(V2_DEFAULT, &out),
            [
                "-    sandbox_image = \"registry.k8s.io/pause:3.6\"",
                "+    sandbox_image = \"registry.k8s.io/pause:3.10\"",
                "-            SystemdCgroup = false",
                "+            SystemdCgroup = true",
            ]
        );
        assert_settled(&out, Schema::V2, "registry.k8s.io/pause:3.10");
    }

    #[test]
    fn v3_edits_the_moved_tables() {
        let out = edit(V3_DEFAULT, &desired("registry.k8s.io/pause:3.10.1")).unwrap();
        assert_eq!(
            changed_lines(V3_DEFAULT, &out),
            [
                "-      sandbox = 'registry.k8s.io/pause:3.10'",
                "+      sandbox = \"registry.k8s.io/pause:3.10.1\"",
                "+            SystemdCgroup = true",
            ]
        );
        assert!(!out.contains("io.containerd.grpc.v1.cri\".containerd"));
        assert_settled(
            &out,
            Schema::V3 { version: 3 },
            "registry.k8s.io/pause:3.10.1",
        );
    }

    #[test]
    fn version_4_uses_the_version_3_cri_tables() {
        let v4 = V3_DEFAULT.replace("version = 3", "version = 4");
        let out = edit(&v4, &desired("registry.k8s.io/pause:3.10.2")).unwrap();
        assert_settled(
            &out,
            Schema::V3 { version: 4 },
            "registry.k8s.io/pause:3.10.2",
        );
    }

    #[test]
    fn debian_package_config_gets_new_tables_and_keeps_its_own() {
        let out = edit(V2_DEBIAN, &desired("registry.k8s.io/pause:3.10")).unwrap();
        assert!(
            out.starts_with(
                "version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
            )
        );
        assert!(out.contains(
            "[plugins.\"io.containerd.internal.v1.opt\"]\n    path = \"/var/lib/containerd/opt\""
        ));
        assert!(out.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\nruntime_type = \"io.containerd.runc.v2\""));
        assert!(
            out.contains("bin_dir = \"/opt/cni/bin\""),
            "CNI plugins from kubernetes-cni live in /opt/cni/bin"
        );
        assert_settled(&out, Schema::V2, "registry.k8s.io/pause:3.10");
    }

    #[test]
    fn user_config_keeps_comments_and_foreign_tables() {
        let out = edit(V2_USER, &desired("registry.k8s.io/pause:3.10")).unwrap();
        assert_eq!(
            changed_lines(V2_USER, &out),
            [
                "-disabled_plugins = [\"io.containerd.internal.v1.tracing\", \"cri\"]",
                "+disabled_plugins = [\"io.containerd.internal.v1.tracing\"]",
                "-  sandbox_image = \"registry.k8s.io/pause:3.6\"  # old default",
                "+  sandbox_image = \"registry.k8s.io/pause:3.10\"  # old default",
                "-        SystemdCgroup = false  # flipped by hand during an incident",
                "+        SystemdCgroup = true  # flipped by hand during an incident",
                "-    bin_dir = \"/usr/lib/cni\"",
                "+    bin_dir = \"/opt/cni/bin\"",
            ]
        );
        assert_eq!(facts(V2_USER).unwrap().cri_disabled, ["cri"]);
        assert!(facts(&out).unwrap().cri_disabled.is_empty());
    }

    #[test]
    fn stub_is_recognised_and_version_1_refused() {
        assert!(is_cri_disabled_stub(STUB));
        assert!(!is_cri_disabled_stub(V2_USER));
        assert!(!is_cri_disabled_stub(V2_DEFAULT));
        assert_eq!(facts(STUB).unwrap().schema, Schema::V1);
        assert_eq!(
            edit("[plugins.cri]\n", &desired("x")),
            Err(ConfigError::Version1)
        );
    }

    #[test]
    fn registry_config_path_and_legacy_mirrors() {
        let mut d = desired("registry.k8s.io/pause:3.10");
        d.registry_config_path = Some("/etc/containerd/certs.d".into());
        let out = edit(V2_DEFAULT, &d).unwrap();
        assert!(out.contains("config_path = \"/etc/containerd/certs.d\""));
        let legacy = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\nendpoint = [\"https://m\"]\n";
        assert_eq!(edit(legacy, &d), Err(ConfigError::LegacyMirrors));
    }

    #[test]
    fn syntax_errors_have_a_location_and_unknown_versions_are_refused() {
        let err = edit("version = 2\n[plugins\n", &desired("x")).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
        assert!(matches!(
            edit("version = 9\n", &desired("x")),
            Err(ConfigError::UnknownVersion(_))
        ));
    }
}
