//! The client address used for rate limiting. `X-Forwarded-For` is believed only when the TCP
//! peer is a configured trusted proxy, and then only as far as the chain of trusted proxies
//! reaches: the first untrusted address from the right is the client. A client cannot spoof
//! its way out of a limit by sending its own header.
//!
//! Several `X-Forwarded-For` header lines are one list, in order (RFC 7230 §3.2.2): a proxy
//! may append its own line after the client's. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`,
//! what a dual-stack socket reports for an IPv4 peer) are their IPv4 address throughout.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

/// The client's address, given the TCP peer and the `X-Forwarded-For` header lines in the
/// order they were received.
pub fn resolve(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for.iter().rev().flat_map(|line| line.rsplit(',')) {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // Garbage in the chain: stop at the last address we could trust.
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    Some(client)
}

/// The rate-limit bucket of a client address: the address itself for IPv4, its /64 for IPv6
/// (one subscriber or host usually holds a whole /64, so per-address buckets would be free to
/// multiply).
pub fn rate_limit_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        assert_eq!(
            resolve(ip("203.0.113.9"), &["1.2.3.4"], &nets(&["10.0.0.0/8"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("203.0.113.9"), &["1.2.3.4"], &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_peer_yields_first_untrusted_from_the_right() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &["198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // A client-supplied leftmost entry is not believed past an untrusted hop.
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                &["6.6.6.6, 198.51.100.7, 10.0.0.3"],
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Only trusted hops: the leftmost one is the best we know.
        assert_eq!(
            resolve(ip("10.0.0.2"), &["10.1.1.1, 10.0.0.3"], &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn garbage_stops_the_walk() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &["1.1.1.1, nonsense"], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(resolve(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
        assert_eq!(resolve(None, &["1.1.1.1"], &trusted), None);
    }

    #[test]
    fn header_lines_are_one_list_in_order() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client wrote the first line, the proxy appended the second.
        assert_eq!(
            resolve(ip("10.0.0.2"), &["6.6.6.6", "198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                &["6.6.6.6, 198.51.100.7", "10.0.0.3, 10.0.0.4"],
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), &["198.51.100.7", "nonsense"], &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        let trusted = nets(&["10.0.0.0/8"]);
        // A dual-stack listener reports an IPv4 proxy as ::ffff:10.0.0.2.
        assert_eq!(
            resolve(ip("::ffff:10.0.0.2"), &["198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(
                ip("::ffff:10.0.0.2"),
                &["::ffff:10.0.0.3, ::ffff:198.51.100.7"],
                &trusted
            ),
            ip("198.51.100.7"),
            "mapped hops are trusted and reported as IPv4 too"
        );
        assert_eq!(
            resolve(ip("::ffff:203.0.113.9"), &["1.2.3.4"], &trusted),
            ip("203.0.113.9")
        );
        // Trusted IPv6 proxies still match as IPv6.
        assert_eq!(
            resolve(ip("fd00::1"), &["198.51.100.7"], &nets(&["fd00::/8"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn ipv6_is_limited_per_64_and_ipv4_per_address() {
        let key = |s: &str| rate_limit_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("192.0.2.1"), "192.0.2.1");
        assert_ne!(key("192.0.2.2"), key("192.0.2.1"));
        assert_eq!(key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(key("::1"), "::/64");
    }
}
