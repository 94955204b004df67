//! The block devices the box sees, as udev describes them (filesystem UUID, type and label, size,
//! bus, model), and which of them belong to the system.
//!
//! A device is *system* when formatting or enrolling it could hurt the box: it holds a filesystem
//! mounted anywhere but our drives folder, it is a ZFS, LVM or RAID member or swap, something is
//! stacked on it (`holders/`), or it is a partition of a disk that holds such a partition (the
//! root disk), or the disk of one. Loop devices have no bus; drives are matched by filesystem
//! UUID only, so that does not matter.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepsake_api::AttachedDevice;

use super::DriveError;
use crate::host::blocking;

/// Filesystem types that mean "part of something bigger": never format these.
const MEMBER_TYPES: &[&str] = &["zfs_member", "LVM2_member", "linux_raid_member", "swap", "ddf_raid_member"];

const SCAN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a confirmation to erase `device` must say, when it holds data.
pub fn format_confirmation(label: Option<&str>, device: &str) -> String {
    let name = label.filter(|l| !l.trim().is_empty()).map(str::to_owned).unwrap_or_else(|| {
        Path::new(device).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| device.to_owned())
    });
    format!("erase {name}")
}

/// One device as udev gave it, before the system rules are applied.
#[derive(Debug, Clone)]
struct Raw {
    info: AttachedDevice,
    sysname: String,
    devnum: Option<(u32, u32)>,
    parent: Option<String>,
    has_holders: bool,
    partition_table: bool,
}

/// Lists block devices (off the runtime: libudev reads /sys and /run/udev).
pub async fn scan(drives_dir: &Path, enrolled: HashSet<String>) -> Result<Vec<AttachedDevice>, DriveError> {
    let dir = drives_dir.to_owned();
    blocking::run("udev block devices", Instant::now() + SCAN_TIMEOUT, "udev or /sys may be stuck", move || {
        scan_blocking(&dir, &enrolled)
    })
    .await
    .map_err(|e| DriveError::Udev(e.to_string()))?
}

fn scan_blocking(drives_dir: &Path, enrolled: &HashSet<String>) -> Result<Vec<AttachedDevice>, DriveError> {
    let raws = enumerate().map_err(DriveError::Udev)?;
    let mounts = read_mounts(drives_dir);
    Ok(classify(raws, &mounts, enrolled))
}

fn enumerate() -> Result<Vec<Raw>, String> {
    let mut e = udev::Enumerator::new().map_err(|e| e.to_string())?;
    e.match_subsystem("block").map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for d in e.scan_devices().map_err(|e| e.to_string())? {
        if let Some(raw) = from_udev(&d) {
            out.push(raw);
        }
    }
    out.sort_by(|a, b| a.info.device.cmp(&b.info.device));
    Ok(out)
}

fn prop(d: &udev::Device, name: &str) -> Option<String> {
    d.property_value(name).map(|v| v.to_string_lossy().into_owned()).filter(|v| !v.is_empty())
}

/// A udev device as a listed device, or `None` for what is never a drive (empty loop devices,
/// RAM disks).
fn from_udev(d: &udev::Device) -> Option<Raw> {
    let sysname = d.sysname().to_string_lossy().into_owned();
    if sysname.starts_with("ram") || sysname.starts_with("zram") {
        return None;
    }
    let node = d.devnode()?.to_string_lossy().into_owned();
    let sectors: u64 = d.attribute_value("size")?.to_string_lossy().trim().parse().ok()?;
    if sectors == 0 {
        return None;
    }
    let is_disk = d.devtype().is_some_and(|t| t == "disk");
    let parent = if is_disk {
        None
    } else {
        d.parent_with_subsystem_devtype("block", "disk")
            .ok()
            .flatten()
            .map(|p| p.sysname().to_string_lossy().into_owned())
    };
    let has_holders = std::fs::read_dir(d.syspath().join("holders")).is_ok_and(|mut r| r.next().is_some());
    let devnum = d.devnum().map(|n| (rustix::fs::major(n), rustix::fs::minor(n)));
    Some(Raw {
        info: AttachedDevice {
            device: node,
            fs_uuid: prop(d, "ID_FS_UUID"),
            fs_type: prop(d, "ID_FS_TYPE"),
            fs_label: prop(d, "ID_FS_LABEL"),
            size: sectors.saturating_mul(512),
            bus: prop(d, "ID_BUS"),
            model: prop(d, "ID_MODEL"),
            enrolled: false,
            system: false,
            has_data: false,
            format_confirmation: None,
        },
        sysname,
        devnum,
        parent,
        has_holders,
        partition_table: prop(d, "ID_PART_TABLE_TYPE").is_some(),
    })
}

/// Mounted filesystems outside our drives folder: their sources and device numbers.
#[derive(Debug, Default)]
pub(super) struct Mounts {
    sources: HashSet<PathBuf>,
    devnums: HashSet<(u32, u32)>,
}

fn read_mounts(drives_dir: &Path) -> Mounts {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text, drives_dir)
}

