//! Who is on the other end of a request: the client's IP address and the scheme it used, read from
//! the TCP peer or — only when that peer is a trusted proxy (`FORWARDED_ALLOW_IPS`) — from
//! `X-Forwarded-For` / `X-Real-IP` and `X-Forwarded-Proto`.
//!
//! * `FORWARDED_ALLOW_IPS` (uvicorn's name and default, `127.0.0.1`): comma-separated IP addresses
//!   and CIDR ranges; `*` trusts every peer.
//! * Client IP: `X-Forwarded-For` is read from the right. Each proxy appends the address it received
//!   the request from, so starting from the trusted peer, every hop that is itself trusted passes
//!   the question on to the entry left of it; the first untrusted address is the client. When every
//!   hop is trusted, the leftmost entry is the client (as uvicorn does). Entries the client wrote
//!   itself sit left of that point and are ignored, so they cannot spoof the address. An entry that
//!   is not an IP address stops the walk at the last address read. Without `X-Forwarded-For`,
//!   `X-Real-IP` (one address) is used.
//! * Scheme: the last value of `X-Forwarded-Proto` (the one the nearest proxy wrote): `https`/`wss`
//!   or `http`/`ws`; anything else leaves the connection's own scheme (`http`; duet does not
//!   terminate TLS).
//!
//! The `Forwarded` header (RFC 7239) and path prefixes (`X-Forwarded-Prefix`) are not read.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::config::ConfigError;

/// The scheme the client used to reach the first proxy (or duet itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The resolved client of a request, set as a request extension by `middleware`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientInfo {
    ip: Option<IpAddr>,
    scheme: Scheme,
}

impl ClientInfo {
    pub fn new(ip: Option<IpAddr>, scheme: Scheme) -> Self {
        ClientInfo { ip, scheme }
    }

    /// The client's address (`None` only when the request did not come over a TCP connection,
    /// e.g. a router driven in-process).
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.ip
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::Https
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    /// The value the middleware stored; without it, the TCP peer as is.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientInfo>().copied().unwrap_or_else(|| {
            let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_canonical());
            ClientInfo::new(peer, Scheme::Http)
        }))
    }
}

