//! How each service is doing: the engine's view of every container of the spec, its drift from
//! the spec, and its CPU and memory (read for all running containers at once: one reading takes
//! the engine about a second, as it samples CPU twice).

use keepsake_api::{ContainerHealth, ContainerState, ServiceStatus, StackStatus};
use keepsake_stack::LABEL_VERSION;

use super::engine::Usage;
use super::{Inner, StackError, reconcile, role_of, state};

pub async fn read(inner: &Inner) -> Result<StackStatus, StackError> {
    let st = state::load(&inner.store)?;
    let spec = inner.spec(&st)?;
    let mut services = Vec::new();
    let mut engine_error = None;
    for s in spec.start_order() {
        let observed = match inner.engine.inspect(&s.container).await {
            Ok(o) => o,
            Err(e) => {
                engine_error.get_or_insert_with(|| e.to_string());
                None
            }
        };
        let base = ServiceStatus {
            service: role_of(s.role),
            container: s.container.clone(),
            state: ContainerState::Missing,
            health: None,
            started_at: None,
            uptime_secs: None,
            restart_count: 0,
            exit_code: None,
            oom_killed: false,
            image: s.image.reference(),
            running_image: None,
            version: None,
            drift: None,
            cpu_percent: None,
            memory_bytes: None,
        };
        services.push(match observed {
            None => ServiceStatus { drift: st.installed.then(|| "the container is missing".to_owned()), ..base },
            Some(o) => ServiceStatus {
                state: o.state,
                health: o.health,
                started_at: o.started_at,
                uptime_secs: o.started_at.map(|t| (chrono::Utc::now() - t).num_seconds().max(0) as u64),
                restart_count: o.restart_count,
                exit_code: o.exit_code,
                oom_killed: o.oom_killed,
                running_image: Some(o.image.clone()),
                version: o.labels.get(LABEL_VERSION).cloned(),
                drift: reconcile::drift(s, &o),
                ..base
            },
        });
    }
    let usages = futures_util::future::join_all(services.iter().map(|s| async {
        if s.state == ContainerState::Running {
            inner.engine.usage(&s.container).await.unwrap_or_default()
        } else {
            Usage::default()
        }
    }))
    .await;
    for (s, u) in services.iter_mut().zip(usages) {
        s.cpu_percent = u.cpu_percent;
        s.memory_bytes = u.memory_bytes;
    }
    let healthy = engine_error.is_none()
        && services
            .iter()
            .all(|s| s.state == ContainerState::Running && matches!(s.health, None | Some(ContainerHealth::Healthy)));
    Ok(StackStatus {
        installed: st.installed,
        version: st.version.clone(),
        healthy,
        machine_learning: st.machine_learning,
        engine_error,
        services,
    })
}
