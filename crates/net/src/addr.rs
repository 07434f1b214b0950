//! Network names and address parsing/resolution (Go's `net.SplitHostPort`,
//! `ResolveTCPAddr`, `favoriteAddrFamily`), with Go's error texts.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::OnceLock;

use crate::error::{addr_error, unknown_network};
use crate::sys;

/// An IP network name: `tcp`, `tcp4`, `tcp6` (or the `udp` family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Either IPv4 or IPv6 (`tcp`, `udp`).
    Any,
    /// IPv4 only (`tcp4`, `udp4`).
    V4,
    /// IPv6 only (`tcp6`, `udp6`).
    V6,
}

/// Parses `tcp`/`tcp4`/`tcp6` (or, with `base = "udp"`, the udp names).
pub(crate) fn parse_ip_network(net: &str, base: &str) -> io::Result<Family> {
    match net.strip_prefix(base) {
        Some("") => Ok(Family::Any),
        Some("4") => Ok(Family::V4),
        Some("6") => Ok(Family::V6),
        _ => Err(unknown_network(net)),
    }
}

/// Splits `host:port`, `[v6]:port` or `:port` into host and port (Go's
/// `net.SplitHostPort`).
///
/// ```
/// assert_eq!(netpark_net::split_host_port("[::1]:80").unwrap(), ("::1", "80"));
/// assert!(netpark_net::split_host_port("::1:80").is_err()); // too many colons
/// ```
///
/// # Errors
///
/// `InvalidInput` in Go's words: `address ::1:80: too many colons in
/// address`, `missing port in address`, `missing ']' in address`, …
pub fn split_host_port(hostport: &str) -> io::Result<(&str, &str)> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| addr_error("missing ']' in address", hostport))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, port)),
            None if after.is_empty() => Err(addr_error("missing port in address", hostport)),
            None => Err(addr_error("unexpected ']' in address", hostport)),
        };
    }
    let i = hostport
        .rfind(':')
        .ok_or_else(|| addr_error("missing port in address", hostport))?;
    let host = &hostport[..i];
    if host.contains(':') {
        return Err(addr_error("too many colons in address", hostport));
    }
    Ok((host, &hostport[i + 1..]))
}

/// `host:port`, with brackets around a host that holds a colon (Go's
/// `net.JoinHostPort`): the inverse of [`split_host_port`].
///
/// ```
/// assert_eq!(netpark_net::join_host_port("::1", "80"), "[::1]:80");
/// assert_eq!(netpark_net::join_host_port("example.com", "443"), "example.com:443");
/// ```
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The addresses of `host` (Go's `net.LookupIP`): an IP literal as is, a
/// name through `getaddrinfo(3)`, which blocks, so inside a task it runs
/// on a helper thread ([`run_blocking`](netpark_runtime::run_blocking))
/// while the task parks.
///
/// # Errors
///
/// `NotFound`, `lookup {host}: no such host`, as Go's; `InvalidInput` for
/// an empty host.
pub fn lookup_ip(host: &str) -> io::Result<Vec<IpAddr>> {
    if host.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "lookup: missing host",
        ));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let no_such_host = || {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("lookup {host}: no such host"),
        )
    };
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // Looks like a dotted quad but is not one: "256.1.1.1".
        return Err(no_such_host());
    }
    let name = host.to_string();
    let found = netpark_runtime::run_blocking(move || {
        (name.as_str(), 0)
            .to_socket_addrs()
            .map(|it| it.map(|a| a.ip()).collect::<Vec<IpAddr>>())
    })?;
    match found {
        Ok(ips) if !ips.is_empty() => Ok(ips),
        _ => Err(no_such_host()),
    }
}

/// A numeric port; empty means 0 (Go's `"127.0.0.1:"`).
pub(crate) fn parse_port(port: &str) -> io::Result<u16> {
    if port.is_empty() {
        return Ok(0);
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(addr_error("unknown port", port));
    }
    port.parse::<u16>()
        .map_err(|_| addr_error("invalid port", port))
}

