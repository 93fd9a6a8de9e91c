//! Downloading training photos, and above all photos from URLs people gave us (`photo_urls`).
//!
//! A user's URL is fetched only through [`PhotoFetcher`]: its own HTTP client, which never carries
//! our tokens, uses no proxy, follows no redirect (a 3xx is "could not be downloaded"), speaks only
//! https, and connects only to public addresses. The addresses are checked where the connection is
//! made, in the client's resolver ([`GuardedResolver`]), so a name that resolves (or re-resolves) to
//! a loopback or private address gets nowhere; a URL whose host is a literal IP (which skips the
//! resolver) is checked before any connection. `PHOTO_FETCH_ALLOW_PRIVATE` lifts the https and
//! address rules for local fakes on one machine; redirects stay off.
//!
//! Every download, whatever its source (a user's URL, a Telegram file, our own Replicate file), is
//! read by [`read_photo`]: `Content-Length` checked first, then chunks read up to the cap plus one
//! byte, all before a deadline, and the bytes must begin like an image
//! ([`crate::domain::rules::sniff_image`]).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::time::Instant;
use url::{Host, Url};

use crate::config::PhotoFetchConfig;
use crate::domain::rules::{self, ImageKind};

/// What a person is told when one of their photos could not be fetched (never a status or an
/// address: those go to the logs).
pub const COULD_NOT_DOWNLOAD: &str = "a photo could not be downloaded";

/// A downloaded photo, known to be an image by its bytes.
#[derive(Debug, Clone)]
pub struct Photo {
    pub bytes: Vec<u8>,
    pub kind: ImageKind,
}

/// Why a photo could not be fetched. Only transient ones ([`crate::errors`]) are worth another try.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL itself is refused (scheme, a literal private address): nothing was sent.
    #[error("the URL is refused: {0}")]
    Refused(&'static str),
    /// No connection could be made: every address was refused, the name does not resolve, or the
    /// host refused us.
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("the source answered HTTP {0}")]
    Status(u16),
    #[error("the photo is larger than the limit")]
    TooLarge,
    #[error("the file is not an image")]
    NotAnImage,
    #[error("the download did not finish in time")]
    Timeout,
    /// The connection broke while reading (or another transport failure).
    #[error("the download broke off: {0}")]
    Broken(String),
}

impl FetchError {
    /// What the person who gave us the photo is told (a fixed text).
    pub fn user_text(&self) -> &'static str {
        match self {
            FetchError::TooLarge => "a training photo is larger than 20 MB",
            FetchError::NotAnImage => "a training photo is not a JPEG, PNG, WebP or HEIC image",
            _ => COULD_NOT_DOWNLOAD,
        }
    }

    /// From a reqwest error, without its URL (it may hold a bot token).
    fn from_reqwest(e: reqwest::Error) -> Self {
        let e = e.without_url();
        if e.is_timeout() {
            FetchError::Timeout
        } else if e.is_connect() {
            FetchError::Unreachable(crate::telemetry::error_chain(&e))
        } else {
            FetchError::Broken(crate::telemetry::error_chain(&e))
        }
    }
}

/// Whether a connection to `ip` is refused for a user's URL: anything that is not an ordinary
/// public unicast address (loopback, private, link-local, CGNAT, benchmarking, multicast,
/// broadcast, reserved, documentation), and the IPv6 forms that embed or route to IPv4 (mapped,
/// compatible, NAT64, Teredo; 6to4 by its embedded address), unique-local and site-local.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    const RANGES: [([u8; 4], u32); 16] = [
        ([0, 0, 0, 0], 8),       // "this network", unspecified
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // CGNAT
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local (cloud metadata)
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation
        ([192, 31, 196, 0], 24), // AS112
        ([192, 52, 193, 0], 24), // AMT
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation
        ([203, 0, 113, 0], 24),  // documentation
        ([224, 0, 0, 0], 3),     // multicast 224/4, reserved 240/4, broadcast
    ];
    RANGES.iter().any(|(net, prefix)| in_v4(ip, *net, *prefix))
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let net = |s: &str| s.parse::<Ipv6Addr>().expect("a valid network");
    // 6to4 (2002::/16): as good as the IPv4 address it carries.
    if in_v6(ip, net("2002::"), 16) {
        let s = ip.segments();
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return is_forbidden_v4(v4);
    }
    let ranges: [(&str, u32); 15] = [
        ("::", 96),           // unspecified, loopback, IPv4-compatible
        ("::ffff:0:0", 96),   // IPv4-mapped
        ("::ffff:0:0:0", 96), // IPv4-translated
        ("64:ff9b::", 96),    // NAT64
        ("64:ff9b:1::", 48),  // local-use NAT64
        ("100::", 64),        // discard-only
        ("2001::", 32),       // Teredo
        ("2001:2::", 48),     // benchmarking
        ("2001:10::", 28),    // ORCHID
        ("2001:20::", 28),    // ORCHIDv2
        ("2001:db8::", 32),   // documentation
        ("3fff::", 20),       // documentation
        ("fc00::", 7),        // unique-local
        ("fe80::", 10),       // link-local, and fec0::/10 site-local next to it
        ("ff00::", 8),        // multicast
    ];
    ranges.iter().any(|(n, prefix)| in_v6(ip, net(n), *prefix)) || in_v6(ip, net("fec0::"), 10)
}

