//! The host self-check job: probe every facility in turn, report each result as it comes, and
//! refresh the cached facilities the status route shows.

use keepsake_api::{FacilityKind, FacilityState, JobResult, SelfCheckReport};

use super::{Facilities, HostConfig, probe};
use crate::events::Event;
use crate::jobs::{JobContext, Outcome};

pub async fn run(ctx: JobContext, cfg: HostConfig, cache: Facilities) -> Outcome {
    let total = FacilityKind::ALL.len() as u64;
    let mut checks = Vec::new();
    for (i, kind) in FacilityKind::ALL.into_iter().enumerate() {
        ctx.progress(i as u64, Some(total), "checks", &format!("Checking {}", kind.label()));
        let f = probe(&cfg, kind).await;
        let line = format!(
            "{}: {}{}{}",
            f.label,
            f.detail,
            f.version.as_deref().map(|v| format!(" [version {v}]")).unwrap_or_default(),
            f.remedy.as_deref().map(|r| format!(". To fix: {r}")).unwrap_or_default()
        );
        match f.state {
            FacilityState::Ok => ctx.info(line),
            FacilityState::Degraded => ctx.warn(line),
            FacilityState::Missing => ctx.error(line),
        }
        checks.push(f);
    }
    let problems = checks.iter().filter(|c| c.state != FacilityState::Ok).count() as u32;
    ctx.progress(total, Some(total), "checks", "Done");
    for (facility, from, to) in cache.replace(checks.clone()) {
        ctx.publish(&Event::FacilityChanged { facility, from, to });
    }
    ctx.info(if problems == 0 {
        "All checks passed.".to_owned()
    } else {
        format!("{problems} of {total} checks need attention.")
    });
    Ok(Some(JobResult::SelfCheck(SelfCheckReport { checks, problems })))
}
