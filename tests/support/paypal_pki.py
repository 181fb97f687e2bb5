"""A throwaway PKI (root, intermediate, PayPal-like leaf) built with `cryptography`, for
the PayPal verification tests: nothing here touches the network."""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Store

from ingress.paypal_signature import DEFAULT_CERT_COMMON_NAME

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"


@functools.cache
def rsa_key(role: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per role (web PKI minimum), generated once: keygen is slow."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Pki:
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: rsa.RSAPrivateKey

    @property
    def store(self) -> Store:
        return Store([self.root])

    def chain_pem(self) -> bytes:
        """What PayPal serves at the certificate URL: the leaf, then the intermediate."""
        certificates = (self.leaf, self.intermediate)
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)

    def sign(self, message: str) -> str:
        signature = self.leaf_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def issue(
    common_name: str,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    is_ca: bool,
    not_before: datetime = NOW - 30 * DAY,
    not_after: datetime = NOW + 365 * DAY,
) -> x509.Certificate:
    """A certificate with the extensions web PKI verification insists on."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name, signing_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
        .add_extension(usage(is_ca), critical=True)
    )
    if not is_ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def usage(is_ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not is_ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


def build_pki(
    *,
    root_role: str = "root",
    leaf_common_name: str = DEFAULT_CERT_COMMON_NAME,
    leaf_not_before: datetime = NOW - 30 * DAY,
    leaf_not_after: datetime = NOW + 365 * DAY,
) -> Pki:
    root_key, intermediate_key, leaf_key = rsa_key(root_role), rsa_key("ca"), rsa_key("leaf")
    root = issue(f"Test Root {root_role}", root_key, None, is_ca=True)
    intermediate = issue("Test Intermediate", intermediate_key, (root, root_key), is_ca=True)
    leaf = issue(
        leaf_common_name,
        leaf_key,
        (intermediate, intermediate_key),
        is_ca=False,
        not_before=leaf_not_before,
        not_after=leaf_not_after,
    )
    return Pki(root, intermediate, leaf, leaf_key)
