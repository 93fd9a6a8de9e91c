//! A private PostgreSQL cluster on this machine, for `dream-photo serve` (under `.data/`) and for the
//! tests (a throwaway one per test binary).
//!
//! It finds the server binaries (Debian's `/usr/lib/postgresql/<version>/bin`, or `initdb` on PATH),
//! runs `initdb` once, and runs `postgres` as a child on 127.0.0.1. PostgreSQL refuses to run as root,
//! so when we are root (as CI is) both run as the `postgres` system user that Debian's package creates.
//! The server gets SIGQUIT if our process dies, so nothing is left running behind us.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); install them with: apt-get install -y postgresql")]
    BinariesNotFound,
    #[error("running as root needs the `postgres` system user to run PostgreSQL (apt-get install -y postgresql creates it)")]
    NoPostgresUser,
    #[error("{action} failed: {detail}")]
    Io { action: String, detail: String },
    #[error("PostgreSQL did not become ready within {0:?}; see {1}")]
    NotReady(Duration, PathBuf),
}

fn io_err(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let action = action.into();
    move |e| ClusterError::Io {
        action,
        detail: e.to_string(),
    }
}

/// Options for a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub data_dir: PathBuf,
    pub port: u16,
    /// Trade durability for speed (tests): fsync and synchronous commit off.
    pub ephemeral: bool,
}

/// A running cluster. Dropping it does not stop the server; call [`LocalCluster::stop`].
pub struct LocalCluster {
    pub data_dir: PathBuf,
    pub port: u16,
    pub log_file: PathBuf,
    child: Arc<Mutex<Option<Child>>>,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCluster")
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .finish()
    }
}

struct RunAs {
    uid: u32,
    gid: u32,
}

