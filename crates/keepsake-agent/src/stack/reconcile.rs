//! Converging the engine to the spec: what to do ([`plan`], a pure function of the spec and what
//! the engine shows) and doing it ([`apply`]). Idempotent: a second run right after the first plans
//! nothing.
//!
//! Drift is judged by what Keepsake wrote on each container: its project and config-hash labels
//! (the hash covers image, environment, mounts, ports, health check, restart policy and network;
//! see `keepsake_stack::ServiceSpec::config_hash`) and its image. A container recreated or edited
//! by hand loses or changes those, so it is made again from the spec; its data lives in bind
//! mounts and survives.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use keepsake_api::{ContainerState, StackService};
use keepsake_stack::{LABEL_CONFIG, LABEL_PROJECT, StackSpec};

use super::engine::{Engine, EngineResult, Observed};
use super::role_of;

/// One thing to do to one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No container: make it.
    Create(StackService),
    /// The container differs from the spec (the reason): remove it and make it again.
    Recreate(StackService, String),
    /// It exists as specified but is not running.
    Start(StackService),
    /// A container of the project for a service no longer wanted (machine learning turned off).
    Remove(String),
}

/// Why `observed` is not what `spec` describes; `None` when it is.
pub fn drift(spec: &keepsake_stack::ServiceSpec, observed: &Observed) -> Option<String> {
    if observed.labels.get(LABEL_PROJECT) != spec.labels.get(LABEL_PROJECT) {
        return Some("it was not made by Keepsake (made again by hand?)".into());
    }
    if observed.image != spec.image.reference() {
        return Some(format!("it runs {} instead of {}", observed.image, spec.image.reference()));
    }
    if observed.labels.get(LABEL_CONFIG).map(String::as_str) != Some(spec.config_hash().as_str()) {
        return Some("its settings were changed".into());
    }
    None
}

/// The steps that bring `observed` (by container name) to `spec`, in start order. Services in
/// `keep_stopped` (stopped through Keepsake) are not started, but still made and repaired.
pub fn plan(
    spec: &StackSpec,
    observed: &BTreeMap<String, Observed>,
    stale: &[String],
    keep_stopped: &BTreeSet<StackService>,
) -> Vec<Step> {
    let mut steps: Vec<Step> = stale.iter().map(|c| Step::Remove(c.clone())).collect();
    for s in spec.start_order() {
        let role = role_of(s.role);
        match observed.get(&s.container) {
            None => steps.push(Step::Create(role)),
            Some(o) => match drift(s, o) {
                Some(why) => steps.push(Step::Recreate(role, why)),
                None if keep_stopped.contains(&role) => {}
                None if !matches!(o.state, ContainerState::Running | ContainerState::Restarting) => {
                    steps.push(Step::Start(role))
                }
                None => {}
            },
        }
    }
    steps
}

/// What [`apply`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub created: Vec<StackService>,
    pub recreated: Vec<StackService>,
    pub started: Vec<StackService>,
    pub removed: Vec<String>,
}

