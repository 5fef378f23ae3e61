"""Egress policy: which addresses the server connects to on a client's behalf (stream and webhook URLs).

Pure (stdlib only): the API checks URLs when they are stored, the callback worker and the recorder
process check the addresses a name resolves to right before they connect (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cloudrec.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ports of schemes that have one, for a URL without an explicit port.
DEFAULT_PORTS = {"http": 80, "https": 443, "rtmp": 1935, "rtmps": 443, "rtmpt": 80, "rtsp": 554, "rtsps": 322}

# Refused for every kind unless the operator allows them explicitly: link-local (where cloud metadata
# services answer: 169.254.169.254 on AWS, GCP, Azure), the metadata addresses outside link-local (AWS's
# IPv6 fd00:ec2::254, Alibaba's 100.100.100.200), "this host" (0.0.0.0 connects to the local machine),
# multicast, broadcast and the reserved ranges.
_ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",
        "fe80::/10",
        "fd00:ec2::254/128",
        "100.100.100.200/32",
        "0.0.0.0/8",
        "::/128",
        "224.0.0.0/4",
        "ff00::/8",
        "240.0.0.0/4",  # with 255.255.255.255
    )
)
# Local names that never need DNS: they are the loopback addresses (RFC 6761).
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(ValueError):
    """The policy forbids connecting there; the message says why (never the URL's credentials)."""


@dataclass(frozen=True)
class EgressPolicy:
    """Where one kind of connection (`kind`: "stream" or "webhook") may go.

    In order: the server's own API address and port are refused; then the deny lists (hosts, networks,
    ports); then the allow lists (hosts, networks) accept; then the built-in rule: link-local, "this
    host", multicast and reserved ranges are refused, and with `public_only` every address that is not
    globally routable (loopback, private, CGNAT, unique-local...)."""

    kind: str
    public_only: bool = False
    allow_networks: tuple[IPNetwork, ...] = ()
    deny_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: tuple[str, ...] = ()  # "media.example.com", or ".example.com" for every subdomain
    deny_hosts: tuple[str, ...] = ()
    deny_ports: tuple[int, ...] = ()
    own: tuple[tuple[IPNetwork, int], ...] = field(default=())  # the API's listen addresses and port


def canonical_address(host: str) -> IPAddress | None:
    """The address an IP literal denotes in any spelling a resolver accepts (`2130706433`, `127.1`,
    `0x7f.0.0.1`, `[::1]`, `::ffff:127.0.0.1`), IPv4 inside IPv6 unwrapped; None for a host name."""
    text = host.strip().strip("[]").rstrip(".").lower()
    if "%" in text:  # an IPv6 zone (fe80::1%eth0): the zone changes nothing of the address
        text = text.split("%", 1)[0]
    try:
        address: IPAddress = ipaddress.ip_address(text)
    except ValueError:
        if not text or not all(c in "0123456789abcdefx." for c in text) or not text[0].isdigit():
            return None
        try:  # inet_aton takes the legacy forms (decimal, octal, hex, fewer than four parts)
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        packed = int(address)
        if 1 < packed <= 0xFFFFFFFF:  # IPv4-compatible ::a.b.c.d (deprecated, still routed by some)
            return ipaddress.IPv4Address(packed)
    return address


def _host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    return any(host == p or (p.startswith(".") and host.endswith(p)) for p in patterns)


def decide(policy: EgressPolicy, address: IPAddress, port: int, host: str = "") -> str | None:
    """None when `policy` lets a connection to `address`:`port` (named `host`) through, else why not."""
    kind = policy.kind
    for network, own_port in policy.own:
        if port == own_port and address in network:
            return f"{kind} URLs must not point at this server's own API ({address} port {port})"
    if host and _host_matches(host, policy.deny_hosts):
        return f"host {host} is on the operator's deny list for {kind} URLs"
    if any(address in n for n in policy.deny_networks):
        return f"address {address} is in a network the operator denies for {kind} URLs"
    if port in policy.deny_ports:
        return f"port {port} is denied by the operator for {kind} URLs"
    if (host and _host_matches(host, policy.allow_hosts)) or any(address in n for n in policy.allow_networks):
        return None
    if any(address in n for n in _ALWAYS_REFUSED):
        return (
            f"address {address} (link-local, cloud metadata, unspecified, multicast or reserved) "
            f"is refused for {kind} URLs"
        )
    if policy.public_only and not address.is_global:
        return (
            f"address {address} is not a public address: {kind} URLs reach public addresses only, "
            "unless the operator allows the network or host"
        )
    return None


def _split(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL; the port is None where neither the URL nor the scheme gives one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EgressRefused("the URL's host or port is invalid") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    return scheme, host, port if port is not None else DEFAULT_PORTS.get(scheme)


def check_url(url: str, policy: EgressPolicy) -> None:
    """When a URL is stored: its host, if it is an address (any spelling) or a local name, must be
    allowed. Other names are checked when they are resolved, right before each connection."""
    _scheme, host, port = _split(url)
    if not host:
        return  # nothing to connect to (the scheme check refuses what has no host)
    address = canonical_address(host)
    name = "" if address is not None else host
    if address is None and not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise EgressRefused("the URL's host name is not a valid host name") from None
    if address is not None:
        candidates: tuple[IPAddress, ...] = (address,)
    elif name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        candidates = _LOOPBACK
    else:
        if _host_matches(name, policy.deny_hosts):
            raise EgressRefused(f"host {name} is on the operator's deny list for {policy.kind} URLs")
        if port is not None and port in policy.deny_ports:
            raise EgressRefused(f"port {port} is denied by the operator for {policy.kind} URLs")
        return
    for candidate in candidates:
        reason = decide(policy, candidate, port if port is not None else -1, name)
        if reason:
            raise EgressRefused(reason)


def resolve_checked(host: str, port: int, policy: EgressPolicy) -> list[IPAddress]:
    """The addresses `host` resolves to, all of them allowed (else EgressRefused): connect to these."""
    address = canonical_address(host)
    name = "" if address is not None else host.rstrip(".").lower()
    if address is not None:
        found: list[IPAddress] = [address]
    else:
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise EgressRefused(f"host {name} could not be resolved: {exc}") from None
        found = []
        for info in infos:
            resolved = canonical_address(str(info[4][0]))
            if resolved is not None and resolved not in found:
                found.append(resolved)
    if not found:
        raise EgressRefused(f"host {host} has no address")
    for candidate in found:  # one refused address refuses the name: the resolver may pick any of them
        reason = decide(policy, candidate, port, name)
        if reason:
            raise EgressRefused(reason)
    return found


def check_connect(url: str, policy: EgressPolicy) -> None:
    """Right before a connection to `url`: every address its host resolves to must be allowed."""
    _scheme, host, port = _split(url)
    if host:
        resolve_checked(host, port if port is not None else -1, policy)


# ---- the recorder process: the policy of its task ------------------------------------------------

_stream_policy = EgressPolicy("stream")


def install_stream_policy(policy: EgressPolicy | None) -> None:
    """The policy `check_stream` applies in this process (a recorder installs its task's)."""
    global _stream_policy
    _stream_policy = policy or EgressPolicy("stream")


def check_stream(url: str) -> None:
    """Right before a source opens `url`: EgressRefused unless the installed stream policy allows it."""
    check_connect(url, _stream_policy)


# ---- from the settings --------------------------------------------------------------------------


def parse_networks(values: list[str]) -> tuple[IPNetwork, ...]:
    """Networks ("10.0.0.0/8", "fd00::/8") or single addresses; ValueError names a bad entry."""
    out: list[IPNetwork] = []
    for value in values:
        address = canonical_address(value) if "/" not in value else None
        try:
            out.append(ipaddress.ip_network(address if address is not None else value, strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not a network (e.g. 10.0.0.0/8) or an address") from None
    return tuple(out)


@lru_cache(maxsize=8)
def _addresses_of(name: str) -> tuple[IPAddress, ...]:
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()
    found = (canonical_address(str(info[4][0])) for info in infos)
    return tuple(a for a in found if a is not None)


def own_addresses(settings: Settings) -> tuple[tuple[IPNetwork, int], ...]:
    """Where this server's API answers: its listen address (every local one for 0.0.0.0 / ::) and port,
    and the public URL's host and port."""
    out: list[tuple[IPNetwork, int]] = []
    listen = canonical_address(settings.host) if settings.host else ipaddress.ip_address("0.0.0.0")
    if listen is None:
        addresses: tuple[IPAddress, ...] = _addresses_of(settings.host)
    elif listen.is_unspecified:
        addresses = (*_LOOPBACK, *_addresses_of(socket.gethostname()))
        out.append((ipaddress.ip_network("127.0.0.0/8"), settings.port))
        out.append((ipaddress.ip_network("0.0.0.0/8"), settings.port))
    else:
        addresses = (listen,)
    out.extend((ipaddress.ip_network(a), settings.port) for a in addresses)
    if settings.public_url:
        _scheme, host, port = _split(settings.public_url)
        public = canonical_address(host)
        found = (public,) if public is not None else _addresses_of(host)
        out.extend((ipaddress.ip_network(a), port) for a in found if port is not None)
    return tuple(dict.fromkeys(out))


def stream_policy(settings: Settings) -> EgressPolicy:
    """Stream URLs: loopback and private addresses allowed (media servers live there)."""
    return EgressPolicy(
        "stream",
        public_only=False,
        allow_networks=parse_networks(settings.egress_stream_allow_networks),
        deny_networks=parse_networks(settings.egress_stream_deny_networks),
        allow_hosts=tuple(settings.egress_stream_allow_hosts),
        deny_hosts=tuple(settings.egress_stream_deny_hosts),
        deny_ports=tuple(settings.egress_stream_deny_ports),
        own=own_addresses(settings),
    )


def webhook_policy(settings: Settings) -> EgressPolicy:
    """Webhook URLs: public addresses only, unless the operator allows an internal receiver."""
    return EgressPolicy(
        "webhook",
        public_only=True,
        allow_networks=parse_networks(settings.egress_webhook_allow_networks),
        deny_networks=parse_networks(settings.egress_webhook_deny_networks),
        allow_hosts=tuple(settings.egress_webhook_allow_hosts),
        deny_hosts=tuple(settings.egress_webhook_deny_hosts),
        deny_ports=tuple(settings.egress_webhook_deny_ports),
        own=own_addresses(settings),
    )
