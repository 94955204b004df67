//! Plug-in backups: a thread follows udev's block events (libudev's monitor is not `Send`, so it
//! lives on a thread of its own, blocked in `poll`), and a task starts the backup of an enrolled
//! drive whose trigger is `plug_in` when its filesystem *appears*: a device that did not hold that
//! filesystem UUID a moment ago now does (a loop device attached, a USB drive plugged in, a
//! partition found). Events that repeat a device's known UUID (udev re-reads a device after our
//! own unmount closes it) start nothing, so a backup never starts itself again; a backup already
//! queued or running for the drive is not started twice. A drive whose filesystem leaves its
//! device was unplugged: its "safe to remove" notice resolves.

use std::collections::HashMap;
use std::sync::Arc;

use keepsake_api::DriveTrigger;
use tokio::sync::mpsc;

use super::Inner;

/// One block event, reduced to what matters.
#[derive(Debug)]
struct Seen {
    device: String,
    /// The filesystem UUID the device holds now (`None`: none, or it was removed).
    uuid: Option<String>,
    removed: bool,
}

pub fn start(inner: Arc<Inner>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let known = initial();
    let spawned = std::thread::Builder::new().name("keepsake-udev".into()).spawn(move || {
        if let Err(e) = follow(&tx) {
            tracing::error!(error = %e, "cannot follow udev: plugged-in drives will not start backups by themselves");
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the udev thread");
        return;
    }
    tokio::spawn(react(inner, rx, known));
}

/// What each device holds now, so that drives already plugged in at start do not count as new.
fn initial() -> HashMap<String, String> {
    let mut known = HashMap::new();
    let Ok(mut e) = udev::Enumerator::new() else { return known };
    if e.match_subsystem("block").is_err() {
        return known;
    }
    if let Ok(devices) = e.scan_devices() {
        for d in devices {
            if let (Some(node), Some(uuid)) = (d.devnode(), d.property_value("ID_FS_UUID")) {
                known.insert(node.to_string_lossy().into_owned(), uuid.to_string_lossy().into_owned());
            }
        }
    }
    known
}

fn follow(tx: &mpsc::UnboundedSender<Seen>) -> std::io::Result<()> {
    let socket = udev::MonitorBuilder::new()?.match_subsystem("block")?.listen()?;
    tracing::info!("following udev for plugged-in backup drives");
    loop {
        let mut fds = [rustix::event::PollFd::new(&socket, rustix::event::PollFlags::IN)];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        for event in socket.iter() {
            let d = event.device();
            let Some(node) = d.devnode() else { continue };
            let removed = event.event_type() == udev::EventType::Remove;
            let uuid = d
                .property_value("ID_FS_UUID")
                .map(|v| v.to_string_lossy().into_owned())
                .filter(|v| !v.is_empty() && !removed);
            let seen = Seen { device: node.to_string_lossy().into_owned(), uuid, removed };
            if tx.send(seen).is_err() {
                return Ok(());
            }
        }
    }
}

/// The filesystem UUID that just appeared on a device, if this event is such an appearance; keeps
/// `known` (device → UUID) current either way.
fn appeared(known: &mut HashMap<String, String>, seen: &Seen) -> Option<String> {
    match (&seen.uuid, seen.removed) {
        (Some(uuid), false) => {
            let before = known.insert(seen.device.clone(), uuid.clone());
            (before.as_deref() != Some(uuid.as_str())).then(|| uuid.clone())
        }
        _ => {
            known.remove(&seen.device);
            None
        }
    }
}

async fn react(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Seen>, mut known: HashMap<String, String>) {
    while let Some(seen) = rx.recv().await {
        let before = known.get(&seen.device).cloned();
        let new = appeared(&mut known, &seen);
        // An enrolled drive's filesystem left its device: unplugged (its "safe to remove" resolves).
        if let Some(old) = before.filter(|old| seen.removed || seen.uuid.as_deref() != Some(old.as_str()))
            && let Ok(Some(d)) = inner.store.drive(&old)
        {
            tracing::info!(drive = old, device = seen.device, "an enrolled drive was unplugged");
            inner.publish(&crate::events::Event::DriveUnplugged { drive: old, label: d.config.name });
        }
        let Some(uuid) = new else { continue };
        let drive = match inner.store.drive(&uuid) {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(error = %e, "cannot read enrolled drives");
                continue;
            }
        };
        if drive.config.trigger != DriveTrigger::PlugIn {
            tracing::info!(
                drive = uuid,
                device = seen.device,
                "an enrolled drive was plugged in (its backups start on a schedule or by hand)"
            );
            continue;
        }
        tracing::info!(drive = uuid, device = seen.device, "an enrolled drive was plugged in; starting its backup");
        if let Err(e) = inner.submit_backup(&uuid, "plug-in") {
            tracing::error!(drive = uuid, error = %e, "cannot start the backup of a plugged-in drive");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(device: &str, uuid: Option<&str>, removed: bool) -> Seen {
        Seen { device: device.into(), uuid: uuid.map(str::to_owned), removed }
    }

    #[test]
    fn only_a_filesystem_new_on_its_device_counts_as_plugged_in() {
        let mut known = HashMap::from([("/dev/sdb1".to_owned(), "OLD-1".to_owned())]);
        // Present at start: re-read by udev (our own unmount closes the device) is no plug-in.
        assert_eq!(appeared(&mut known, &ev("/dev/sdb1", Some("OLD-1"), false)), None);
        // A loop device attached with an image: new.
        assert_eq!(appeared(&mut known, &ev("/dev/loop3", Some("AB-CD"), false)), Some("AB-CD".into()));
        assert_eq!(appeared(&mut known, &ev("/dev/loop3", Some("AB-CD"), false)), None, "once");
        // Detached (a change without a filesystem), then attached again: new again.
        assert_eq!(appeared(&mut known, &ev("/dev/loop3", None, false)), None);
        assert_eq!(appeared(&mut known, &ev("/dev/loop3", Some("AB-CD"), false)), Some("AB-CD".into()));
        // Removed, and a freshly formatted filesystem on a known device.
        assert_eq!(appeared(&mut known, &ev("/dev/loop3", Some("AB-CD"), true)), None);
        assert_eq!(appeared(&mut known, &ev("/dev/sdb1", Some("NEW-2"), false)), Some("NEW-2".into()));
    }
}