/// One entry of `FORWARDED_ALLOW_IPS`: an address with a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(entry: &str) -> Option<Network> {
        let (addr, prefix) = match entry.split_once('/') {
            Some((a, p)) => (a.trim(), Some(p.trim())),
            None => (entry, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
        };
        Some(Network { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The peers whose forwarding headers are believed (`FORWARDED_ALLOW_IPS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedProxies {
    /// `*`: every peer.
    All,
    /// These addresses and ranges (possibly none).
    List(Vec<Network>),
}

impl TrustedProxies {
    pub const VAR: &'static str = "FORWARDED_ALLOW_IPS";
    pub const DEFAULT: &'static str = "127.0.0.1";

    /// Parses `FORWARDED_ALLOW_IPS` (`None` = unset ⇒ `127.0.0.1`). An entry that is neither an IP
    /// address nor a CIDR range stops start-up.
    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        let value = value.unwrap_or(Self::DEFAULT);
        let entries: Vec<&str> = value.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        if entries.contains(&"*") {
            if entries.len() > 1 {
                return Err(ConfigError::new(Self::VAR, "'*' must be used alone, not in a list"));
            }
            return Ok(TrustedProxies::All);
        }
        let mut networks = Vec::with_capacity(entries.len());
        for entry in &entries {
            let net = Network::parse(entry).ok_or_else(|| {
                ConfigError::new(
                    Self::VAR,
                    format!("{entry:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8, or * for all)"),
                )
            })?;
            networks.push(net);
        }
        Ok(TrustedProxies::List(networks))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            TrustedProxies::All => true,
            TrustedProxies::List(nets) => nets.iter().any(|n| n.contains(ip)),
        }
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> ClientInfo {
        let Some(peer) = peer.map(|p| p.to_canonical()) else { return ClientInfo::default() };
        if !self.contains(peer) {
            return ClientInfo::new(Some(peer), Scheme::Http);
        }
        let scheme = forwarded_proto(headers).unwrap_or(Scheme::Http);
        let forwarded_for: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let ip = if forwarded_for.is_empty() {
            headers
                .get("x-real-ip")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_hop(v.trim()))
                .unwrap_or(peer)
        } else {
            let mut client = peer;
            for hop in forwarded_for.iter().rev() {
                if !self.contains(client) {
                    break;
                }
                match parse_hop(hop) {
                    Some(ip) => client = ip,
                    None => break,
                }
            }
            client
        };
        ClientInfo::new(Some(ip), scheme)
    }
}

/// An address as a proxy writes it: `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]` or `[::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = hop.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

fn forwarded_proto(headers: &HeaderMap) -> Option<Scheme> {
    let last = headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())?;
    match last.to_ascii_lowercase().as_str() {
        "https" | "wss" => Some(Scheme::Https),
        "http" | "ws" => Some(Scheme::Http),
        _ => None,
    }
}

/// Resolves the request's `ClientInfo` and stores it as a request extension.
/// Resolves the client of `req` and stores it in the request's extensions.
pub fn attach(trusted: &TrustedProxies, req: &mut Request) -> ClientInfo {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let info = trusted.resolve(peer, req.headers());
    req.extensions_mut().insert(info);
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    fn trusted(s: &str) -> TrustedProxies {
        TrustedProxies::parse(Some(s)).expect("parse")
    }

    #[test]
    fn default_trusts_loopback_only() {
        let t = TrustedProxies::parse(None).expect("default");
        assert!(t.contains(ip("127.0.0.1")));
        assert!(t.contains(ip("::ffff:127.0.0.1")));
        assert!(!t.contains(ip("127.0.0.2")));
        assert!(!t.contains(ip("::1")));
    }

    #[test]
    fn cidr_ranges_and_star() {
        let t = trusted("10.0.0.0/8, 192.168.1.5 ,fd00::/8");
        assert!(t.contains(ip("10.200.3.4")));
        assert!(!t.contains(ip("11.0.0.1")));
        assert!(t.contains(ip("192.168.1.5")));
        assert!(!t.contains(ip("192.168.1.6")));
        assert!(t.contains(ip("fd12::1")));
        assert!(!t.contains(ip("fe80::1")));
        assert!(trusted("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert_eq!(trusted("*"), TrustedProxies::All);
        for bad in ["localhost", "10.0.0.0/33", "1.2.3", "*,10.0.0.1", "::1/129"] {
            let e = TrustedProxies::parse(Some(bad)).expect_err(bad);
            assert_eq!(e.var, "FORWARDED_ALLOW_IPS", "{bad}");
        }
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let t = trusted("10.0.0.1");
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-real-ip", "5.6.7.8"),
        ]);
        assert_eq!(
            t.resolve(Some(ip("127.0.0.1")), &h),
            ClientInfo::new(Some(ip("127.0.0.1")), Scheme::Http)
        );
    }

    #[test]
    fn rightmost_untrusted_hop_is_the_client() {
        let t = trusted("127.0.0.1,10.0.0.0/8");
        let peer = Some(ip("127.0.0.1"));
        // The client forged the first entry; the proxies appended the real one.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2"),
            ("x-forwarded-proto", "http, https"),
        ]);
        assert_eq!(t.resolve(peer, &h), ClientInfo::new(Some(ip("203.0.113.7")), Scheme::Https));
        // Split over two header lines, with ports and brackets.
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:443"), ("x-forwarded-for", "10.1.1.1:8080")]);
        assert_eq!(t.resolve(peer, &h).client_ip(), Some(ip("2001:db8::1")));
        // Every hop trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.2")]);
        assert_eq!(t.resolve(peer, &h).client_ip(), Some(ip("10.0.0.9")));
        // Garbage stops the walk at the last address read.
        let h = headers(&[("x-forwarded-for", "unknown, 10.0.0.2")]);
        assert_eq!(t.resolve(peer, &h).client_ip(), Some(ip("10.0.0.2")));
        // X-Real-IP without X-Forwarded-For.
        let h = headers(&[("x-real-ip", "198.51.100.4")]);
        assert_eq!(t.resolve(peer, &h).client_ip(), Some(ip("198.51.100.4")));
        // Nothing forwarded: the peer.
        assert_eq!(t.resolve(peer, &HeaderMap::new()), ClientInfo::new(peer, Scheme::Http));
        // An unknown proto keeps http.
        let h = headers(&[("x-forwarded-proto", "gopher")]);
        assert_eq!(t.resolve(peer, &h).scheme(), Scheme::Http);
    }
}
