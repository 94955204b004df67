//! System tests: the real `keepsake-agent`, `keepsake-web` and `keepsake` binaries, run as separate
//! processes against the real components of the test lab (tests/lab/lab.sh). A test that needs a
//! lab component that is not running fails and names the component; none is skipped.

mod harness;

mod alerts;
mod alerts_sources;
mod audit;
mod cert_watch;
mod container_watch;
mod contract;
mod drive_restore;
mod drives;
mod hung_fs;
mod identity;
mod jobs;
mod openapi;
mod password_reset;
mod peers;
mod pool_watch;
mod restore_points;
mod self_check;
mod stack;
mod stack_update;
mod web;
