//! This node's addresses read from the root's own `/proc/net` files, for a `--root` other
//! than `/`: there `ip` would describe the machine running bootstrap, not the root. The
//! formats are the kernel's (proc(5)): `/proc/net/route` (IPv4 routes; hex addresses in
//! host byte order, little-endian on the platforms bootstrap is built for), `/proc/net/fib_trie`
//! (the `/32 host LOCAL` leaves are the local IPv4 addresses), `/proc/net/ipv6_route` and
//! `/proc/net/if_inet6` (address, ifindex, prefix length, scope, flags, name; scope 00 is
//! global).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One IPv4 route: interface, destination, mask.
struct Route4 {
    iface: String,
    dest: Ipv4Addr,
    mask: Ipv4Addr,
}

fn hex_v4(text: &str) -> Option<Ipv4Addr> {
    let n = u32::from_str_radix(text, 16).ok()?;
    Some(Ipv4Addr::from(n.to_le_bytes()))
}

fn routes_v4(route: &str) -> Vec<Route4> {
    route
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Route4 {
                iface: f.first()?.to_string(),
                dest: hex_v4(f.get(1)?)?,
                mask: hex_v4(f.get(7)?)?,
            })
        })
        .collect()
}

/// The interface of the default route: IPv4 (`/proc/net/route`), then IPv6
/// (`/proc/net/ipv6_route`, destination `::/0`).
pub fn default_interface(route: &str, ipv6_route: &str) -> Option<String> {
    routes_v4(route)
        .into_iter()
        .find(|r| r.dest.is_unspecified() && r.mask.is_unspecified())
        .map(|r| r.iface)
        .or_else(|| {
            ipv6_route.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 10 && f[0].bytes().all(|b| b == b'0') && f[1] == "00")
                    .then(|| f[9].to_string())
                    .filter(|i| i != "lo")
            })
        })
}

/// The local IPv4 addresses: the `/32 host LOCAL` leaves of `/proc/net/fib_trie`.
fn local_v4(fib_trie: &str) -> Vec<Ipv4Addr> {
    let mut last = None;
    let mut out = Vec::new();
    for line in fib_trie.lines() {
        let t = line.trim_start();
        if let Some(ip) = t.strip_prefix("|-- ") {
            last = ip.trim().parse::<Ipv4Addr>().ok();
        } else if t.starts_with("/32 host LOCAL")
            && let Some(ip) = last
            && !ip.is_loopback()
            && !out.contains(&ip)
        {
            out.push(ip);
        }
    }
    out
}

/// The global address of `iface`: an IPv4 address of one of its connected networks, else a
/// global IPv6 address.
pub fn interface_address(
    iface: &str,
    route: &str,
    fib_trie: &str,
    if_inet6: &str,
) -> Option<IpAddr> {
    let nets: Vec<Route4> = routes_v4(route)
        .into_iter()
        .filter(|r| r.iface == iface && !r.mask.is_unspecified())
        .collect();
    let v4 = local_v4(fib_trie).into_iter().find(|ip| {
        nets.iter()
            .any(|n| u32::from(*ip) & u32::from(n.mask) == u32::from(n.dest))
    });
    v4.map(IpAddr::V4).or_else(|| {
        if_inet6.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 || f[5] != iface || f[3] != "00" {
                return None;
            }
            let n = u128::from_str_radix(f[0], 16).ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(n)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\neth1\t0021A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
    const FIB: &str = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 10.0.2.0/24 2 0 2\n        |-- 10.0.2.0\n           /24 link UNICAST\n        |-- 10.0.2.15\n           /32 host LOCAL\n     +-- 192.168.33.0/24 2 0 2\n        |-- 192.168.33.13\n           /32 host LOCAL\n     |-- 127.0.0.1\n        /32 host LOCAL\n";
    const INET6: &str = "fe800000000000000000000000000001 02 40 20 80     eth0\nfd000000000000000000000000000010 03 40 00 80     eth1\n";

    #[test]
    fn default_route_and_interface_addresses() {
        assert_eq!(default_interface(ROUTE, "").as_deref(), Some("eth0"));
        assert_eq!(
            interface_address("eth0", ROUTE, FIB, INET6),
            Some("10.0.2.15".parse().unwrap())
        );
        assert_eq!(
            interface_address("eth1", ROUTE, FIB, INET6),
            Some("192.168.33.13".parse().unwrap())
        );
        assert_eq!(
            interface_address("eth1", "", "", INET6),
            Some("fd00::10".parse().unwrap())
        );
        assert_eq!(interface_address("eth9", ROUTE, FIB, INET6), None);
        let v6_default = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth1\n";
        assert_eq!(default_interface("", v6_default).as_deref(), Some("eth1"));
    }
}
