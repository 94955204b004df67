//! The container watcher: follows the Docker engine's event stream and publishes what happens to
//! containers as events.
//!
//! Contract of [`run`] (the agent spawns it once; it never returns):
//! - It subscribes to the engine's container events (only the actions it reads), from the moment
//!   `run` was called (`since`), so nothing is missed while it connects; after a lost connection it
//!   subscribes again from the last event it handled (`since` includes that instant; events
//!   already handled are skipped by their engine time). It reconnects with a backoff
//!   (1 s doubling to 1 min), logs a failure once per distinct failure, and never panics.
//! - It publishes, as [`Tracker`] decides from each event:
//!   - [`Event::ContainerCrashed`] when a container exits with a non-zero code on its own: a `die`
//!     with no `kill` or `stop` for that container in the [`INTENT_WINDOW`] before it. `docker
//!     stop` (and the agent's own stop) sends `kill` then `die` then `stop`, so it is not a crash;
//!     neither is an exit with code 0.
//!   - [`Event::ContainerRestartLoop`] as well, once, when a container has crashed
//!     [`LOOP_CRASHES`] times within [`LOOP_WINDOW`]; again only after a crash with fewer in the
//!     window (the loop ended and started again).
//!   - [`Event::ContainerHealth`] for `health_status: healthy` / `health_status: unhealthy`.
//!   - [`Event::ContainerRunning`] for every `start`.
//! - Containers are named by their name (the engine's `name` attribute), or by their id if the
//!   event has none.
//!
//! What the real engine sends (Docker 20.10, API 1.41, checked in the lab with `docker events`):
//! - `docker run ... sh -c 'exit 3'`: `create`, `attach`, `start`, `die` (attribute `exitCode=3`).
//! - `docker stop` of a process that exits on SIGTERM: `kill` (`signal=15`), `die` (its own exit
//!   code, 0 for a clean exit), `stop`. Of one that ignores it (`sleep` as PID 1): `kill`
//!   (`signal=15`), after the grace period `kill` (`signal=9`), `die` (`exitCode=137`), `stop`.
//! - A health check: `exec_create`, `exec_start`, `exec_die` at every run, and
//!   `health_status: healthy` / `health_status: unhealthy` only when the status changes.
//! - `docker rm -f`: `destroy` (after `kill` and `die` if it was running).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;

use crate::events::{Event, Events};

/// A `kill` or `stop` this long before a `die` makes that exit intentional.
pub const INTENT_WINDOW: Duration = Duration::from_secs(30);
/// Crashes counted for a restart loop within this window...
pub const LOOP_WINDOW: Duration = Duration::from_secs(10 * 60);
/// ...from this many on.
pub const LOOP_CRASHES: usize = 3;

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A subscription that lasted this long resets the backoff.
const STABLE: Duration = Duration::from_secs(60);
/// The engine actions asked for (`health_status` matches `health_status: healthy` and the
/// others); the many `exec_*` events of health checks are not.
const EVENTS: [&str; 7] = ["start", "die", "kill", "stop", "destroy", "health_status", "oom"];
/// How long connecting and negotiating the API version may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a container event says, as far as the watcher cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Start,
    /// The main process ended, with its exit code if the engine said it.
    Die {
        exit_code: Option<i64>,
    },
    /// A signal was sent (`docker kill`, and the first step of `docker stop`).
    Kill,
    /// The kernel's out-of-memory killer hit the container (a `die` with 137 follows).
    Oom,
    Stop,
    Destroy,
    Healthy,
    Unhealthy,
    Other,
}

/// One container event, reduced to what [`Tracker`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteEvent {
    pub container: String,
    pub action: Action,
}

impl LiteEvent {
    /// Reads an engine event; `None` for events without a container.
    pub fn from_message(msg: &bollard::models::EventMessage) -> Option<LiteEvent> {
        let actor = msg.actor.as_ref()?;
        let attr = |key: &str| actor.attributes.as_ref().and_then(|a| a.get(key));
        let container = match (attr("name"), &actor.id) {
            (Some(name), _) if !name.is_empty() => name.clone(),
            (_, Some(id)) if !id.is_empty() => id.chars().take(12).collect(),
            _ => return None,
        };
        Some(LiteEvent {
            container,
            action: Action::parse(msg.action.as_deref()?, attr("exitCode").map(|s| s.as_str())),
        })
    }
}

