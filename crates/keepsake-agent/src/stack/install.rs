//! The install job, which is also the reconcile: pull what is missing (byte progress per layer),
//! pin the server's and machine learning's digests, make the network, converge every container
//! to the spec ([`super::reconcile`]), then wait until every service is healthy. Run twice, the
//! second run pulls, makes and starts nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keepsake_api::{ContainerHealth, ContainerState, Job, JobResult, StackInstallRequest, StackReport};
use keepsake_stack::{ImmichVersion, LABEL_PROJECT, Network, Role, StackSpec};

use super::engine::{LayerProgress, Observed};
use super::{Inner, StackError, reconcile, role_of, state};
use crate::jobs::{JobContext, JobFailure, JobKind, Outcome};

pub fn submit(inner: &Arc<Inner>, r: &StackInstallRequest, by: &str) -> Result<Job, StackError> {
    let st = state::load(&inner.store)?;
    if let Some(v) = &r.version {
        let wanted: ImmichVersion = v.parse().map_err(|e| StackError::Refused(format!("{e}")))?;
        if st.installed && st.version.as_deref() != Some(&wanted.to_string()) {
            return Err(StackError::Refused(format!(
                "the stack runs {}; changing the version is an update, not an install (use the update panel)",
                st.version.as_deref().unwrap_or("an unknown version")
            )));
        }
    }
    // Checked now, so a bad setting is a clear refusal rather than a failed job.
    let version = r.version.clone().or(st.version.clone()).unwrap_or_else(|| inner.config.default_version.clone());
    let ml = r.machine_learning.unwrap_or(st.machine_learning);
    inner.spec_for(&version, ml, &st)?;
    let inner = Arc::clone(inner);
    Ok(inner.jobs.clone().submit(
        JobKind::StackInstall,
        by,
        Box::new(move |ctx| Box::pin(async move { run(&inner, &ctx, version, ml).await })),
    )?)
}

use super::job_failed as failed;

async fn run(inner: &Inner, ctx: &JobContext, version: String, ml: bool) -> Outcome {
    let mut st = state::load(&inner.store).map_err(failed)?;
    let fresh = !st.installed;
    ctx.info(if fresh {
        format!("installing Immich {version}")
    } else {
        format!("checking the stack (Immich {version}) against what Keepsake wants")
    });
    // A first install starts everything; a reconcile leaves services stopped on purpose stopped.
    let keep_stopped = if fresh { BTreeSet::new() } else { st.stopped.clone() };
    let mut spec = inner.spec_for(&version, ml, &st).map_err(failed)?;

    ctx.checkpoint("pull", &serde_json::json!({ "version": version }))?;
    let pulled = pull_missing(inner, ctx, &spec).await?;
    // Pin the server and machine learning to what was pulled for this version.
    let digest = |role: Role| {
        let s = spec.service(role).map(|s| s.image.clone());
        async move {
            match s {
                Some(i) if i.digest.is_none() => inner.engine.image_digest(&i.tagged()).await,
                Some(i) => Ok(i.digest),
                None => Ok(None),
            }
        }
    };
    let (server_digest, ml_digest) =
        (digest(Role::Server).await.map_err(failed)?, digest(Role::MachineLearning).await.map_err(failed)?);
    st.version = Some(spec_version(&spec).unwrap_or(version.clone()));
    st.server_digest = server_digest;
    st.ml_digest = ml_digest;
    st.machine_learning = ml;
    spec = inner.spec_for(&version, ml, &st).map_err(failed)?;

    ctx.checkpoint("converge", &serde_json::json!({}))?;
    if let Network::Bridge { name } = &spec.network {
        inner.engine.ensure_network(name).await.map_err(failed)?;
    }
    let observed = observe(inner, &spec).await.map_err(failed)?;
    let stale = stale_containers(inner, &spec).await.map_err(failed)?;
    let steps = reconcile::plan(&spec, &observed, &stale, &keep_stopped);
    if steps.is_empty() {
        ctx.info("every container is as Keepsake wants it");
    }
    let say = |line: String| ctx.info(line);
    let applied = reconcile::apply(inner.engine.as_ref(), &spec, &steps, &keep_stopped, inner.config.stop_grace, &say)
        .await
        .map_err(failed)?;
    if fresh {
        st.stopped.clear();
    }
    st.installed = true;
    state::save(&inner.store, &st).map_err(failed)?;

    ctx.progress(0, None, "s", "waiting until every service is healthy");
    let started = Instant::now();
    wait_healthy(inner, ctx, &spec, &keep_stopped).await?;
    let healthy_after_secs = started.elapsed().as_secs();
    ctx.info(format!("every service is healthy ({healthy_after_secs} s)"));
    Ok(Some(JobResult::StackInstalled(StackReport {
        version: st.version.clone().unwrap_or_default(),
        pulled,
        created: applied.created,
        recreated: applied.recreated,
        started: applied.started,
        healthy_after_secs,
    })))
}

fn spec_version(spec: &StackSpec) -> Option<String> {
    spec.service(Role::Server).and_then(|s| s.labels.get(keepsake_stack::LABEL_VERSION).cloned())
}

