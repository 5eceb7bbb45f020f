"""Addresses: CIDR lists from settings, and the client's address behind trusted proxies.

    proxies = Networks.parse("10.0.0.0/8, 127.0.0.1", setting="CHATBOT_TRUSTED_PROXIES")
    client = client_address(peer="10.0.0.2", forwarded_for=["203.0.113.9"], trusted=proxies)

`X-Forwarded-For` is believed only as far as it was written by trusted proxies: read from
the right (the hop nearest us), every address a trusted proxy added is skipped, and the
first one that is not a trusted proxy is the client. Anything a client wrote further left
is ignored, so a client cannot choose its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str | None) -> IPAddress | None:
    """An IP address from a peer or header value ("::ffff:10.0.0.1", "[::1]:443",
    "10.0.0.1:5000"); None if it is not one."""
    value = (text or "").strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 clients this way
    return address


def normal_address(text: str | None) -> str:
    """The address as the audit log and the throttle key it: "" if it is not an IP."""
    address = parse_address(text)
    return str(address) if address is not None else ""


@dataclass(frozen=True)
class Networks:
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str | None, *, setting: str) -> Networks:
        """A comma- or space-separated CIDR list ("10.0.0.0/8, 192.168.1.7"), or a
        ValueError naming the setting and the bad entry."""
        networks = []
        for item in (text or "").replace(",", " ").split():
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{setting}: {item!r} is not an IP address or CIDR range") from None
        return cls(tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        ip = address if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address) else parse_address(str(address))
        return ip is not None and any(ip.version == n.version and ip in n for n in self.networks)

    def __str__(self) -> str:
        return ", ".join(str(n) for n in self.networks)


def forwarded_hops(values: Iterable[str]) -> list[str]:
    """The addresses of every X-Forwarded-For header, in order (several headers join)."""
    return [hop.strip() for value in values for hop in value.split(",") if hop.strip()]


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Networks) -> str:
    """Who the client is: the peer, unless the peer is a trusted proxy, in which case
    the nearest untrusted hop it reports."""
    current = parse_address(peer)
    if current is None:
        return ""
    for hop in reversed(forwarded_hops(forwarded_for)):
        if current not in trusted:
            break
        nxt = parse_address(hop)
        if nxt is None:  # garbage from further out: the last hop we could trust stands
            break
        current = nxt
    return str(current)
