//! Standard Webhooks verification (what Replicate signs its webhooks with).
//!
//! The signed content is `"{webhook-id}.{webhook-timestamp}.{raw body}"`, HMAC-SHA256 with the key
//! base64-decoded from the part of the `whsec_...` secret after the prefix. The `webhook-signature`
//! header holds one or more space-separated `v1,<base64>` entries; any match is valid. Timestamps
//! more than five minutes away from now, in either direction, are rejected (replay protection).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a webhook's timestamp may be from our clock.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("must look like whsec_<base64> (Replicate: GET /v1/webhooks/default/secret)")]
    Malformed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a unix time")]
    BadTimestamp,
    #[error("webhook-timestamp is more than 5 minutes from now")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
}

/// The decoded HMAC key of a `whsec_` secret.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        let encoded = secret
            .strip_prefix("whsec_")
            .ok_or(SecretError::Malformed)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed)?;
        if key.is_empty() {
            return Err(SecretError::Malformed);
        }
        Ok(Self { key })
    }

    /// The `v1,<base64>` signature of a message (what a sender puts in `webhook-signature`).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            STANDARD.encode(self.mac(id, &timestamp.to_string(), body))
        )
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// Verifies the three headers against the raw body, with `now` as unix seconds.
    pub fn verify(
        &self,
        id: Option<&str>,
        timestamp: Option<&str>,
        signatures: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let id = id
            .filter(|v| !v.is_empty())
            .ok_or(VerifyError::MissingHeader("webhook-id"))?;
        let timestamp = timestamp
            .filter(|v| !v.is_empty())
            .ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
        let signatures = signatures
            .filter(|v| !v.is_empty())
            .ok_or(VerifyError::MissingHeader("webhook-signature"))?;
        let ts: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
        if (now - ts).abs() > TOLERANCE_SECONDS {
            return Err(VerifyError::Stale);
        }
        let expected = self.mac(id, timestamp, body);
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|candidate| bool::from(candidate.ct_eq(&expected)));
        if matched {
            Ok(())
        } else {
            Err(VerifyError::NoMatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The published vectors (../shared/reference/test-vectors.json); their timestamps are old, so
    // "now" is the vector's own timestamp.
    const VECTORS: [(&str, &str, &str, &str, &str); 2] = [
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            "1649367553",
            r#"{"email":"test@example.com","username":"test_user"}"#,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ];

    #[test]
    fn published_vectors_verify() {
        for (secret, id, ts, body, sig) in VECTORS {
            let key = WebhookSecret::parse(secret).unwrap();
            let now = ts.parse().unwrap();
            assert_eq!(
                key.verify(Some(id), Some(ts), Some(sig), body.as_bytes(), now),
                Ok(())
            );
            assert_eq!(key.sign(id, now, body.as_bytes()), sig);
        }
    }

    #[test]
    fn a_changed_signature_fails() {
        let (secret, id, ts, body, _) = VECTORS[0];
        let key = WebhookSecret::parse(secret).unwrap();
        let bad = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
        assert_eq!(
            key.verify(
                Some(id),
                Some(ts),
                Some(bad),
                body.as_bytes(),
                ts.parse().unwrap()
            ),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let (secret, id, ts, body, sig) = VECTORS[0];
        let key = WebhookSecret::parse(secret).unwrap();
        let header = format!("v1,AAAA v1a,zzz {sig}");
        let now = ts.parse().unwrap();
        assert_eq!(
            key.verify(Some(id), Some(ts), Some(&header), body.as_bytes(), now),
            Ok(())
        );
    }

    #[test]
    fn stale_and_future_timestamps_fail() {
        let (secret, id, ts, body, sig) = VECTORS[0];
        let key = WebhookSecret::parse(secret).unwrap();
        let t: i64 = ts.parse().unwrap();
        for now in [t + TOLERANCE_SECONDS + 1, t - TOLERANCE_SECONDS - 1] {
            assert_eq!(
                key.verify(Some(id), Some(ts), Some(sig), body.as_bytes(), now),
                Err(VerifyError::Stale)
            );
        }
    }

    #[test]
    fn missing_headers_and_bad_secrets_are_named() {
        let key = WebhookSecret::parse(VECTORS[0].0).unwrap();
        assert_eq!(
            key.verify(None, Some("1"), Some("v1,x"), b"", 1),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
    }
}
