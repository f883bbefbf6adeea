//! The client's address, which API keys limited to networks are checked against.
//!
//! It is the TCP peer (the `ConnectInfo<SocketAddr>` the listener puts in every
//! request's extensions), unless that peer is a proxy the operator trusts
//! (`--trusted-proxy CIDR`): then it comes from `X-Forwarded-For`, read from the right
//! (the entries nearest to this server, the only ones a trusted proxy wrote), skipping
//! entries that are themselves trusted proxies. The first one that is not is the client;
//! whatever lies to its left was said by the client and is worth nothing. A peer that is
//! not trusted cannot name a client at all: its header is ignored.
//!
//! No peer, or an entry that is no address, gives no address (`None`), which a key
//! limited to networks refuses.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use preauth_core::network::{self, Network};

/// The header a reverse proxy names the client in.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// How the client's address is found: the proxies trusted to name it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientAddresses {
    trusted: Vec<Network>,
}

impl ClientAddresses {
    /// Trusting the proxies in `trusted` (none: the TCP peer is always the client).
    pub(crate) fn new(trusted: Vec<Network>) -> ClientAddresses {
        ClientAddresses { trusted }
    }

    /// The client of a request with `extensions` and `headers`; `None` when it cannot
    /// be known.
    pub(crate) fn of_request(
        &self,
        extensions: &Extensions,
        headers: &HeaderMap,
    ) -> Option<IpAddr> {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        self.client(peer, headers)
    }

    /// The client of a request from TCP peer `peer` with `headers`.
    fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        // Every X-Forwarded-For line, in order, as one list (RFC 9110 §5.3).
        let entries: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .map(|value| value.to_str().ok())
            .collect::<Option<Vec<&str>>>()?
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            client = parse_entry(entry)?;
            if !self.is_trusted(client) {
                break;
            }
        }
        Some(client)
    }

    fn is_trusted(&self, addr: IpAddr) -> bool {
        network::any_contains(&self.trusted, addr)
    }
}

/// One entry of `X-Forwarded-For`: an address, also `[v6]`, `[v6]:port` or `v4:port`
/// as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let addr = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(addr.to_canonical())
}

/// Whether `host` (a name or an IP literal, bracketed or not) is this machine.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusting(networks: &[&str]) -> ClientAddresses {
        ClientAddresses::new(networks.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn without_a_trusted_proxy_the_peer_is_the_client_and_the_header_is_ignored() {
        let headers = forwarded(&["10.1.2.3"]);
        let none = ClientAddresses::default();
        assert_eq!(
            none.client(Some(ip("127.0.0.1")), &headers),
            Some(ip("127.0.0.1"))
        );
        let other = trusting(&["192.0.2.0/24"]);
        assert_eq!(
            other.client(Some(ip("127.0.0.1")), &headers),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(none.client(None, &headers), None, "no peer: unknown");
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let proxy = trusting(&["127.0.0.1/32"]);
        let peer = Some(ip("127.0.0.1"));
        assert_eq!(
            proxy.client(peer, &forwarded(&["10.1.2.3"])),
            Some(ip("10.1.2.3"))
        );
        // Without the header, the proxy itself is the client.
        assert_eq!(proxy.client(peer, &HeaderMap::new()), peer);
        // Seen through an IPv6 socket.
        assert_eq!(
            proxy.client(Some(ip("::ffff:127.0.0.1")), &forwarded(&["2001:db8::5"])),
            Some(ip("2001:db8::5"))
        );
    }

    #[test]
    fn the_right_most_entry_that_is_no_trusted_proxy_is_the_client() {
        let proxies = trusting(&["127.0.0.1/32", "10.9.0.0/16"]);
        let peer = Some(ip("127.0.0.1"));
        // A client that sends its own header cannot choose its address.
        let spoofed = forwarded(&["10.1.2.3, 192.0.2.9"]);
        assert_eq!(proxies.client(peer, &spoofed), Some(ip("192.0.2.9")));
        // Chains of trusted proxies are skipped, also over several header lines.
        let chain = forwarded(&["203.0.113.4, 192.0.2.9", "10.9.0.1 , 10.9.0.2"]);
        assert_eq!(proxies.client(peer, &chain), Some(ip("192.0.2.9")));
        // Every entry a trusted proxy: the left-most one.
        let inside = forwarded(&["10.9.0.7, 10.9.0.1"]);
        assert_eq!(proxies.client(peer, &inside), Some(ip("10.9.0.7")));
    }

    #[test]
    fn ports_and_brackets_are_read_and_garbage_is_no_address() {
        let proxy = trusting(&["127.0.0.1"]);
        let peer = Some(ip("127.0.0.1"));
        for (entry, client) in [
            ("192.0.2.9:4711", "192.0.2.9"),
            ("[2001:db8::9]:4711", "2001:db8::9"),
            ("[2001:db8::9]", "2001:db8::9"),
            ("::ffff:192.0.2.9", "192.0.2.9"),
        ] {
            assert_eq!(
                proxy.client(peer, &forwarded(&[entry])),
                Some(ip(client)),
                "{entry}"
            );
        }
        for garbage in ["unknown", "192.0.2.9, nonsense", "", "10.1.2.3,"] {
            assert_eq!(
                proxy.client(peer, &forwarded(&[garbage])),
                None,
                "{garbage:?}"
            );
        }
        // Garbage left of the client is never read.
        assert_eq!(
            proxy.client(peer, &forwarded(&["nonsense, 192.0.2.9"])),
            Some(ip("192.0.2.9"))
        );
    }

    #[test]
    fn the_peer_comes_from_the_connect_info_extension() {
        let proxy = trusting(&["127.0.0.1"]);
        let mut extensions = Extensions::new();
        assert_eq!(proxy.of_request(&extensions, &HeaderMap::new()), None);
        extensions.insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 5000))));
        assert_eq!(
            proxy.of_request(&extensions, &forwarded(&["10.1.2.3"])),
            Some(ip("192.0.2.1"))
        );
    }
}