impl Action {
    /// An engine action (`die`, `health_status: healthy`, ...) and the `exitCode` attribute.
    pub fn parse(action: &str, exit_code: Option<&str>) -> Action {
        match action {
            "start" => Action::Start,
            "die" => Action::Die { exit_code: exit_code.and_then(|c| c.parse().ok()) },
            "kill" => Action::Kill,
            "oom" => Action::Oom,
            "stop" => Action::Stop,
            "destroy" => Action::Destroy,
            other => match other.strip_prefix("health_status:").map(str::trim) {
                Some("healthy") => Action::Healthy,
                Some("unhealthy") => Action::Unhealthy,
                _ => Action::Other,
            },
        }
    }
}

/// What the tracker remembers of one container.
#[derive(Debug, Default)]
struct Track {
    /// When a `kill` or `stop` was last seen, until a `die` or `start` uses it up.
    intent: Option<Instant>,
    /// When it crashed, within the last [`LOOP_WINDOW`].
    crashes: VecDeque<Instant>,
    /// Whether a restart loop was published and has not ended.
    looping: bool,
    /// When the engine last said the kernel killed it for lack of memory.
    oom: Option<Instant>,
}

/// Turns the engine's container events into Keepsake events: a pure state machine.
#[derive(Debug, Default)]
pub struct Tracker {
    containers: HashMap<String, Track>,
}

impl Tracker {
    /// The events that `event`, seen at `now`, means (usually none).
    pub fn observe(&mut self, event: &LiteEvent, now: Instant) -> Vec<Event> {
        let container = event.container.clone();
        if event.action == Action::Destroy {
            self.containers.remove(&container);
            return Vec::new();
        }
        let track = self.containers.entry(container.clone()).or_default();
        match event.action {
            Action::Kill | Action::Stop => {
                track.intent = Some(now);
                Vec::new()
            }
            Action::Oom => {
                track.oom = Some(now);
                Vec::new()
            }
            Action::Start => {
                // A start uses up an earlier stop: a crash right after it is a crash.
                track.intent = None;
                vec![Event::ContainerRunning { container }]
            }
            Action::Die { exit_code } => {
                let intended = track.intent.take().is_some_and(|at| now.saturating_duration_since(at) <= INTENT_WINDOW);
                let oom = track.oom.take().is_some_and(|at| now.saturating_duration_since(at) <= INTENT_WINDOW);
                match exit_code {
                    // The kernel's kill is no one's request: a crash even right after a stop.
                    Some(code) if code != 0 && (!intended || oom) => track.crashed(container, code, oom, now),
                    _ => Vec::new(),
                }
            }
            Action::Healthy => vec![Event::ContainerHealth { container, healthy: true }],
            Action::Unhealthy => vec![Event::ContainerHealth { container, healthy: false }],
            Action::Destroy | Action::Other => Vec::new(),
        }
    }
}

impl Track {
    fn crashed(&mut self, container: String, exit_code: i64, out_of_memory: bool, now: Instant) -> Vec<Event> {
        while self.crashes.front().is_some_and(|at| now.saturating_duration_since(*at) > LOOP_WINDOW) {
            self.crashes.pop_front();
        }
        self.crashes.push_back(now);
        let mut events = vec![Event::ContainerCrashed { container: container.clone(), exit_code, out_of_memory }];
        if self.crashes.len() < LOOP_CRASHES {
            self.looping = false;
        } else if !self.looping {
            self.looping = true;
            events.push(Event::ContainerRestartLoop {
                container,
                restarts: self.crashes.len() as u32,
                window_secs: LOOP_WINDOW.as_secs() as u32,
            });
        }
        events
    }
}

