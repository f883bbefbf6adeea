//! Networks in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`): where an API key may be
//! used from, and which proxies `preauth serve` trusts to name the client.
//!
//! A bare address is a network of that one address (`/32`, `/128`). A network with bits
//! set after its prefix (`10.1.2.3/8`) is refused rather than silently widened or cut,
//! since it is most likely a typo. An IPv4 client seen through an IPv6 socket
//! (`::ffff:10.1.2.3`) is inside the IPv4 networks that hold `10.1.2.3`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One network: an address and a prefix length, without host bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Network(IpNet);

/// Why a text is no network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// Neither an address nor an address with a prefix length.
    #[error(
        "'{text}' is not a network: write an address with a prefix length, such as '10.0.0.0/8' or '2001:db8::/32', or one address, such as '192.0.2.7'"
    )]
    Malformed {
        /// The text given.
        text: String,
    },
    /// Bits set after the prefix.
    #[error(
        "'{text}' has bits set after its prefix length; write the network's first address, '{network}', or the one address without a prefix length"
    )]
    HostBits {
        /// The text given.
        text: String,
        /// The network it lies in.
        network: Network,
    },
}

impl Network {
    /// Whether `addr` is inside this network (an IPv4-mapped IPv6 address also as the
    /// IPv4 address it maps).
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&addr) || self.0.contains(&addr.to_canonical())
    }
}

/// Whether `addr` is inside one of `networks`.
pub fn any_contains(networks: &[Network], addr: IpAddr) -> bool {
    networks.iter().any(|n| n.contains(addr))
}

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Network, NetworkError> {
        let trimmed = text.trim();
        let malformed = || NetworkError::Malformed { text: text.into() };
        let net = match trimmed.parse::<IpAddr>() {
            Ok(addr) => IpNet::from(addr),
            Err(_) => trimmed.parse::<IpNet>().map_err(|_| malformed())?,
        };
        if net.addr() != net.network() {
            return Err(NetworkError::HostBits {
                text: text.into(),
                network: Network(net.trunc()),
            });
        }
        Ok(Network(net))
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Network, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Network {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_hold_their_addresses_and_no_others() {
        let ten = net("10.0.0.0/8");
        assert!(ten.contains(ip("10.1.2.3")));
        assert!(!ten.contains(ip("11.0.0.1")));
        assert!(!ten.contains(ip("2001:db8::1")));
        let doc = net(" 2001:db8::/32 ");
        assert!(doc.contains(ip("2001:db8:1::5")));
        assert!(!doc.contains(ip("2001:db9::1")));
        assert!(!doc.contains(ip("10.1.2.3")));
        assert_eq!(doc.to_string(), "2001:db8::/32");
    }

    #[test]
    fn a_bare_address_is_a_network_of_one() {
        assert_eq!(net("192.0.2.7").to_string(), "192.0.2.7/32");
        assert_eq!(net("::1").to_string(), "::1/128");
        assert!(net("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!net("192.0.2.7").contains(ip("192.0.2.8")));
    }

    #[test]
    fn an_ipv4_client_on_an_ipv6_socket_is_in_its_ipv4_network() {
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(!net("10.0.0.0/8").contains(ip("::ffff:192.0.2.7")));
        assert!(any_contains(
            &[net("192.0.2.0/24"), net("10.0.0.0/8")],
            ip("10.9.9.9")
        ));
        assert!(!any_contains(&[], ip("10.9.9.9")));
    }

    #[test]
    fn bad_text_is_named_with_an_example() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "example.com",
            "::1/129",
            "10.0.0.0/",
        ] {
            let error = bad.parse::<Network>().unwrap_err();
            assert!(matches!(error, NetworkError::Malformed { .. }), "{bad}");
            let text = error.to_string();
            assert!(text.contains(&format!("'{bad}'")) && text.contains("10.0.0.0/8"));
        }
        let error = "10.1.2.3/8".parse::<Network>().unwrap_err();
        assert!(error.to_string().contains("'10.0.0.0/8'"), "{error}");
    }

    #[test]
    fn networks_are_stored_as_text() {
        let nets = vec![net("10.0.0.0/8"), net("::1")];
        let json = serde_json::to_string(&nets).unwrap();
        assert_eq!(json, r#"["10.0.0.0/8","::1/128"]"#);
        let back: Vec<Network> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, nets);
        assert!(serde_json::from_str::<Vec<Network>>(r#"["10.0.0.0/33"]"#).is_err());
    }
}
