//! moto's server (from PyPI; `.ci/setup` installs it) on a free local port: SQS, S3 and Secrets Manager
//! as the AWS SDK and our signed calls speak to them. Stopped when dropped.
//!
//! Clients of it are given its endpoint, region and keys: tests share a process, so none sets the
//! process environment the SDK would otherwise read.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;
use shared::queue::TrainingQueue;

use crate::cluster::free_port;

pub const REGION: &str = "us-east-1";

/// The keys moto accepts (it checks no signature).
pub fn credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "moto")
}

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

    /// An SQS client of this server.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.url())
            .credentials_provider(credentials())
            .http_client(shared::aws::http_client())
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    /// Creates the training queue (with these attributes) and returns its URL.
    pub async fn create_training_queue(&self, attributes: &[(QueueAttributeName, &str)]) -> String {
        let mut request = self.sqs().create_queue().queue_name("dream-photo-training");
        for (name, value) in attributes {
            request = request.attributes(name.clone(), *value);
        }
        request
            .send()
            .await
            .expect("create the queue")
            .queue_url
            .expect("a queue URL")
    }

    /// Creates a secret the way the operator does (`aws secretsmanager create-secret`); moto does
    /// not check signatures, so an unsigned call will do. Returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/", self.url()))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "secretsmanager.CreateSecret")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(serde_json::json!({"Name": name, "SecretString": value}).to_string())
            .send()
            .await
            .expect("moto answers")
            .json()
            .await
            .expect("a JSON answer");
        answer["ARN"].as_str().expect("an ARN").to_owned()
    }

    /// Creates an S3 bucket (moto checks no signature: an unsigned `PUT /<bucket>` will do).
    pub async fn create_bucket(&self, name: &str) {
        let answer = reqwest::Client::new()
            .put(format!("{}/{name}", self.url()))
            .send()
            .await
            .expect("moto answers");
        assert!(
            answer.status().is_success(),
            "bucket {name}: {}",
            answer.status()
        );
    }

    /// What a test sets for our S3 storage to be this server's bucket `bucket`.
    pub fn storage_vars(&self, bucket: &str) -> Vec<(&'static str, String)> {
        vec![
            ("STORAGE_BUCKET", bucket.to_owned()),
            ("AWS_ENDPOINT_URL_S3", self.url()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ]
    }

    /// The SQS training queue at `queue_url`, sending through this server.
    pub fn training_queue(&self, queue_url: String) -> TrainingQueue {
        TrainingQueue::Sqs {
            client: Arc::new(tokio::sync::OnceCell::new_with(Some(self.sqs()))),
            queue_url,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