/// Follows the engine at `docker_host` (`unix:///path`) and publishes into `events`; see the
/// module header.
pub async fn run(docker_host: String, events: Events) {
    let Some(path) = docker_host.strip_prefix("unix://").map(str::to_owned) else {
        tracing::error!(docker_host, "container watcher: only unix:// Docker endpoints are supported; not watching");
        return std::future::pending().await;
    };
    let mut watch = Watch {
        since_nanos: nanos_now(),
        last_nanos: 0,
        tracker: Tracker::default(),
        events,
        last_failure: None,
        receiving: false,
    };
    let mut backoff = MIN_BACKOFF;
    loop {
        let began = Instant::now();
        let why = match watch.follow(&path).await {
            Ok(()) => "the engine ended the event stream".to_owned(),
            Err(e) => e.to_string(),
        };
        watch.failed(why);
        if began.elapsed() >= STABLE {
            backoff = MIN_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn nanos_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// The watcher's state across reconnections.
struct Watch {
    /// Subscribe from here (Unix time in nanoseconds).
    since_nanos: i64,
    /// The engine time of the last event handled; events up to it are not handled again.
    last_nanos: i64,
    tracker: Tracker,
    events: Events,
    last_failure: Option<String>,
    /// Whether events arrive on the current subscription (for the "works again" log).
    receiving: bool,
}

impl Watch {
    /// One subscription, until the stream ends or fails.
    async fn follow(&mut self, path: &str) -> Result<(), bollard::errors::Error> {
        let docker = super::docker::connect(path, CONNECT_TIMEOUT).await?;
        let since = format!("{}.{:09}", self.since_nanos / 1_000_000_000, self.since_nanos % 1_000_000_000);
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            ("event".to_owned(), EVENTS.iter().map(|e| (*e).to_owned()).collect()),
        ]);
        let options = EventsOptions { since: Some(since), until: None, filters: Some(filters) };
        let mut stream = docker.events(Some(options));
        self.receiving = false;
        while let Some(msg) = stream.next().await {
            let msg = msg?;
            if !self.receiving {
                self.receiving = true;
                if self.last_failure.take().is_some() {
                    tracing::info!("container watcher: following the Docker engine's events again");
                }
            }
            self.handle(&msg);
        }
        Ok(())
    }

    fn handle(&mut self, msg: &bollard::models::EventMessage) {
        let at = msg.time_nano.or(msg.time.map(|s| s.saturating_mul(1_000_000_000))).unwrap_or(0);
        if at != 0 && at <= self.last_nanos {
            return; // Handled before a reconnection.
        }
        if at != 0 {
            self.last_nanos = at;
            self.since_nanos = at;
        }
        let Some(lite) = LiteEvent::from_message(msg) else { return };
        tracing::debug!(container = lite.container, action = ?lite.action, "container event");
        for event in self.tracker.observe(&lite, Instant::now()) {
            if let Err(e) = self.events.publish(&event) {
                tracing::error!(error = %e, topic = event.topic(), "container watcher: cannot publish an event");
            }
        }
    }

    fn failed(&mut self, why: String) {
        if self.last_failure.as_ref() != Some(&why) {
            tracing::warn!(error = %why, "container watcher: lost the Docker engine's event stream; reconnecting");
            self.last_failure = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(container: &str, action: &str, exit_code: Option<&str>) -> LiteEvent {
        LiteEvent { container: container.into(), action: Action::parse(action, exit_code) }
    }

    /// Feeds `(seconds after start, event)` pairs and collects what comes out.
    fn feed(tracker: &mut Tracker, t0: Instant, seq: &[(u64, LiteEvent)]) -> Vec<Event> {
        seq.iter().flat_map(|(s, e)| tracker.observe(e, t0 + Duration::from_secs(*s))).collect()
    }

    fn crashed(c: &str, exit_code: i64) -> Event {
        Event::ContainerCrashed { container: c.into(), exit_code, out_of_memory: false }
    }

    #[test]
    fn an_out_of_memory_kill_is_a_crash_that_says_so() {
        let mut t = Tracker::default();
        let got = feed(
            &mut t,
            Instant::now(),
            &[(0, ev("app", "start", None)), (4, ev("app", "oom", None)), (4, ev("app", "die", Some("137")))],
        );
        let oom = Event::ContainerCrashed { container: "app".into(), exit_code: 137, out_of_memory: true };
        assert_eq!(got, vec![running("app"), oom]);
        // The next crash without an `oom` is an ordinary one.
        let got = feed(&mut t, Instant::now(), &[(0, ev("app", "start", None)), (1, ev("app", "die", Some("1")))]);
        assert_eq!(got, vec![running("app"), crashed("app", 1)]);
    }

    fn running(c: &str) -> Event {
        Event::ContainerRunning { container: c.into() }
    }

    #[test]
    fn a_non_zero_exit_on_its_own_is_a_crash() {
        let mut t = Tracker::default();
        let got = feed(
            &mut t,
            Instant::now(),
            &[
                (0, ev("app", "create", None)),
                (0, ev("app", "attach", None)),
                (0, ev("app", "start", None)),
                (1, ev("app", "die", Some("3"))),
            ],
        );
        assert_eq!(got, vec![running("app"), crashed("app", 3)]);
    }

    #[test]
    fn docker_stop_is_not_a_crash() {
        // What the engine sends for `docker stop`: kill (SIGTERM), die 143, stop.
        let mut t = Tracker::default();
        let got = feed(
            &mut t,
            Instant::now(),
            &[
                (0, ev("app", "start", None)),
                (5, ev("app", "kill", None)),
                (5, ev("app", "die", Some("143"))),
                (5, ev("app", "stop", None)),
            ],
        );
        assert_eq!(got, vec![running("app")]);
        // And when SIGTERM is ignored: kill 15, ten seconds, kill 9, die 137, stop.
        let got = feed(
            &mut t,
            Instant::now(),
            &[
                (0, ev("app", "kill", None)),
                (10, ev("app", "kill", None)),
                (10, ev("app", "die", Some("137"))),
                (10, ev("app", "stop", None)),
            ],
        );
        assert_eq!(got, vec![]);
    }

    #[test]
    fn a_kill_long_before_the_exit_does_not_excuse_it() {
        let mut t = Tracker::default();
        let got = feed(&mut t, Instant::now(), &[(0, ev("app", "kill", None)), (31, ev("app", "die", Some("1")))]);
        assert_eq!(got, vec![crashed("app", 1)]);
    }

    #[test]
    fn a_stop_then_a_start_then_a_crash_is_a_crash() {
        let mut t = Tracker::default();
        let got = feed(
            &mut t,
            Instant::now(),
            &[
                (0, ev("app", "kill", None)),
                (0, ev("app", "die", Some("143"))),
                (0, ev("app", "stop", None)),
                (1, ev("app", "start", None)),
                (2, ev("app", "die", Some("1"))),
            ],
        );
        assert_eq!(got, vec![running("app"), crashed("app", 1)]);
    }

    #[test]
    fn an_intent_is_used_up_by_one_exit() {
        let mut t = Tracker::default();
        let got = feed(
            &mut t,
            Instant::now(),
            &[(0, ev("app", "kill", None)), (0, ev("app", "die", Some("137"))), (1, ev("app", "die", Some("2")))],
        );
        assert_eq!(got, vec![crashed("app", 2)]);
    }

    #[test]
    fn exit_code_zero_or_unknown_is_not_a_crash() {
        let mut t = Tracker::default();
        let got = feed(&mut t, Instant::now(), &[(0, ev("job", "die", Some("0"))), (1, ev("job", "die", None))]);
        assert_eq!(got, vec![]);
    }

    #[test]
    fn the_stop_of_one_container_does_not_excuse_another() {
        let mut t = Tracker::default();
        let got = feed(&mut t, Instant::now(), &[(0, ev("a", "kill", None)), (0, ev("b", "die", Some("1")))]);
        assert_eq!(got, vec![crashed("b", 1)]);
    }

    #[test]
    fn three_crashes_within_ten_minutes_are_a_restart_loop_reported_once() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        let crash_at = |s| [(s, ev("db", "start", None)), (s + 1, ev("db", "die", Some("1")))];
        let got = feed(&mut t, t0, &[crash_at(0), crash_at(200), crash_at(400)].concat());
        let loops: Vec<&Event> = got.iter().filter(|e| matches!(e, Event::ContainerRestartLoop { .. })).collect();
        assert_eq!(loops, [&Event::ContainerRestartLoop { container: "db".into(), restarts: 3, window_secs: 600 }]);
        assert_eq!(got.iter().filter(|e| matches!(e, Event::ContainerCrashed { .. })).count(), 3);
        assert_eq!(got.last(), Some(&loops[0].clone()), "the loop comes after the third crash");
        // A fourth crash in the window: a crash, not a second loop.
        let got = feed(&mut t, t0, &crash_at(500));
        assert_eq!(got, vec![running("db"), crashed("db", 1)]);
        // Long after: the window has emptied, the loop ended; three more make a new loop.
        let got = feed(&mut t, t0, &[crash_at(2000), crash_at(2100), crash_at(2200)].concat());
        assert_eq!(got.iter().filter(|e| matches!(e, Event::ContainerRestartLoop { restarts: 3, .. })).count(), 1);
    }

    #[test]
    fn crashes_spread_over_more_than_ten_minutes_are_no_loop() {
        let mut t = Tracker::default();
        let got = feed(
            &mut t,
            Instant::now(),
            &[(0, ev("db", "die", Some("1"))), (400, ev("db", "die", Some("1"))), (801, ev("db", "die", Some("1")))],
        );
        assert_eq!(got, vec![crashed("db", 1), crashed("db", 1), crashed("db", 1)]);
    }

    #[test]
    fn a_destroyed_container_is_forgotten() {
        let mut t = Tracker::default();
        let got = feed(
            &mut t,
            Instant::now(),
            &[(0, ev("app", "kill", None)), (0, ev("app", "destroy", None)), (1, ev("app", "die", Some("1")))],
        );
        assert_eq!(got, vec![crashed("app", 1)]);
        assert!(t.containers.len() == 1);
        t.observe(&ev("app", "destroy", None), Instant::now());
        assert!(t.containers.is_empty());
    }

    #[test]
    fn health_changes_and_starts() {
        let mut t = Tracker::default();
        let got = feed(
            &mut t,
            Instant::now(),
            &[
                (0, ev("web", "start", None)),
                (30, ev("web", "health_status: healthy", None)),
                (60, ev("web", "health_status: unhealthy", None)),
                (61, ev("web", "health_status: starting", None)),
                (62, ev("web", "exec_start: /bin/sh -c curl -f localhost", None)),
            ],
        );
        assert_eq!(
            got,
            vec![
                running("web"),
                Event::ContainerHealth { container: "web".into(), healthy: true },
                Event::ContainerHealth { container: "web".into(), healthy: false },
            ]
        );
    }

    #[test]
    fn engine_messages_are_read_by_name_with_the_exit_code() {
        let msg: bollard::models::EventMessage = serde_json::from_value(serde_json::json!({
            "Type": "container",
            "Action": "die",
            "Actor": {"ID": "0123456789abcdef0123", "Attributes": {"exitCode": "3", "image": "keepsake-lab/busybox:1", "name": "crashy"}},
            "scope": "local",
            "time": 1700000000,
            "timeNano": 1700000000123456789i64
        }))
        .unwrap();
        assert_eq!(
            LiteEvent::from_message(&msg),
            Some(LiteEvent { container: "crashy".into(), action: Action::Die { exit_code: Some(3) } })
        );
        let unnamed: bollard::models::EventMessage = serde_json::from_value(serde_json::json!({
            "Type": "container", "Action": "start", "Actor": {"ID": "0123456789abcdef0123", "Attributes": {}}
        }))
        .unwrap();
        assert_eq!(LiteEvent::from_message(&unnamed).unwrap().container, "0123456789ab");
        let no_actor: bollard::models::EventMessage =
            serde_json::from_value(serde_json::json!({"Type": "container", "Action": "start"})).unwrap();
        assert_eq!(LiteEvent::from_message(&no_actor), None);
    }
}
