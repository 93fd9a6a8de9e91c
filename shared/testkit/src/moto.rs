//! moto's server (from PyPI; `.ci/setup` installs it) on a free local port: SQS and Secrets Manager
//! as the AWS SDK and our signed calls speak to them. Stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::free_port;

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port().expect("a free port");
        let port_arg = port.to_string();
        let spawn = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let child = spawn("moto_server", &["-p", &port_arg])
            .or_else(|_| spawn("python3", &["-m", "moto.server", "-p", &port_arg]))
            .expect("moto's server is needed: pip install 'moto[server]' (.ci/setup does)");
        let moto = Self { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_*`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