/// The address check of a URL's host when it is a literal IP (a name is checked by the resolver).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        Host::Domain(_) => None,
    }
}

/// Refused by the resolver: the name has no address we may connect to.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves only to refused addresses")]
struct Blocked {
    name: String,
}

/// Resolves with tokio and keeps only the addresses [`is_forbidden`] allows: the check happens for
/// the very addresses the connection is made to.
#[derive(Debug, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if allowed.is_empty() {
                tracing::warn!(
                    host = %host,
                    addresses = ?resolved.iter().map(|a| a.ip()).collect::<Vec<_>>(),
                    "a photo URL's host resolves only to refused addresses"
                );
                return Err(Box::new(Blocked { name: host }) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Fetches photos from URLs people gave us (see the module's documentation).
#[derive(Clone)]
pub struct PhotoFetcher {
    client: reqwest::Client,
    allow_private: bool,
    /// How long one photo may take.
    pub photo_timeout: Duration,
    /// How long all of a job's photos may take.
    pub job_timeout: Duration,
}

impl std::fmt::Debug for PhotoFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoFetcher")
            .field("allow_private", &self.allow_private)
            .finish()
    }
}

impl PhotoFetcher {
    pub fn new(config: &PhotoFetchConfig) -> Result<Self, reqwest::Error> {
        let mut builder = crate::http_client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("dream-photo/", env!("CARGO_PKG_VERSION")));
        if config.allow_private {
            tracing::warn!("PHOTO_FETCH_ALLOW_PRIVATE: photo URLs may be http and private addresses (local use only)");
        } else {
            builder = builder
                .https_only(true)
                .dns_resolver(Arc::new(GuardedResolver));
        }
        Ok(Self {
            client: builder.build()?,
            allow_private: config.allow_private,
            photo_timeout: Duration::from_secs(config.photo_timeout_secs),
            job_timeout: Duration::from_secs(config.job_timeout_secs),
        })
    }

    /// The checks made before any connection: https, and no literal refused address.
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if self.allow_private {
            return match url.scheme() {
                "http" | "https" => Ok(()),
                _ => Err(FetchError::Refused("only http(s) URLs")),
            };
        }
        if url.scheme() != "https" {
            return Err(FetchError::Refused("only https URLs"));
        }
        if literal_ip(url).is_some_and(is_forbidden) {
            return Err(FetchError::Refused("not a public address"));
        }
        Ok(())
    }

    /// Downloads one photo from a user's URL, before `deadline` and before this photo's own
    /// deadline, whichever comes first.
    pub async fn fetch(&self, url: &Url, deadline: Instant) -> Result<Photo, FetchError> {
        self.check_url(url)?;
        let deadline = deadline.min(Instant::now() + self.photo_timeout);
        let request = self.client.get(url.clone()).send();
        let response = within(deadline, request)
            .await?
            .map_err(FetchError::from_reqwest)?;
        read_photo(response, deadline).await
    }
}

async fn within<F: Future>(deadline: Instant, f: F) -> Result<F::Output, FetchError> {
    tokio::time::timeout_at(deadline, f)
        .await
        .map_err(|_| FetchError::Timeout)
}

/// Reads a response as a photo before `deadline`: a success status (a 3xx too is a failure),
/// at most [`rules::MAX_PHOTO_BYTES`], and bytes that begin like an image.
pub async fn read_photo(
    response: reqwest::Response,
    deadline: Instant,
) -> Result<Photo, FetchError> {
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    let limit = rules::MAX_PHOTO_BYTES as u64;
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(FetchError::TooLarge);
    }
    let bytes = read_capped(response.bytes_stream(), limit, deadline).await?;
    let kind = rules::sniff_image(&bytes).ok_or(FetchError::NotAnImage)?;
    Ok(Photo { bytes, kind })
}

