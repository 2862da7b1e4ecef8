"""TLS contexts for every listener, and the self-signed pair for a first start.

One server context is shared by implicit TLS and STARTTLS. Reloading calls ``load_cert_chain``
on that same context object, which replaces the certificate for new handshakes while sessions
already running keep theirs: SIGHUP then renews a certificate without dropping anyone.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailhost.config import Config, ConfigError

log = logging.getLogger("mailhost.tls")

# Mozilla "intermediate" TLS 1.2 suites, AEAD with forward secrecy only (no CBC, no plain RSA
# key exchange, no finite-field DHE). TLS 1.3 suites are fixed by OpenSSL and all acceptable.
INTERMEDIATE_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
))

SELF_SIGNED_CERT = "selfsigned-cert.pem"
SELF_SIGNED_KEY = "selfsigned-key.pem"


def certificate_paths(config: Config) -> tuple[Path, Path]:
    """The configured pair, or the generated one under the data directory."""
    if config.tls.cert_file:
        return Path(config.tls.cert_file), Path(config.tls.key_file)
    return config.data_dir / SELF_SIGNED_CERT, config.data_dir / SELF_SIGNED_KEY


def ensure_self_signed(cert_path: Path, key_path: Path, hostname: str) -> bool:
    """Create a self-signed ECDSA pair if none exists yet; True when one was made."""
    if cert_path.exists() and key_path.exists():
        return False
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [
        x509.DNSName(hostname), x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.warning("generated a self-signed certificate for %s in %s; clients will warn about it "
                "until you configure [tls] cert_file and key_file", hostname, cert_path)
    return True


def new_server_context() -> ssl.SSLContext:
    """A server context with TLS 1.2+ and the intermediate cipher list, no certificate yet."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= ssl.OP_NO_RENEGOTIATION
    return context


def load_certificate(context: ssl.SSLContext, config: Config) -> None:
    """(Re)load the certificate pair into ``context``; errors name the config key and fix."""
    cert_path, key_path = certificate_paths(config)
    if not config.tls.cert_file:
        ensure_self_signed(cert_path, key_path, config.server.hostname)
    try:
        context.load_cert_chain(str(cert_path), str(key_path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            config.source, "tls.cert_file",
            f"cannot load certificate {cert_path} with key {key_path}: {exc}",
            "point cert_file and key_file at a matching PEM certificate chain and key",
        ) from None


def server_context(config: Config) -> ssl.SSLContext:
    context = new_server_context()
    load_certificate(context, config)
    return context
