//! Requests the register makes itself (a CB's key set, a platform's webhook),
//! guarded against server-side request forgery: `https` only (plain `http`
//! only to a loopback address, and loopback only where the operator allows it,
//! as tests and local runs do), no credentials in the URL, and never to a
//! private, link-local (cloud metadata), shared, multicast or reserved address.
//! The address is checked where it is used: a name is resolved by
//! [`GuardedResolver`] at every connection, and the client connects to the
//! address that was checked (no second lookup to rebind); redirects are not
//! followed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254, …)
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard
                || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16: cloud metadata
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// The register's rule for the URLs it calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// Loopback targets (`http://127.0.0.1:…`, `localhost`) are allowed: for
    /// tests and local runs, never on a shared host.
    pub allow_loopback: bool,
}

impl Guard {
    /// Checks `uri` as far as it can be checked without resolving it.
    pub fn check(&self, uri: &str) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(uri).map_err(|e| format!("is not a URL: {e}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err("must name a host".into()),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err("must be an https URL (plain http only to a loopback address)".into()),
        }
        if loopback && !self.allow_loopback {
            return Err("must not lead to the register's own host".into());
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && !loopback
            && !is_public(ip)
        {
            return Err(
                "must lead to a public address (not a private, link-local or reserved one)".into(),
            );
        }
        Ok(url)
    }

    /// An HTTP client that resolves names through this guard, goes through
    /// no proxy, follows no redirect, and gives up after `timeout`.
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would be checked instead of the
            // target: the register goes direct.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { guard: *self }))
            .user_agent(concat!("pso-registry/", env!("CARGO_PKG_VERSION")))
            .build()
    }
}

/// Resolves a name and refuses it when any of its addresses is not public
/// (`localhost` may be loopback where the guard allows it).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    guard: Guard,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let guard = self.guard;
        Box::pin(async move {
            let local = guard.allow_loopback && host.eq_ignore_ascii_case("localhost");
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = |a: &SocketAddr| is_public(a.ip()) || (local && a.ip().is_loopback());
            if addrs.is_empty() || !addrs.iter().all(allowed) {
                return Err(
                    format!("{host} resolves to an address the register does not call").into(),
                );
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            let ip: IpAddr = private.parse().expect("address");
            assert!(!is_public(ip), "{private} is not public");
        }
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().expect("address");
            assert!(is_public(ip), "{public} is public");
        }
    }

    #[test]
    fn urls_are_https_to_public_hosts() {
        let strict = Guard {
            allow_loopback: false,
        };
        let local = Guard {
            allow_loopback: true,
        };
        assert!(strict.check("https://platform.example/hook").is_ok());
        assert!(strict.check("https://8.8.8.8/hook").is_ok());
        for refused in [
            "http://platform.example/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00:ec2::254]/",
            "https://user:pw@platform.example/hook",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(strict.check(refused).is_err(), "{refused}");
        }
        assert!(local.check("http://127.0.0.1:8080/hook").is_ok());
        assert!(local.check("http://[::1]:8080/hook").is_ok());
        assert!(local.check("http://localhost:8080/hook").is_ok());
        assert!(local.check("http://10.0.0.1/hook").is_err());
    }

    #[tokio::test]
    async fn names_are_checked_when_resolved() {
        use reqwest::dns::Resolve;
        let strict = GuardedResolver {
            guard: Guard {
                allow_loopback: false,
            },
        };
        let name: reqwest::dns::Name = "localhost".parse().expect("name");
        assert!(strict.resolve(name).await.is_err());
        let local = GuardedResolver {
            guard: Guard {
                allow_loopback: true,
            },
        };
        let name: reqwest::dns::Name = "localhost".parse().expect("name");
        assert!(local.resolve(name).await.is_ok());
    }
}
