//! Who runs a trial: [`WorkerId`], a process on a host, and whether that process is gone.

use serde::{Deserialize, Serialize};

/// The process that runs a trial: its host name, process id and the process's start time, so
/// a later process that happens to get the same id (a restarted container's PID 1) is not
/// mistaken for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerId {
    /// Host name.
    pub host: String,
    /// Operating-system process id.
    pub pid: u32,
    /// Start time of the process (Linux: clock ticks after boot), when known.
    pub started: Option<u64>,
}

impl std::fmt::Display for WorkerId {
    /// `host:pid`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.pid)
    }
}

impl WorkerId {
    /// This process on this host.
    pub fn current() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "localhost".to_string());
        let pid = std::process::id();
        WorkerId {
            host,
            pid,
            started: ProcessStatus::of(pid).and_then(|s| s.started),
        }
    }

    /// Whether this worker runs on this host and its process is gone: no such process, a
    /// zombie, or another process that reuses the id (a different start time). Workers on
    /// other hosts are never judged dead here; that needs heartbeats, which do not exist yet.
    pub fn is_dead_local(&self) -> bool {
        if self.host != WorkerId::current().host || !cfg!(target_os = "linux") {
            return false;
        }
        match ProcessStatus::of(self.pid) {
            None => true,
            Some(status) => {
                status.zombie || (self.started.is_some() && status.started != self.started)
            }
        }
    }
}

/// What `/proc/<pid>/stat` says of a process.
struct ProcessStatus {
    /// State `Z`: exited, not yet reaped by its parent.
    zombie: bool,
    /// Field 22, the start time in clock ticks after boot.
    started: Option<u64>,
}

impl ProcessStatus {
    /// The status of `pid` on this machine, `None` if there is no such process.
    fn of(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name, which may itself hold spaces.
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(ProcessStatus {
            zombie: fields.first() == Some(&"Z"),
            started: fields.get(19).and_then(|f| f.parse().ok()),
        })
    }
}
