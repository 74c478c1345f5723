//! The engine with fake steps (as k0s tests its component manager): each fake step plans
//! one change per item still pending on a fake node, and its work records what ran. A
//! recording reporter keeps every event.

use std::sync::{Arc, Mutex};

use super::change::{Change, Plan, Work};
use super::event::{Event, Mode};
use super::report::Reporter;
use super::run::{Selection, run};
use super::step::{Context, Step, StepError};
use super::{Environment, Summary};
use crate::host::Host;
use crate::profile::Profile;

/// The fake node: what each step still has to do, and what ran.
#[derive(Debug, Default)]
struct Node {
    /// (step, item) not yet done.
    pending: Vec<(String, String)>,
    /// Items whose work fails.
    failing: Vec<String>,
    /// Items whose work "succeeds" but leaves them pending (verify must catch it).
    sticky: Vec<String>,
    /// Items installed, which makes the re-planned items of a step plannable.
    installed: Vec<String>,
    /// "step:item" for every work run, in order.
    ran: Vec<String>,
    /// Items a step's plan refuses to plan.
    refused: Vec<String>,
}

type Shared = Arc<Mutex<Node>>;

/// Marks `item` done on the fake node.
#[derive(Debug)]
struct Do {
    node: Shared,
    item: String,
}

impl Work for Do {
    fn run(&self, _ctx: &Context, step: &str) -> Result<(), StepError> {
        let mut node = self.node.lock().unwrap();
        node.ran.push(format!("{step}:{}", self.item));
        if node.failing.contains(&self.item) {
            return Err(StepError::Blocked(format!("{} broke", self.item)));
        }
        if !node.sticky.contains(&self.item) {
            let item = self.item.clone();
            node.pending.retain(|(_, i)| *i != item);
        }
        node.installed.push(self.item.clone());
        Ok(())
    }
}

/// A fake step. `replan_after`: its items other than this one can only be planned once
/// this one is installed (like containerd's config after its install).
struct Fake {
    name: &'static str,
    node: Shared,
    skipped: bool,
    replan_after: Option<&'static str>,
}

impl Step for Fake {
    fn name(&self) -> &'static str {
        self.name
    }

    fn plan(&self, _ctx: &Context) -> Result<Plan, StepError> {
        if self.skipped {
            return Ok(Plan::skip("does not apply here"));
        }
        let node = self.node.lock().unwrap();
        let mut plan = Plan::default();
        plan.info(format!("{} observed", self.name));
        let mine = node.pending.iter().filter(|(s, _)| s == self.name);
        if let Some((_, refused)) = mine.clone().find(|(_, i)| node.refused.contains(i)) {
            return Err(StepError::Blocked(format!("cannot plan {refused}")));
        }
        let gate = self
            .replan_after
            .filter(|first| !node.installed.iter().any(|i| i == first));
        for (_, item) in mine {
            if gate.is_some_and(|first| first != item) {
                continue;
            }
            let work = Do {
                node: self.node.clone(),
                item: item.clone(),
            };
            plan.push(Change::work(format!("do {item}"), work));
        }
        if let Some(first) = gate
            && node
                .pending
                .iter()
                .any(|(s, i)| s == self.name && i != first)
        {
            plan.push(Change::replan("configure (planned once installed)"));
        }
        Ok(plan)
    }
}

/// Keeps every event as its JSON value.
#[derive(Default)]
struct Recorder(Vec<serde_json::Value>);

impl Reporter for Recorder {
    fn event(&mut self, event: &Event) {
        self.0.push(serde_json::to_value(event).unwrap());
    }
}

impl Recorder {
    /// Events of one kind, as `step:summary:outcome` (changes) or `step:status` (ends).
    fn lines(&self, kind: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|e| e["event"] == kind)
            .map(|e| {
                let field = |k: &str| e[k].as_str().unwrap_or("").to_string();
                match kind {
                    "change" => format!(
                        "{}:{}:{}",
                        field("step"),
                        field("summary"),
                        field("outcome")
                    ),
                    _ => format!("{}:{}", field("step"), field("status")),
                }
            })
            .collect()
    }

    fn kinds(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    }
}

