//! Step `certificates`: warns about kubeadm's certificates that expire within 30 days or
//! have expired (see [`crate::certs::collect`] for which ones). It only observes: renewing
//! restarts the control plane, so it is an explicit command (`bootstrap certs renew`), never
//! a side effect of `apply`. Skipped on a node kubeadm has not set up yet.

use crate::certs::collect::{self, KUBELET_CLIENT};
use crate::certs::expiry;
use crate::engine::{Context, Plan, Step, StepError};

/// How close to its notAfter a certificate is reported: kubeadm's own `certs
/// check-expiration` shows residual time, and 30 days leaves time to act.
pub const WINDOW_DAYS: i64 = 30;

/// What to do about an expiring certificate.
const RENEW: &str = "renew it with `bootstrap certs renew` on this control plane (it runs `kubeadm certs renew all` and restarts the control-plane static pods)";
/// What to do about the kubelet's own client certificate.
const KUBELET: &str = "the kubelet renews this one itself when certificate rotation is on (rotateCertificates, kubeadm's default): check that the kubelet runs and can reach the API server";

/// The `certificates` step.
pub struct CertificatesStep;

impl Step for CertificatesStep {
    fn name(&self) -> &'static str {
        "certificates"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        if !collect::has_kubeadm_files(ctx.host) {
            return Ok(Plan::skip(
                "no kubeadm certificates or kubeconfigs on this node yet",
            ));
        }
        let found = collect::collect(ctx.host)?;
        let now = ctx.host.unix_time();
        let mut plan = Plan::default();
        let (kubelet, others): (Vec<_>, Vec<_>) = found
            .certs
            .iter()
            .cloned()
            .partition(|c| c.source == KUBELET_CLIENT);
        let mut warnings = expiry::findings(&others, now, WINDOW_DAYS, RENEW);
        warnings.extend(expiry::findings(&kubelet, now, WINDOW_DAYS, KUBELET));
        if warnings.is_empty() && found.problems.is_empty() {
            plan.info(format!(
                "{} certificates checked; none expires within {WINDOW_DAYS} days",
                found.certs.len()
            ));
        }
        for w in warnings {
            plan.warn(w);
        }
        for p in found.problems {
            plan.warn(format!("cannot read a certificate: {p}"));
        }
        Ok(plan)
    }
}