impl LocalCluster {
    /// Initialises the data directory if needed and starts the server, or reuses one already running
    /// on that data directory. Returns once the server accepts connections.
    pub fn start(options: &ClusterOptions) -> Result<Self, ClusterError> {
        let bin = find_bin_dir().ok_or(ClusterError::BinariesNotFound)?;
        let run_as = run_as()?;
        let data_dir = options.data_dir.clone();
        let log_file = data_dir.with_extension("log");
        if let Some(parent) = data_dir.parent() {
            fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
        }

        if let Some(port) = running_port(&data_dir) {
            tracing::info!(data_dir = %data_dir.display(), port, "reusing the running PostgreSQL cluster");
            let cluster = Self {
                data_dir,
                port,
                log_file,
                child: Arc::new(Mutex::new(None)),
            };
            cluster.wait_ready(Duration::from_secs(30))?;
            return Ok(cluster);
        }

        if !data_dir.join("PG_VERSION").exists() {
            fs::create_dir_all(&data_dir)
                .map_err(io_err(format!("creating {}", data_dir.display())))?;
            fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o700))
                .map_err(io_err("setting the data directory's mode"))?;
            if let Some(who) = &run_as {
                chown(&data_dir, who)?;
            }
            let mut initdb = Command::new(bin.join("initdb"));
            initdb
                .arg("-D")
                .arg(&data_dir)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if options.ephemeral {
                initdb.arg("--no-sync");
            }
            if let Some(who) = &run_as {
                initdb.uid(who.uid).gid(who.gid);
            }
            let out = initdb.output().map_err(io_err("running initdb"))?;
            if !out.status.success() {
                return Err(ClusterError::Io {
                    action: "initdb".into(),
                    detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
        }

        let log = fs::File::create(&log_file)
            .map_err(io_err(format!("creating {}", log_file.display())))?;
        let log_err = log.try_clone().map_err(io_err("opening the log"))?;
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data_dir)
            .arg("-p")
            .arg(options.port.to_string())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
            ])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", data_dir.display()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if options.ephemeral {
            postgres.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        if let Some(who) = &run_as {
            postgres.uid(who.uid).gid(who.gid);
        }
        // SAFETY: prctl is async-signal-safe; it only sets a flag on the child about to exec.
        unsafe {
            postgres.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                Ok(())
            });
        }
        // The death signal fires when the *thread* that spawned the child exits, so spawn it from a
        // thread that lives exactly as long as the server (it waits for it).
        let child_slot: Arc<Mutex<Option<Child>>> = Arc::new(Mutex::new(None));
        let (spawned_tx, spawned_rx) = std::sync::mpsc::channel();
        let slot = child_slot.clone();
        std::thread::Builder::new()
            .name("postgres-supervisor".into())
            .spawn(move || match postgres.spawn() {
                Ok(child) => {
                    let pid = child.id();
                    *slot.lock().expect("child slot") = Some(child);
                    let _ = spawned_tx.send(Ok(()));
                    // Park until the server exits (stop() takes and waits for the child itself).
                    loop {
                        std::thread::sleep(Duration::from_millis(200));
                        let mut guard = slot.lock().expect("child slot");
                        match guard.as_mut().map(|c| c.try_wait()) {
                            Some(Ok(None)) => continue,
                            _ => {
                                tracing::debug!(pid, "postgres exited");
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    let _ = spawned_tx.send(Err(e));
                }
            })
            .map_err(io_err("starting the supervisor thread"))?;
        spawned_rx
            .recv()
            .map_err(|_| ClusterError::Io {
                action: "starting postgres".into(),
                detail: "supervisor thread ended".into(),
            })?
            .map_err(io_err("starting postgres"))?;

        let cluster = Self {
            data_dir,
            port: options.port,
            log_file,
            child: child_slot,
        };
        cluster.wait_ready(Duration::from_secs(60))?;
        Ok(cluster)
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Whether this handle started the server (and so should stop it).
    pub fn started_here(&self) -> bool {
        self.child.lock().expect("child slot").is_some()
    }

    /// Stops the server if we started it (fast shutdown: clients are disconnected, data is safe).
    pub fn stop(&self) {
        let mut guard = self.child.lock().expect("child slot");
        if let Some(mut child) = guard.take() {
            // SAFETY: sending a signal to our own child process.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            }
            let _ = child.wait();
        }
    }

    fn wait_ready(&self, timeout: Duration) -> Result<(), ClusterError> {
        let started = Instant::now();
        let bin = find_bin_dir().ok_or(ClusterError::BinariesNotFound)?;
        let isready = bin.join("pg_isready");
        while started.elapsed() < timeout {
            let ready = if isready.exists() {
                Command::new(&isready)
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &self.port.to_string(),
                        "-U",
                        "postgres",
                        "-q",
                    ])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            } else {
                std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            };
            if ready {
                return Ok(());
            }
            if let Some(child) = self.child.lock().expect("child slot").as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(ClusterError::Io {
                        action: "starting postgres".into(),
                        detail: format!("it exited with {status}; see {}", self.log_file.display()),
                    });
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(ClusterError::NotReady(timeout, self.log_file.clone()))
    }
}

/// Where a private cluster's data can live for `dir`: `dir` itself unless we are root and the
/// `postgres` user cannot reach it (e.g. a checkout under /root), then a directory under /var/tmp.
pub fn usable_data_dir(dir: &Path) -> Result<PathBuf, ClusterError> {
    let Some(who) = run_as()? else {
        return Ok(dir.to_path_buf());
    };
    let absolute = std::path::absolute(dir).map_err(io_err("resolving the data directory"))?;
    let reachable = absolute.ancestors().skip(1).all(|a| match fs::metadata(a) {
        Ok(m) => m.mode() & 0o001 != 0 || m.uid() == who.uid,
        Err(_) => true, // not created yet: we create it
    });
    if reachable {
        return Ok(absolute);
    }
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in absolute.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    let name = absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(PathBuf::from(format!("/var/tmp/dream-photo-{hash:016x}")).join(name))
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("postgres").exists())
    })
}

fn run_as() -> Result<Option<RunAs>, ClusterError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new("postgres").expect("no NUL");
    // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy the ids out at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(ClusterError::NoPostgresUser);
    }
    // SAFETY: pw is non-null and points to a valid passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some(RunAs { uid, gid }))
}

fn chown(path: &Path, who: &RunAs) -> Result<(), ClusterError> {
    std::os::unix::fs::chown(path, Some(who.uid), Some(who.gid))
        .map_err(io_err(format!("chown {}", path.display())))
}

/// The port of a server already running on `data_dir`, from its `postmaster.pid` if that process lives.
fn running_port(data_dir: &Path) -> Option<u16> {
    let pid_file = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let mut lines = pid_file.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    process_is_alive(pid).then_some(port)
}

/// Whether a process with this id exists.
pub fn process_is_alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// A free TCP port on 127.0.0.1 (for a test cluster).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
