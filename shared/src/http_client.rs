//! How every HTTP client of ours is built: rustls trusting the Mozilla roots compiled into the binary
//! (webpki-roots) and not the machine's store. `object_store` turns on reqwest's native roots for
//! the whole build, and with them each client built reads and parses every file of the system's
//! certificate directory: several milliseconds per client at every cold start, for roots the
//! services we call (Telegram, Replicate, AWS) never need.

/// A reqwest builder with our TLS roots; callers add their timeouts and policies.
pub fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_built_in_native_certs(false)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_client_without_the_machines_roots_still_builds() {
        super::builder().build().unwrap();
    }
}