/// Resolves `host:port` for `family` (Go's `ResolveTCPAddr` + address list).
///
/// An empty host resolves to nothing (`Ok(None)`): the caller picks the wildcard.
/// IP literals need no lookup; other names go through `getaddrinfo(3)`, which
/// blocks, so inside a task it runs on a helper thread
/// ([`run_blocking`](netpark_runtime::run_blocking)) while the task parks, as
/// Go hands the P of a goroutine in a cgo lookup to another thread.
pub(crate) fn resolve(
    family: Family,
    hostport: &str,
) -> io::Result<(Option<Vec<SocketAddr>>, u16)> {
    if hostport.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "missing address",
        ));
    }
    let (host, port) = split_host_port(hostport)?;
    let port = parse_port(port)?;
    if host.is_empty() {
        return Ok((None, port));
    }
    let ips = lookup_ip(host)?;
    let addrs: Vec<SocketAddr> = ips
        .into_iter()
        .filter(|ip| match family {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        })
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    if addrs.is_empty() {
        return Err(addr_error("no suitable address found", host));
    }
    Ok((Some(addrs), port))
}

/// Whether this machine can make IPv6 sockets (Go's `supportsIPv4map`, roughly).
pub(crate) fn ipv6_supported() -> bool {
    static V6: OnceLock<bool> = OnceLock::new();
    *V6.get_or_init(|| sys::socket(libc::AF_INET6, libc::SOCK_STREAM).is_ok())
}

/// The address and IPv6-only flag a listener binds (Go's `favoriteAddrFamily`):
/// for `tcp` with a wildcard host (empty, `0.0.0.0` or `::`), a dual-stack `[::]`
/// socket; `tcp4` → `0.0.0.0`; `tcp6` → `[::]` IPv6-only.
pub(crate) fn listen_addr(
    family: Family,
    addrs: Option<&[SocketAddr]>,
    port: u16,
) -> (SocketAddr, bool) {
    let wildcard = match addrs {
        None => true,
        Some(a) => a[0].ip().is_unspecified(),
    };
    match family {
        Family::V4 => (
            addrs.map_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), |a| {
                a[0]
            }),
            false,
        ),
        Family::V6 => (
            addrs.map_or(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), |a| {
                a[0]
            }),
            true,
        ),
        Family::Any if wildcard && ipv6_supported() => {
            (SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), false)
        }
        Family::Any if wildcard => (SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), false),
        Family::Any => (addrs.expect("non-wildcard has addresses")[0], false),
    }
}

/// The backlog Go uses: `/proc/sys/net/core/somaxconn`, else 4096, capped to fit.
pub(crate) fn default_backlog() -> i32 {
    static BACKLOG: OnceLock<i32> = OnceLock::new();
    *BACKLOG.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(4096, |n| n.clamp(1, 65535) as i32)
    })
}

pub(crate) fn family_of(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_host_port_follows_go() {
        assert_eq!(
            split_host_port("127.0.0.1:80").unwrap(),
            ("127.0.0.1", "80")
        );
        assert_eq!(split_host_port("[::1]:0").unwrap(), ("::1", "0"));
        assert_eq!(split_host_port(":0").unwrap(), ("", "0"));
        assert_eq!(split_host_port("127.0.0.1:").unwrap(), ("127.0.0.1", ""));
        assert_eq!(
            split_host_port("localhost").unwrap_err().to_string(),
            "address localhost: missing port in address"
        );
        assert_eq!(
            split_host_port("::1").unwrap_err().to_string(),
            "address ::1: too many colons in address"
        );
    }

    #[test]
    fn ports_are_checked() {
        assert_eq!(
            parse_port("99999").unwrap_err().to_string(),
            "address 99999: invalid port"
        );
        assert_eq!(parse_port("").unwrap(), 0);
        assert!(parse_port("http").is_err());
    }

    #[test]
    fn bad_dotted_quad_is_no_such_host() {
        let e = resolve(Family::Any, "256.1.1.1:80").unwrap_err();
        assert_eq!(e.to_string(), "lookup 256.1.1.1: no such host");
    }
}