struct World {
    node: Shared,
    steps: Vec<Box<dyn Step>>,
    dir: tempfile::TempDir,
    profile: Profile,
}

impl World {
    /// Steps `a`, `b`, `c`, each with the items given.
    fn new(items: &[(&'static str, &[&str])]) -> Self {
        let node: Shared = Arc::default();
        let mut steps: Vec<Box<dyn Step>> = Vec::new();
        for (name, list) in items {
            let mut n = node.lock().unwrap();
            for item in *list {
                n.pending.push((name.to_string(), item.to_string()));
            }
            drop(n);
            steps.push(Box::new(Fake {
                name,
                node: node.clone(),
                skipped: false,
                replan_after: None,
            }));
        }
        let profile =
            Profile::parse("[node]\nname = \"n1\"\nrole = \"worker\"\n", "p.toml").unwrap();
        World {
            node,
            steps,
            dir: tempfile::tempdir().unwrap(),
            profile,
        }
    }

    fn set(&mut self, step: usize, f: impl FnOnce(&mut Fake)) {
        let name = self.steps[step].name();
        let mut fake = Fake {
            name,
            node: self.node.clone(),
            skipped: false,
            replan_after: None,
        };
        f(&mut fake);
        self.steps[step] = Box::new(fake);
    }

    fn run(&self, mode: Mode, selection: &Selection) -> (Summary, Recorder) {
        let host = Host::new(self.dir.path().to_path_buf());
        let env = Environment::default();
        let ctx = Context {
            host: &host,
            profile: &self.profile,
            address: "192.0.2.1".parse().unwrap(),
            mode,
            env: &env,
        };
        let mut recorder = Recorder::default();
        let summary = run(&self.steps, &ctx, mode, selection, "p.toml", &mut recorder);
        (summary, recorder)
    }

    fn ran(&self) -> Vec<String> {
        self.node.lock().unwrap().ran.clone()
    }

    fn with(&self, f: impl FnOnce(&mut Node)) {
        f(&mut self.node.lock().unwrap());
    }
}

fn all() -> Selection {
    Selection::default()
}

#[test]
fn plan_runs_nothing_and_exits_2_with_changes_pending_and_0_when_converged() {
    let w = World::new(&[("a", &["x"]), ("b", &[])]);
    let (summary, rec) = w.run(Mode::Plan, &all());
    assert_eq!(summary.exit_code, 2);
    assert_eq!((summary.pending, summary.ok, summary.changes), (1, 1, 1));
    assert!(w.ran().is_empty(), "plan carries out nothing");
    assert_eq!(rec.lines("change"), ["a:do x:"], "no outcome in plan");
    let (check, _) = w.run(Mode::Check, &all());
    assert_eq!(check.exit_code, 2);
    let (apply, _) = w.run(Mode::Apply, &all());
    assert_eq!((apply.exit_code, apply.changed, apply.changes), (0, 1, 1));
    let (again, _) = w.run(Mode::Apply, &all());
    assert_eq!((again.exit_code, again.changes, again.ok), (0, 0, 2));
    assert_eq!(w.run(Mode::Plan, &all()).0.exit_code, 0);
}

#[test]
fn apply_carries_out_exactly_the_planned_changes_in_order_and_events_follow() {
    let w = World::new(&[("a", &["x", "y"]), ("b", &["z"])]);
    let (summary, rec) = w.run(Mode::Apply, &all());
    assert_eq!(summary.exit_code, 0);
    assert_eq!(w.ran(), ["a:x", "a:y", "b:z"]);
    assert_eq!(
        rec.kinds(),
        [
            "run_started",
            "step_started",
            "note",
            "change",
            "change",
            "step_finished",
            "step_started",
            "note",
            "change",
            "step_finished",
            "summary"
        ]
    );
    assert_eq!(
        rec.lines("change"),
        ["a:do x:done", "a:do y:done", "b:do z:done"]
    );
    assert_eq!(rec.lines("step_finished"), ["a:changed", "b:changed"]);
}

#[test]
fn a_failed_change_stops_its_step_and_the_run_and_every_change_says_what_became_of_it() {
    let w = World::new(&[("a", &["x", "y", "z"]), ("b", &["w"]), ("c", &[])]);
    w.with(|n| n.failing.push("y".into()));
    let (summary, rec) = w.run(Mode::Apply, &all());
    assert_eq!(summary.exit_code, 1);
    assert_eq!(w.ran(), ["a:x", "a:y"], "nothing after the failure runs");
    assert_eq!(
        rec.lines("change"),
        ["a:do x:done", "a:do y:failed", "a:do z:not_attempted"]
    );
    assert_eq!(
        rec.lines("step_finished"),
        ["a:failed", "b:skipped", "c:skipped"]
    );
    let reasons: Vec<&str> = rec
        .0
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .map(|e| e["reason"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(reasons[0], "y broke");
    assert_eq!(reasons[1], "not run: an earlier step failed");
    assert_eq!(summary.changes, 1, "only the change made is counted");
}

#[test]
fn a_step_whose_plan_fails_stops_the_run_in_apply_but_not_in_plan() {
    let w = World::new(&[("a", &["x"]), ("b", &["y"])]);
    w.with(|n| n.refused.push("x".into()));
    let (plan, rec) = w.run(Mode::Plan, &all());
    assert_eq!(plan.exit_code, 1);
    assert_eq!(rec.lines("step_finished"), ["a:failed", "b:pending"]);
    let (apply, rec) = w.run(Mode::Apply, &all());
    assert_eq!(apply.exit_code, 1);
    assert_eq!(rec.lines("step_finished"), ["a:failed", "b:skipped"]);
    assert!(w.ran().is_empty());
}

#[test]
fn only_and_skip_select_steps_and_the_rest_are_skipped_untouched() {
    let w = World::new(&[("a", &["x"]), ("b", &["y"]), ("c", &["z"])]);
    let only = Selection {
        only: vec!["b".into(), "c".into()],
        skip: vec!["c".into()],
    };
    let (summary, rec) = w.run(Mode::Apply, &only);
    assert_eq!(w.ran(), ["b:y"]);
    assert_eq!(
        rec.lines("step_finished"),
        ["a:skipped", "b:changed", "c:skipped"]
    );
    assert_eq!((summary.skipped, summary.changed), (2, 1));
    assert_eq!(
        only.unknown(&["a", "b"]),
        [("c".to_string(), None), ("c".to_string(), None)]
    );
}

#[test]
fn a_step_that_does_not_apply_is_skipped_with_its_reason() {
    let mut w = World::new(&[("a", &["x"]), ("b", &[])]);
    w.set(0, |f| f.skipped = true);
    let (summary, rec) = w.run(Mode::Apply, &all());
    assert_eq!(summary.exit_code, 0);
    assert!(w.ran().is_empty());
    assert_eq!(rec.lines("step_finished"), ["a:skipped", "b:ok"]);
    assert_eq!(rec.0[2]["reason"], "does not apply here");
}

#[test]
fn verify_fails_when_a_change_left_the_node_differing() {
    let w = World::new(&[("a", &["x"]), ("b", &["y"])]);
    w.with(|n| n.sticky.push("x".into()));
    let (summary, rec) = w.run(Mode::Apply, &all());
    assert_eq!(summary.exit_code, 1);
    assert_eq!(rec.lines("change"), ["a:do x:done"]);
    assert_eq!(rec.lines("step_finished"), ["a:failed", "b:skipped"]);
    let reason = rec.0[4]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("verify failed: after apply the node still differs: do x"),
        "{reason}"
    );
}

#[test]
fn a_replan_point_is_planned_again_by_the_engine_and_the_new_changes_are_shown() {
    let mut w = World::new(&[("a", &["install", "config", "restart"])]);
    w.set(0, |f| f.replan_after = Some("install"));
    let (plan, rec) = w.run(Mode::Plan, &all());
    assert_eq!(plan.exit_code, 2);
    assert_eq!(
        rec.lines("change"),
        ["a:do install:", "a:configure (planned once installed):"]
    );
    let (summary, rec) = w.run(Mode::Apply, &all());
    assert_eq!(summary.exit_code, 0, "{:?}", rec.0);
    assert_eq!(w.ran(), ["a:install", "a:config", "a:restart"]);
    assert_eq!(
        rec.lines("change"),
        [
            "a:do install:done",
            "a:configure (planned once installed):replanned",
            "a:do config:done",
            "a:do restart:done"
        ]
    );
    assert_eq!(summary.changes, 3, "the re-plan point itself is no change");
}

#[test]
fn a_failure_after_a_replan_marks_the_replanned_changes() {
    let mut w = World::new(&[("a", &["install", "config", "restart"])]);
    w.set(0, |f| f.replan_after = Some("install"));
    w.with(|n| n.failing.push("config".into()));
    let (summary, rec) = w.run(Mode::Apply, &all());
    assert_eq!(summary.exit_code, 1);
    assert_eq!(
        rec.lines("change"),
        [
            "a:do install:done",
            "a:configure (planned once installed):replanned",
            "a:do config:failed",
            "a:do restart:not_attempted"
        ]
    );
}

#[test]
fn a_replan_that_plans_another_replan_point_fails_there() {
    let mut w = World::new(&[("a", &["first", "second"])]);
    // Gated on an item that is never installed: every plan ends at the re-plan point.
    w.set(0, |f| f.replan_after = Some("missing"));
    let (summary, rec) = w.run(Mode::Apply, &all());
    assert_eq!(summary.exit_code, 1);
    assert!(w.ran().is_empty());
    assert_eq!(
        rec.lines("change"),
        ["a:configure (planned once installed):failed"]
    );
    let finished = rec
        .0
        .iter()
        .find(|e| e["event"] == "step_finished")
        .unwrap();
    assert_eq!(
        finished["reason"],
        "cannot plan `configure (planned once installed)` even after the earlier changes were made"
    );
}

/// Plans one kernel parameter change at a /proc/sys path.
struct Param(&'static str);

impl Step for Param {
    fn name(&self) -> &'static str {
        "sysctl"
    }

    fn plan(&self, _ctx: &Context) -> Result<Plan, StepError> {
        let mut plan = Plan::default();
        let path = format!("/proc/sys/{}", self.0.replace('.', "/"));
        plan.push(Change::kernel_param(self.0, path, None, "1"));
        Ok(plan)
    }
}

#[test]
fn a_kernel_parameter_without_its_proc_file_is_refused_by_its_action_and_nothing_written() {
    let w = World::new(&[]);
    let steps: Vec<Box<dyn Step>> = vec![Box::new(Param("net.bridge.bridge-nf-call-iptables"))];
    let w = World { steps, ..w };
    let (summary, rec) = w.run(Mode::Apply, &all());
    assert_eq!(summary.exit_code, 1);
    assert_eq!(
        rec.lines("change"),
        [
            "sysctl:set net.bridge.bridge-nf-call-iptables = 1 (not present yet: appears once its module is loaded):failed"
        ]
    );
    let finished = rec.0.iter().find(|e| e["event"] == "step_finished");
    let reason = finished.unwrap()["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "cannot set /proc/sys/net/bridge/bridge-nf-call-iptables: it does not exist."
        ) && reason.contains("needs br_netfilter"),
        "{reason}"
    );
    assert!(!w.dir.path().join("proc").exists(), "nothing was written");
}
