//! Channel targets as grpcio spells them: `host:port`, `dns:///host:port`,
//! `ipv4:a.b.c.d:p,...`, `ipv6:[addr]:p,...`, `unix:/path`, `unix-abstract:name`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::error::{Error, Kind};

const DEFAULT_PORT: u16 = 443;

/// Where a channel connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// A name resolved through the system resolver at connect time.
    Dns { host: String, port: u16 },
    /// Literal socket addresses, tried in order.
    Ip(Vec<SocketAddr>),
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// A Linux abstract-namespace socket name.
    UnixAbstract(Vec<u8>),
}

/// A parsed target: the address and the `:authority` to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) address: Address,
    pub(crate) authority: String,
}

fn invalid(target: &str, why: &str) -> Error {
    Error::new(
        Kind::InvalidTarget,
        format!("invalid target {target:?}: {why}"),
    )
}

/// Parses a grpcio-style target string.
pub(crate) fn parse(target: &str) -> Result<Target, Error> {
    if let Some(path) = target.strip_prefix("unix-abstract:") {
        if path.is_empty() {
            return Err(invalid(target, "empty abstract socket name"));
        }
        return Ok(Target {
            address: Address::UnixAbstract(path.as_bytes().to_vec()),
            authority: "localhost".into(),
        });
    }
    if let Some(rest) = target.strip_prefix("unix:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(invalid(target, "empty socket path"));
        }
        return Ok(Target {
            address: Address::Unix(PathBuf::from(path)),
            authority: "localhost".into(),
        });
    }
    if let Some(list) = target.strip_prefix("ipv4:") {
        let addrs = parse_ip_list(target, list, false)?;
        return Ok(Target {
            authority: addrs[0].to_string(),
            address: Address::Ip(addrs),
        });
    }
    if let Some(list) = target.strip_prefix("ipv6:") {
        let addrs = parse_ip_list(target, list, true)?;
        return Ok(Target {
            authority: addrs[0].to_string(),
            address: Address::Ip(addrs),
        });
    }
    let host_port = if let Some(rest) = target.strip_prefix("dns:") {
        // dns:[//authority/]host[:port]; the DNS server authority is ignored.
        match rest.strip_prefix("//") {
            Some(with_authority) => match with_authority.split_once('/') {
                Some((_, host_port)) => host_port,
                None => return Err(invalid(target, "expected dns:///host:port")),
            },
            None => rest,
        }
    } else {
        target
    };
    let (host, port) = split_host_port(target, host_port)?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let address = match host.parse::<IpAddr>() {
        Ok(ip) => Address::Ip(vec![SocketAddr::new(ip, port)]),
        Err(_) => Address::Dns { host, port },
    };
    Ok(Target { address, authority })
}

fn parse_ip_list(target: &str, list: &str, ipv6: bool) -> Result<Vec<SocketAddr>, Error> {
    let mut addrs = Vec::new();
    for item in list.split(',') {
        let (host, port) = split_host_port(target, item.trim())?;
        let ip: IpAddr = host
            .parse()
            .map_err(|_| invalid(target, &format!("{host:?} is not an IP address")))?;
        if ip.is_ipv6() != ipv6 {
            return Err(invalid(
                target,
                &format!("{host} is not an IPv{} address", if ipv6 { 6 } else { 4 }),
            ));
        }
        addrs.push(SocketAddr::new(ip, port));
    }
    Ok(addrs)
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]`; the port defaults to 443.
fn split_host_port(target: &str, host_port: &str) -> Result<(String, u16), Error> {
    if host_port.is_empty() {
        return Err(invalid(target, "empty host"));
    }
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid(target, "unterminated '[' in IPv6 address"))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(invalid(target, "unexpected text after ']'")),
            },
        }
    } else if host_port.matches(':').count() > 1 {
        // A bare IPv6 address without a port.
        (host_port, None)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(invalid(target, "empty host"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .map_err(|_| invalid(target, &format!("bad port {port:?}")))?,
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        let t = parse("localhost:50051").unwrap();
        assert_eq!(
            t.address,
            Address::Dns {
                host: "localhost".into(),
                port: 50051
            }
        );
        assert_eq!(t.authority, "localhost:50051");
        assert_eq!(
            parse("dns:///example.com:443").unwrap().authority,
            "example.com:443"
        );
        assert_eq!(
            parse("dns://8.8.8.8/example.com:1").unwrap().authority,
            "example.com:1"
        );
        assert_eq!(
            parse("dns:example.com").unwrap().authority,
            "example.com:443"
        );
        assert_eq!(
            parse("127.0.0.1:80").unwrap().address,
            Address::Ip(vec!["127.0.0.1:80".parse().unwrap()])
        );
        assert_eq!(parse("[::1]:80").unwrap().authority, "[::1]:80");
    }

    #[test]
    fn ip_lists() {
        let t = parse("ipv4:127.0.0.1:1,10.0.0.1:2").unwrap();
        assert_eq!(
            t.address,
            Address::Ip(vec![
                "127.0.0.1:1".parse().unwrap(),
                "10.0.0.1:2".parse().unwrap()
            ])
        );
        let t = parse("ipv6:[::1]:5,[::2]").unwrap();
        assert_eq!(
            t.address,
            Address::Ip(vec![
                "[::1]:5".parse().unwrap(),
                "[::2]:443".parse().unwrap()
            ])
        );
        assert!(parse("ipv4:[::1]:5").is_err());
        assert!(parse("ipv4:notanip:5").is_err());
    }

    #[test]
    fn unix_forms() {
        assert_eq!(
            parse("unix:/tmp/s").unwrap().address,
            Address::Unix("/tmp/s".into())
        );
        assert_eq!(
            parse("unix:///tmp/s").unwrap().address,
            Address::Unix("/tmp/s".into())
        );
        assert_eq!(
            parse("unix:rel/s").unwrap().address,
            Address::Unix("rel/s".into())
        );
        assert_eq!(
            parse("unix-abstract:x").unwrap().address,
            Address::UnixAbstract(b"x".to_vec())
        );
        assert!(parse("unix:").unwrap_err().is_invalid_target());
    }

    #[test]
    fn bad_targets() {
        for bad in [
            "",
            ":80",
            "host:notaport",
            "host:99999",
            "[::1",
            "[::1]x",
            "dns://only-authority",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