/// Parses `/proc/self/mountinfo` (`id parent major:minor root mountpoint opts ... - type source
/// superopts`), leaving out mounts under `drives_dir`.
pub(super) fn parse_mountinfo(text: &str, drives_dir: &Path) -> Mounts {
    let mut m = Mounts::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else { continue };
        let (Some(devnum), Some(mountpoint), Some(source)) = (fields.get(2), fields.get(4), fields.get(dash + 2))
        else {
            continue;
        };
        if Path::new(&unescape(mountpoint)).starts_with(drives_dir) {
            continue;
        }
        if let Some((a, b)) = devnum.split_once(':')
            && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
            && a != 0
        {
            m.devnums.insert((a, b));
        }
        let source = unescape(source);
        if source.starts_with("/dev/") {
            let p = PathBuf::from(&source);
            m.sources.insert(std::fs::canonicalize(&p).unwrap_or(p));
        }
    }
    m
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`; everything else (UTF-8 names
/// included) is passed through as bytes.
pub(super) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(Ok(v)) = s.get(i + 1..i + 4).map(|o| u8::from_str_radix(o, 8))
        {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Applies the system rules and fills in what depends on them.
fn classify(raws: Vec<Raw>, mounts: &Mounts, enrolled: &HashSet<String>) -> Vec<AttachedDevice> {
    let mounted = |r: &Raw| {
        r.devnum.is_some_and(|n| mounts.devnums.contains(&n)) || mounts.sources.contains(Path::new(&r.info.device))
    };
    let mut system: HashSet<String> = raws
        .iter()
        .filter(|r| mounted(r) || r.has_holders || r.info.fs_type.as_deref().is_some_and(|t| MEMBER_TYPES.contains(&t)))
        .map(|r| r.sysname.clone())
        .collect();
    // A disk with a system partition is the system's disk, and so are all its partitions.
    let disks: HashSet<String> =
        raws.iter().filter(|r| system.contains(&r.sysname)).filter_map(|r| r.parent.clone()).collect();
    system.extend(disks.iter().cloned());
    let children: HashMap<&str, &str> =
        raws.iter().filter_map(|r| r.parent.as_deref().map(|p| (r.sysname.as_str(), p))).collect();
    for (child, parent) in children {
        if system.contains(parent) {
            system.insert(child.to_owned());
        }
    }
    raws.into_iter()
        .map(|r| {
            let mut d = r.info;
            d.system = system.contains(&r.sysname);
            d.enrolled = d.fs_uuid.as_ref().is_some_and(|u| enrolled.contains(u));
            d.has_data = d.fs_type.is_some() || r.partition_table;
            d.format_confirmation = d.has_data.then(|| format_confirmation(d.fs_label.as_deref(), &d.device));
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(sys: &str, parent: Option<&str>, fs: Option<&str>, devnum: (u32, u32)) -> Raw {
        Raw {
            info: AttachedDevice {
                device: format!("/dev/{sys}"),
                fs_uuid: fs.map(|_| format!("UUID-{sys}")),
                fs_type: fs.map(str::to_owned),
                fs_label: None,
                size: 1 << 30,
                bus: None,
                model: None,
                enrolled: false,
                system: false,
                has_data: false,
                format_confirmation: None,
            },
            sysname: sys.into(),
            devnum: Some(devnum),
            parent: parent.map(str::to_owned),
            has_holders: false,
            partition_table: false,
        }
    }

    #[test]
    fn the_root_disk_and_members_are_system_a_usb_drive_is_not() {
        let info = "22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n\
                    40 22 7:3 / /run/keepsake/drives/AB-CD rw - fuseblk /dev/loop3 rw\n\
                    41 22 0:50 / /with\\040space rw - tmpfs tmpfs rw\n";
        let mounts = parse_mountinfo(info, Path::new("/run/keepsake/drives"));
        let raws = vec![
            raw("sda", None, None, (8, 0)),
            raw("sda1", Some("sda"), Some("vfat"), (8, 1)),
            raw("sda2", Some("sda"), Some("ext4"), (8, 2)),
            raw("sdb", None, None, (8, 16)),
            raw("sdb1", Some("sdb"), Some("exfat"), (8, 17)),
            raw("sdc", None, Some("zfs_member"), (8, 32)),
            raw("loop3", None, Some("exfat"), (7, 3)),
        ];
        let enrolled = HashSet::from(["UUID-loop3".to_owned()]);
        let out = classify(raws, &mounts, &enrolled);
        let sys: Vec<(&str, bool)> = out.iter().map(|d| (d.device.as_str(), d.system)).collect();
        assert_eq!(
            sys,
            vec![
                ("/dev/sda", true),
                ("/dev/sda1", true),
                ("/dev/sda2", true),
                ("/dev/sdb", false),
                ("/dev/sdb1", false),
                ("/dev/sdc", true),
                ("/dev/loop3", false),
            ]
        );
        let loop3 = out.iter().find(|d| d.device == "/dev/loop3").unwrap();
        assert!(loop3.enrolled && loop3.has_data);
        assert_eq!(loop3.format_confirmation.as_deref(), Some("erase loop3"));
        assert!(!out.iter().find(|d| d.device == "/dev/sdb").unwrap().has_data);
    }

    #[test]
    fn the_confirmation_names_the_label_when_there_is_one() {
        assert_eq!(format_confirmation(Some("BLUE"), "/dev/sdb1"), "erase BLUE");
        assert_eq!(format_confirmation(Some(" "), "/dev/sdb1"), "erase sdb1");
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
