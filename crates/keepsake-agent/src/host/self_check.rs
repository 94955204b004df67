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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use keepsake_api::{FacilityKind, FacilityState, JobState};

    use super::*;
    use crate::events::Events;
    use crate::jobs::{JobKind, JobManager};
    use crate::store::Store;

    #[tokio::test]
    async fn a_facility_whose_state_changed_is_published_before_the_job_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in_memory().unwrap());
        let events = Events::new(Arc::clone(&store));
        let mut consumer = events.consumer("test").unwrap();
        let jobs = JobManager::start(Arc::clone(&store), events, &mut |_, _| None).unwrap();
        // The cache says Docker was fine; its socket is now gone.
        let cache = Facilities::new(vec![super::super::ok(FacilityKind::Docker, None, "was fine")]);
        let cfg = HostConfig {
            docker_host: format!("unix://{}/no-docker.sock", dir.path().display()),
            systemd_bus: format!("unix:path={}/no-bus", dir.path().display()),
            state_dir: dir.path().to_owned(),
            data_dir: dir.path().to_owned(),
            probe_timeout: Duration::from_secs(5),
        };
        let job =
            jobs.submit(JobKind::HostSelfCheck, "t", Box::new(move |ctx| Box::pin(run(ctx, cfg, cache)))).unwrap();
        let mut got = Vec::new();
        while !matches!(got.last(), Some(Event::JobFinished { .. })) {
            let batch = consumer.pending(10).unwrap();
            match batch.last() {
                Some(last) => consumer.ack(last.seq).unwrap(),
                None => tokio::time::timeout(Duration::from_secs(30), consumer.wait()).await.unwrap(),
            }
            got.extend(batch.into_iter().map(|d| d.event));
        }
        assert_eq!(
            got,
            vec![
                Event::FacilityChanged {
                    facility: FacilityKind::Docker,
                    from: FacilityState::Ok,
                    to: FacilityState::Missing
                },
                Event::JobFinished { job_id: job.id, kind: "host.self_check".into(), outcome: JobState::Succeeded },
            ]
        );
    }
}