/// Runs the steps. New and recreated containers are started unless kept stopped. `say` gets one
/// line per step for the job's log.
pub async fn apply(
    engine: &dyn Engine,
    spec: &StackSpec,
    steps: &[Step],
    keep_stopped: &BTreeSet<StackService>,
    grace: Duration,
    say: &(dyn Fn(String) + Send + Sync),
) -> EngineResult<Applied> {
    let mut done = Applied::default();
    let container = |role: StackService| {
        spec.services.iter().find(|s| role_of(s.role) == role).expect("a planned service is in the spec")
    };
    for step in steps {
        match step {
            Step::Remove(name) => {
                say(format!("removing {name}: no longer part of the stack"));
                engine.stop(name, grace).await?;
                engine.remove(name).await?;
                done.removed.push(name.clone());
            }
            Step::Create(role) | Step::Recreate(role, _) => {
                let s = container(*role);
                if let Step::Recreate(_, why) = step {
                    say(format!("making {} again: {why}", s.container));
                    engine.stop(&s.container, grace).await?;
                    engine.remove(&s.container).await?;
                    done.recreated.push(*role);
                } else {
                    say(format!("creating {} ({})", s.container, s.image.reference()));
                    done.created.push(*role);
                }
                engine.create(s).await?;
                if !keep_stopped.contains(role) {
                    engine.start(&s.container).await?;
                }
            }
            Step::Start(role) => {
                let s = container(*role);
                say(format!("starting {}", s.container));
                engine.start(&s.container).await?;
                done.started.push(*role);
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepsake_stack::{ImmichVersion, StackSettings, build};

    fn spec(ml: bool) -> StackSpec {
        let v: ImmichVersion = "v3.2.2".parse().unwrap();
        let mut s = StackSettings::defaults(v, std::path::Path::new("/srv/immich"), "A".repeat(32));
        s.machine_learning = ml;
        build(&s).unwrap()
    }

    fn as_built(spec: &StackSpec, state: ContainerState) -> BTreeMap<String, Observed> {
        spec.services
            .iter()
            .map(|s| {
                let o = Observed {
                    name: s.container.clone(),
                    image: s.image.reference(),
                    labels: s.labels.clone(),
                    state,
                    health: None,
                    started_at: None,
                    restart_count: 0,
                    exit_code: None,
                    oom_killed: false,
                };
                (s.container.clone(), o)
            })
            .collect()
    }

    #[test]
    fn an_empty_engine_gets_every_service_in_start_order() {
        let s = spec(true);
        let steps = plan(&s, &BTreeMap::new(), &[], &BTreeSet::new());
        use StackService::*;
        assert_eq!(steps, [Database, Redis, MachineLearning, Server].map(Step::Create).to_vec());
    }

    #[test]
    fn a_stack_as_built_and_running_needs_nothing() {
        let s = spec(true);
        assert!(plan(&s, &as_built(&s, ContainerState::Running), &[], &BTreeSet::new()).is_empty());
    }

    #[test]
    fn stopped_services_start_unless_stopped_on_purpose() {
        let s = spec(true);
        let observed = as_built(&s, ContainerState::Exited);
        let keep = BTreeSet::from([StackService::MachineLearning]);
        let steps = plan(&s, &observed, &[], &keep);
        assert_eq!(
            steps,
            vec![
                Step::Start(StackService::Database),
                Step::Start(StackService::Redis),
                Step::Start(StackService::Server)
            ]
        );
    }

    #[test]
    fn drift_is_found_from_labels_and_image() {
        let s = spec(true);
        let mut observed = as_built(&s, ContainerState::Running);
        let server = s.service(keepsake_stack::Role::Server).unwrap().container.clone();
        let db = s.service(keepsake_stack::Role::Database).unwrap().container.clone();
        let redis = s.service(keepsake_stack::Role::Redis).unwrap().container.clone();
        observed.get_mut(&server).unwrap().labels.clear();
        observed.get_mut(&db).unwrap().image = "postgres:16".into();
        observed.get_mut(&redis).unwrap().labels.insert(LABEL_CONFIG.into(), "0".repeat(64));
        let steps = plan(&s, &observed, &[], &BTreeSet::new());
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert!(matches!(&steps[0], Step::Recreate(StackService::Database, why) if why.contains("postgres:16")));
        assert!(matches!(&steps[1], Step::Recreate(StackService::Redis, why) if why.contains("settings")));
        assert!(matches!(&steps[2], Step::Recreate(StackService::Server, why) if why.contains("not made by Keepsake")));
    }

    #[test]
    fn a_service_turned_off_is_removed_first() {
        let s = spec(false);
        assert!(s.service(keepsake_stack::Role::MachineLearning).is_none());
        let steps =
            plan(&s, &as_built(&s, ContainerState::Running), &["immich_machine_learning".into()], &BTreeSet::new());
        assert_eq!(steps, vec![Step::Remove("immich_machine_learning".into())]);
    }
}