/// Pulls every image of the spec the engine does not have, with byte progress over all layers.
pub(super) async fn pull_missing(inner: &Inner, ctx: &JobContext, spec: &StackSpec) -> Result<Vec<String>, JobFailure> {
    let mut missing = Vec::new();
    for s in spec.start_order() {
        let reference = s.image.reference();
        if !inner.engine.image_present(&reference).await.map_err(failed)? && !missing.contains(&reference) {
            missing.push(reference);
        }
    }
    for (i, reference) in missing.iter().enumerate() {
        ctx.info(format!("pulling {reference}"));
        // Layer → (bytes so far, size, finished): the bar is the sum over the layers the engine
        // has named; the phase counts finished layers and each finished one gets a log line.
        let layers: Mutex<HashMap<String, (u64, u64, bool)>> = Mutex::new(HashMap::new());
        let report = |p: LayerProgress| {
            let (done, total, finished, count, just_done) = {
                let mut l = layers.lock().expect("progress lock");
                let e = l.entry(p.layer.clone()).or_insert((0, 0, false));
                let mut just_done = None;
                match p.status.as_str() {
                    "Downloading" => {
                        e.0 = p.current;
                        e.1 = p.total.unwrap_or(e.1);
                    }
                    "Download complete" => e.0 = e.1,
                    "Pull complete" | "Already exists" if !e.2 => {
                        e.0 = e.1;
                        e.2 = true;
                        just_done = Some((p.status.clone(), e.1));
                    }
                    _ => {}
                }
                let (d, t) = l.values().fold((0, 0), |(d, t), (a, b, _)| (d + a, t + b));
                (d, t, l.values().filter(|v| v.2).count(), l.len(), just_done)
            };
            if let Some((status, size)) = just_done {
                ctx.info(format!("layer {}: {} ({})", p.layer, status.to_lowercase(), keepsake_api::human_bytes(size)));
            }
            let phase = format!(
                "pulling image {} of {}: {reference} ({finished} of {count} layers done)",
                i + 1,
                missing.len()
            );
            ctx.progress(done, (total > 0).then_some(total), "B", &phase);
        };
        inner.engine.pull(reference, &report).await.map_err(failed)?;
        ctx.checkpoint("pulled", &serde_json::json!({ "image": reference }))?;
    }
    Ok(missing)
}

async fn observe(inner: &Inner, spec: &StackSpec) -> Result<BTreeMap<String, Observed>, StackError> {
    let mut m = BTreeMap::new();
    for s in &spec.services {
        if let Some(o) = inner.engine.inspect(&s.container).await? {
            m.insert(s.container.clone(), o);
        }
    }
    Ok(m)
}

/// Containers Keepsake made for services the spec no longer has (machine learning turned off).
async fn stale_containers(inner: &Inner, spec: &StackSpec) -> Result<Vec<String>, StackError> {
    let mut stale = Vec::new();
    for role in Role::ALL {
        if spec.service(role).is_some() {
            continue;
        }
        let name = keepsake_stack::container_name(&inner.config.container_prefix, role);
        if let Some(o) = inner.engine.inspect(&name).await?
            && o.labels.contains_key(LABEL_PROJECT)
        {
            stale.push(name);
        }
    }
    Ok(stale)
}

/// Waits until every service not kept stopped runs, healthy where it has a health check. Fails
/// early when one has exited (it will not get better by waiting), or at the timeout, naming it.
pub(super) async fn wait_healthy(
    inner: &Inner,
    ctx: &JobContext,
    spec: &StackSpec,
    keep_stopped: &BTreeSet<keepsake_api::StackService>,
) -> Result<(), JobFailure> {
    let deadline = Instant::now() + inner.config.health_timeout;
    let started = Instant::now();
    loop {
        let mut waiting = Vec::new();
        for s in spec.start_order() {
            if keep_stopped.contains(&role_of(s.role)) {
                continue;
            }
            let o = inner.engine.inspect(&s.container).await.map_err(failed)?;
            let label = role_of(s.role).label();
            match o {
                None => return Err(failed(format!("{label} ({}) disappeared while starting", s.container))),
                Some(o)
                    if o.state == ContainerState::Running
                        && matches!(o.health, None | Some(ContainerHealth::Healthy)) => {}
                Some(o) if matches!(o.state, ContainerState::Exited | ContainerState::Dead) && o.restart_count > 3 => {
                    return Err(failed(format!(
                        "{label} ({}) keeps stopping (exit code {}{}); see its logs",
                        s.container,
                        o.exit_code.map_or("unknown".into(), |c| c.to_string()),
                        if o.oom_killed { ", out of memory" } else { "" }
                    )));
                }
                Some(o) => waiting.push(format!(
                    "{label} ({:?}{})",
                    o.state,
                    o.health.map(|h| format!(", {h:?}")).unwrap_or_default()
                )),
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(failed(format!(
                "not healthy after {} s: {}. See the services' logs",
                inner.config.health_timeout.as_secs(),
                waiting.join(", ")
            )));
        }
        ctx.progress(
            started.elapsed().as_secs(),
            Some(inner.config.health_timeout.as_secs()),
            "s",
            &format!("waiting for {}", waiting.join(", ")),
        );
        if ctx.is_cancelled() {
            return Err(JobFailure::Cancelled);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