/// Reads a body chunk by chunk, and stops as soon as it has more than `limit` bytes (it never asks
/// for the chunk after that) or `deadline` passes.
pub async fn read_capped<S>(stream: S, limit: u64, deadline: Instant) -> Result<Vec<u8>, FetchError>
where
    S: Stream<Item = Result<Bytes, reqwest::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut body = Vec::new();
    while let Some(chunk) = within(deadline, stream.next()).await? {
        let chunk = chunk.map_err(FetchError::from_reqwest)?;
        let room = (limit + 1).saturating_sub(body.len() as u64) as usize;
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 > limit {
            return Err(FetchError::TooLarge);
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }
    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    #[test]
    fn every_non_public_ipv4_range_is_refused() {
        for refused in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(is_forbidden(v4(refused)), "{refused} must be refused");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "198.17.255.255",
            "198.20.0.1",
            "151.101.1.1",
            "223.255.255.254",
        ] {
            assert!(!is_forbidden(v4(public)), "{public} is public");
        }
    }

    #[test]
    fn every_non_public_ipv6_form_is_refused() {
        for refused in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8", // mapped: refused whatever it maps to
            "::127.0.0.1",    // IPv4-compatible
            "::8.8.8.8",
            "::ffff:0:7f00:1", // IPv4-translated
            "64:ff9b::7f00:1", // NAT64 of 127.0.0.1
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",             // Teredo
            "2001:0:4136:e378::1", // Teredo
            "2001:db8::1",
            "2001:2::1",
            "2001:10::1",
            "3fff::1",
            "2002:7f00:1::",     // 6to4 of 127.0.0.1
            "2002:a00:1::1",     // 6to4 of 10.0.0.1
            "2002:a9fe:a9fe::1", // 6to4 of 169.254.169.254
            "fc00::1",
            "fd00::1",
            "fdff:ffff::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "ff05::2",
        ] {
            assert!(is_forbidden(v6(refused)), "{refused} must be refused");
        }
        for public in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "2002:808:808::1", // 6to4 of 8.8.8.8
            "2001:4860::8888",
        ] {
            assert!(!is_forbidden(v6(public)), "{public} is public");
        }
    }

    fn fetcher(allow_private: bool) -> PhotoFetcher {
        PhotoFetcher::new(&PhotoFetchConfig {
            allow_private,
            photo_timeout_secs: 30,
            job_timeout_secs: 150,
        })
        .unwrap()
    }

    #[test]
    fn urls_are_checked_before_connecting() {
        let guarded = fetcher(false);
        let check = |u: &str| guarded.check_url(&u.parse().unwrap());
        assert!(check("https://cdn.example.com/a.jpg").is_ok());
        assert!(check("https://8.8.8.8/a.jpg").is_ok());
        for refused in [
            "http://cdn.example.com/a.jpg",
            "ftp://cdn.example.com/a.jpg",
            "https://127.0.0.1/a.jpg",
            "https://10.1.2.3/a.jpg",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/a",
            "https://[::ffff:127.0.0.1]/a",
            "https://[64:ff9b::7f00:1]/a",
            "https://[2002:7f00:1::]/a",
            "https://[fd00::1]/a",
            "https://[fec0::1]/a",
            "https://0x7f.1/a",
            "https://2130706433/a",
        ] {
            assert!(check(refused).is_err(), "{refused} must be refused");
        }
        let local = fetcher(true);
        assert!(local
            .check_url(&"http://127.0.0.1:8000/a.jpg".parse().unwrap())
            .is_ok());
        assert!(local
            .check_url(&"file:///etc/passwd".parse().unwrap())
            .is_err());
    }

    #[tokio::test]
    async fn a_body_is_cut_at_the_limit_plus_one_byte_and_no_further_chunk_is_read() {
        let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = pulled.clone();
        // An endless body of 1,000-byte chunks.
        let endless = futures::stream::repeat_with(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, reqwest::Error>(Bytes::from(vec![0u8; 1000]))
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let read = read_capped(endless, 10_500, deadline).await;
        assert!(matches!(read, Err(FetchError::TooLarge)));
        assert_eq!(
            pulled.load(std::sync::atomic::Ordering::SeqCst),
            11,
            "stopped at the chunk that passed the limit"
        );

        let exact = futures::stream::iter((0..10).map(|_| Ok(Bytes::from(vec![7u8; 1000]))));
        assert_eq!(
            read_capped(exact, 10_000, deadline).await.unwrap().len(),
            10_000
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_is_cut_at_its_deadline() {
        let trickle = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok::<_, reqwest::Error>(Bytes::from_static(b"x")), ()))
        });
        let started = Instant::now();
        let read = read_capped(trickle, 1000, started + Duration::from_secs(30)).await;
        assert!(matches!(read, Err(FetchError::Timeout)));
        assert_eq!(started.elapsed().as_secs(), 30);
    }
}
