//! Fair use: a token bucket per API client, and per address for anonymous
//! use, separately for cheap reads (a status, a company, a certificate, the
//! feed, the log) and costly ones (search, batch, export, the bulk check).
//! The defaults are far above what an officer or a platform's ordinary checks
//! ask; a scraper meets them. Every limited response says where its caller
//! stands (`RateLimit-Policy` and `RateLimit`, IETF httpapi-ratelimit-headers);
//! a refusal is `429` with `Retry-After`. A `304` gives its token back.
//!
//! Buckets live in each process: behind a load balancer each replica counts
//! its own share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use crate::clients::Caller;
use crate::problem::{Problem, ProblemType};
use crate::state::AppState;

/// The limits: requests per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub anonymous_cheap: u32,
    pub anonymous_costly: u32,
    pub client_cheap: u32,
    pub client_costly: u32,
    pub window: Duration,
}

/// What a request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Cheap,
    Costly,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Cheap => "read",
            Class::Costly => "search",
        }
    }

    /// The class of a request, or `None` when it is not limited: health and
    /// metrics, assets, the scheme owner's API, and certification bodies'
    /// signed writes (each verified against an accredited key).
    pub fn of(method: &Method, path: &str) -> Option<Class> {
        let costly_get = path == "/v1/companies"
            || path == "/v1/certificates"
            || path.starts_with("/v1/export/")
            || path == "/zoeken"
            || path == "/bulkcontrole"
            || path.starts_with("/bulkcontrole/");
        let unlimited = path.starts_with("/healthz")
            || path.starts_with("/readyz")
            || path == "/metrics"
            || path.starts_with("/assets/")
            || path == "/favicon.ico"
            || path.starts_with("/v1/admin/");
        if unlimited {
            return None;
        }
        if method == Method::POST {
            return match path {
                "/v1/status/batch" | "/bulkcontrole" => Some(Class::Costly),
                p if p.starts_with("/v1/certificates") => None,
                _ => Some(Class::Cheap),
            };
        }
        Some(if costly_get {
            Class::Costly
        } else {
            Class::Cheap
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Where a caller stands after a request.
#[derive(Debug, Clone, Copy)]
struct Standing {
    quota: u32,
    remaining: u32,
    /// Seconds until the bucket is full again.
    reset: u64,
    /// Seconds until one token is back (for `Retry-After`), when refused.
    refused: Option<u64>,
}

const SHARDS: usize = 16;
/// Most buckets one shard keeps; full ones are dropped first.
const MAX_BUCKETS_PER_SHARD: usize = 20_000;

/// The buckets.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    shards: [Mutex<HashMap<(Caller, Class), Bucket>>; SHARDS],
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    fn quota(&self, caller: &Caller, class: Class) -> u32 {
        match (caller, class) {
            (Caller::Client(_), Class::Cheap) => self.limits.client_cheap,
            (Caller::Client(_), Class::Costly) => self.limits.client_costly,
            (Caller::Anonymous(_), Class::Cheap) => self.limits.anonymous_cheap,
            (Caller::Anonymous(_), Class::Costly) => self.limits.anonymous_costly,
        }
    }

    fn shard(&self, key: &(Caller, Class)) -> &Mutex<HashMap<(Caller, Class), Bucket>> {
        use std::hash::{Hash, Hasher};
        let mut fixed = std::hash::DefaultHasher::new();
        key.hash(&mut fixed);
        &self.shards[(fixed.finish() as usize) % SHARDS]
    }

    /// Takes a token when there is one; returns the standing.
    fn take(&self, caller: &Caller, class: Class, now: Instant) -> Standing {
        let quota = self.quota(caller, class);
        let window = self.limits.window.as_secs_f64();
        let rate = f64::from(quota) / window;
        let key = (caller.clone(), class);
        let mut shard = self
            .shard(&key)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if shard.len() >= MAX_BUCKETS_PER_SHARD && !shard.contains_key(&key) {
            // Buckets that have filled up again hold nothing worth keeping.
            shard.retain(|(c, k), b| {
                let full = f64::from(self.quota(c, *k));
                b.tokens + now.duration_since(b.at).as_secs_f64() * full / window < full
            });
            if shard.len() >= MAX_BUCKETS_PER_SHARD {
                shard.clear();
            }
        }
        let bucket = shard.entry(key).or_insert(Bucket {
            tokens: f64::from(quota),
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(f64::from(quota));
        bucket.at = now;
        let refused = if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            None
        } else {
            Some(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        };
        Standing {
            quota,
            remaining: bucket.tokens.floor() as u32,
            reset: ((f64::from(quota) - bucket.tokens) / rate).ceil() as u64,
            refused,
        }
    }

    /// Gives back the token a request took (its answer was `304`).
    fn give_back(&self, caller: &Caller, class: Class) {
        let quota = f64::from(self.quota(caller, class));
        let key = (caller.clone(), class);
        let mut shard = self
            .shard(&key)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(b) = shard.get_mut(&key) {
            b.tokens = (b.tokens + 1.0).min(quota);
        }
    }
}

/// The address a request counts against: the peer's, or, when the peer is
/// one of the operator's `trusted` proxies, the last address before them in
/// `X-Forwarded-For` (the ones a client wrote itself further left are not
/// believed); an IPv6 address by its /64.
fn address_of(req: &ServiceRequest, trusted: &[IpAddr]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    let forwarded = || {
        req.headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    let ip = if trusted.contains(&peer) {
        forwarded()
            .into_iter()
            .rev()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer)
    } else {
        peer
    };
    bucket_address(ip)
}

/// An address as a bucket knows it: IPv4 as is, IPv6 by its /64.
fn bucket_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
        v4 => v4,
    }
}

fn headers(standing: &Standing, class: Class, window: Duration) -> [(HeaderName, HeaderValue); 2] {
    let name = class.name();
    let policy = format!("\"{name}\";q={};w={}", standing.quota, window.as_secs());
    let now = format!("\"{name}\";r={};t={}", standing.remaining, standing.reset);
    [
        (
            HeaderName::from_static("ratelimit-policy"),
            HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("")),
        ),
        (
            HeaderName::from_static("ratelimit"),
            HeaderValue::from_str(&now).unwrap_or(HeaderValue::from_static("")),
        ),
    ]
}

/// Finds the caller (checking a client's key), then counts the request
/// against its bucket.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let caller = match crate::clients::presented(req.request()) {
        Some(key) => match state.clients.authenticate(&state.registry, key).await {
            Ok(id) => Caller::Client(id),
            Err(problem) => {
                let (req, _) = req.into_parts();
                return Ok(ServiceResponse::new(req, problem.error_response()));
            }
        },
        None => Caller::Anonymous(address_of(&req, &state.config.trusted_proxies)),
    };
    req.extensions_mut().insert(caller.clone());
    let Some(class) = Class::of(req.method(), req.path()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let limiter = &state.limiter;
    let standing = limiter.take(&caller, class, Instant::now());
    let window = limiter.limits.window;
    if let Some(wait) = standing.refused {
        let mut response = Problem::new(
            ProblemType::TooManyRequests,
            format!(
                "more {} requests than the limit of {} per {} s; try again in {wait} s{}",
                class.name(),
                standing.quota,
                window.as_secs(),
                match caller {
                    Caller::Anonymous(_) => " (an API client's key has a higher limit)",
                    Caller::Client(_) => "",
                }
            ),
        )
        .error_response();
        for (name, value) in headers(&standing, class, window) {
            response.headers_mut().insert(name, value);
        }
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, v);
        }
        let (req, _) = req.into_parts();
        return Ok(ServiceResponse::new(req, response));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    let standing = if response.status() == StatusCode::NOT_MODIFIED {
        limiter.give_back(&caller, class);
        Standing {
            remaining: (standing.remaining + 1).min(standing.quota),
            ..standing
        }
    } else {
        standing
    };
    for (name, value) in headers(&standing, class, window) {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(quota: u32) -> RateLimiter {
        RateLimiter::new(Limits {
            anonymous_cheap: quota,
            anonymous_costly: quota,
            client_cheap: quota * 10,
            client_costly: quota * 10,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn a_bucket_empties_and_refills() {
        let l = limiter(3);
        let who = Caller::Anonymous(IpAddr::from([192, 0, 2, 1]));
        let t0 = Instant::now();
        for left in [2, 1, 0] {
            let s = l.take(&who, Class::Cheap, t0);
            assert!(s.refused.is_none());
            assert_eq!(s.remaining, left);
        }
        let s = l.take(&who, Class::Cheap, t0);
        assert_eq!(s.refused, Some(20), "one token comes back every 20 s");
        // The other class and another caller have their own buckets.
        assert!(l.take(&who, Class::Costly, t0).refused.is_none());
        let other = Caller::Anonymous(IpAddr::from([192, 0, 2, 2]));
        assert!(l.take(&other, Class::Cheap, t0).refused.is_none());
        let s = l.take(&who, Class::Cheap, t0 + Duration::from_secs(20));
        assert!(s.refused.is_none());
        // A client has its own, larger, quota.
        let client = Caller::Client("cl_x".into());
        assert_eq!(l.take(&client, Class::Cheap, t0).quota, 30);
    }

    #[test]
    fn behind_a_trusted_proxy_the_forwarded_address_counts() {
        use actix_web::test::TestRequest;
        let proxy: IpAddr = "10.0.0.5".parse().expect("ip");
        let req = |peer: &str, forwarded: &str| {
            TestRequest::default()
                .peer_addr(format!("{peer}:4000").parse().expect("socket"))
                .insert_header(("x-forwarded-for", forwarded.to_owned()))
                .to_srv_request()
        };
        let trusted = [proxy];
        // The client's own entry (left) is not believed; the proxy's is.
        let r = req("10.0.0.5", "6.6.6.6, 192.0.2.7");
        assert_eq!(
            address_of(&r, &trusted),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
        // Not through the proxy: the header is the client's word only.
        let r = req("192.0.2.9", "192.0.2.7");
        assert_eq!(
            address_of(&r, &trusted),
            "192.0.2.9".parse::<IpAddr>().expect("ip")
        );
        let r = req("10.0.0.5", "192.0.2.7");
        assert_eq!(address_of(&r, &[]), proxy);
        assert_eq!(
            bucket_address("2001:db8:1:2:3:4:5:6".parse().expect("ip")),
            "2001:db8:1:2::".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn reads_are_classed_by_cost() {
        assert_eq!(
            Class::of(&Method::GET, "/v1/companies/12345678/status"),
            Some(Class::Cheap)
        );
        assert_eq!(
            Class::of(&Method::GET, "/v1/companies"),
            Some(Class::Costly)
        );
        assert_eq!(
            Class::of(&Method::POST, "/v1/status/batch"),
            Some(Class::Costly)
        );
        assert_eq!(Class::of(&Method::POST, "/v1/certificates"), None);
        assert_eq!(Class::of(&Method::GET, "/healthz"), None);
        assert_eq!(Class::of(&Method::POST, "/v1/admin/clients"), None);
    }
}
