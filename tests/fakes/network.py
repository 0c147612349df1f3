"""Real network pieces for tests: a private CA with server and client certificates, TLS servers
that demand a client certificate, and a real forward proxy (tinyproxy, from Debian).

Everything binds loopback; the certificates are generated per test session (the `cryptography`
package) and never leave the temporary directory they are written to.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class PKI:
    """A private CA and what it signed, as PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a second CA that signed nothing here (an untrusted client certificate's issuer)
    stranger_cert: Path  # a client certificate signed by `other_ca`
    stranger_key: Path
    wrong_name_cert: Path  # signed by `ca`, valid only for wrong.example (a host name mismatch)
    wrong_name_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cn: str, names: list[x509.GeneralName],
          usage: x509.ObjectIdentifier) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(root: Path) -> PKI:
    root.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("turnout test CA")
    other, other_key = _ca("some other CA")
    loopback: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                        x509.IPAddress(ipaddress.ip_address("::1"))]
    server, server_key = _leaf(ca, ca_key, "localhost", loopback, ExtendedKeyUsageOID.SERVER_AUTH)
    client, client_key = _leaf(ca, ca_key, "turnout", [], ExtendedKeyUsageOID.CLIENT_AUTH)
    stranger, stranger_key = _leaf(other, other_key, "stranger", [], ExtendedKeyUsageOID.CLIENT_AUTH)
    wrong, wrong_key = _leaf(ca, ca_key, "wrong.example", [x509.DNSName("wrong.example")], ExtendedKeyUsageOID.SERVER_AUTH)
    pem = serialization.Encoding.PEM
    paths = PKI(*(root / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key", "other-ca.pem",
                                     "stranger.pem", "stranger.key", "wrong.pem", "wrong.key")))
    paths.ca.write_bytes(ca.public_bytes(pem))
    paths.other_ca.write_bytes(other.public_bytes(pem))
    for cert, key, cpath, kpath in ((server, server_key, paths.server_cert, paths.server_key),
                                    (client, client_key, paths.client_cert, paths.client_key),
                                    (stranger, stranger_key, paths.stranger_cert, paths.stranger_key),
                                    (wrong, wrong_key, paths.wrong_name_cert, paths.wrong_name_key)):
        cpath.write_bytes(cert.public_bytes(pem))
        _write_key(key, kpath)
    return paths


def server_context(pki: PKI, *, require_client_cert: bool, wrong_name: bool = False) -> ssl.SSLContext:
    """A TLS server's context: the CA-signed certificate; with `require_client_cert`, mutual TLS."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if wrong_name:
        ctx.load_cert_chain(pki.wrong_name_cert, pki.wrong_name_key)
    else:
        ctx.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=pki.ca)
    return ctx


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Tinyproxy:
    url: str  # http://user:password@127.0.0.1:PORT
    port: int
    user: str
    password: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""


TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"


@contextmanager
def tinyproxy(*, user: str = "turnout", password: str = "s3cret-proxy-pass") -> Iterator[Tinyproxy]:
    """A real tinyproxy (Debian's; scripts/test.sh installs it) on a free loopback port, with
    Basic credentials and its own log at Connect level (each CONNECT tunnel is logged)."""
    # tinyproxy drops to nobody before it opens its log: a directory nobody can reach (pytest's
    # tmp_path sits under a 0700 directory) would leave it without one.
    root = Path(tempfile.mkdtemp(prefix="turnout-tinyproxy-"))
    root.chmod(0o777)
    port = free_port()
    log = root / "tinyproxy.log"
    conf = root / "tinyproxy.conf"
    conf.write_text(
        f"User nobody\nGroup nogroup\nPort {port}\nListen 127.0.0.1\nBind 127.0.0.1\nTimeout 60\n"
        f"LogFile \"{log}\"\nLogLevel Connect\nMaxClients 200\nAllow 127.0.0.1\n"
        f"BasicAuth {user} {password}\nDisableViaHeader Yes\n"
    )
    proc = subprocess.Popen([TINYPROXY, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"tinyproxy exited: {proc.stderr.read().decode() if proc.stderr else ''}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("tinyproxy did not start") from None
                time.sleep(0.05)
        yield Tinyproxy(f"http://{user}:{password}@127.0.0.1:{port}", port, user, password, log)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(root, ignore_errors=True)
