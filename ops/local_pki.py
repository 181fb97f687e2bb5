"""A throwaway PKI (root, intermediate, PayPal-like leaf) built with `cryptography`, so
PayPal verification can run with no network: the tests, and `payments bench ingress`.

Trust the root through `PAYPAL_CERT_DIR`, pre-seed the certificate cache with
`chain_pem()`, and sign with `paypal_headers`.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Store

from ingress.paypal_signature import AUTH_ALGO, DEFAULT_CERT_COMMON_NAME, signed_message

DAY = timedelta(days=1)


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

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def chain_pem(self) -> bytes:
        """What PayPal serves at the certificate URL: the leaf, then the intermediate."""
        certificates = (self.leaf, self.intermediate)
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)

    def sign(self, message: str) -> str:
        return sign(self.leaf_key, message.encode())


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """A base64 SHA256withRSA signature, as in `PAYPAL-TRANSMISSION-SIG`."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def paypal_headers(
    key: rsa.RSAPrivateKey,
    body: bytes,
    webhook_id: str,
    transmission_id: str,
    sent_at: datetime,
    cert_url: str,
) -> dict[str, str]:
    """The PAYPAL-* headers PayPal would send with `body`, signed with `key`."""
    sent = sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": sent,
        "PAYPAL-TRANSMISSION-SIG": sign(
            key, signed_message(body, transmission_id, sent, webhook_id)
        ),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": AUTH_ALGO,
    }


def issue(
    common_name: str,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    is_ca: bool,
    not_before: datetime,
    not_after: datetime,
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
    now: datetime,
    *,
    root_role: str = "root",
    leaf_common_name: str = DEFAULT_CERT_COMMON_NAME,
    leaf_not_before: datetime | None = None,
    leaf_not_after: datetime | None = None,
) -> Pki:
    """A chain valid around `now`; the leaf's dates may be overridden."""
    not_before, not_after = now - 30 * DAY, now + 365 * DAY
    root_key, intermediate_key, leaf_key = rsa_key(root_role), rsa_key("ca"), rsa_key("leaf")
    root = issue(
        f"Test Root {root_role}",
        root_key,
        None,
        is_ca=True,
        not_before=not_before,
        not_after=not_after,
    )
    intermediate = issue(
        "Test Intermediate",
        intermediate_key,
        (root, root_key),
        is_ca=True,
        not_before=not_before,
        not_after=not_after,
    )
    leaf = issue(
        leaf_common_name,
        leaf_key,
        (intermediate, intermediate_key),
        is_ca=False,
        not_before=leaf_not_before or not_before,
        not_after=leaf_not_after or not_after,
    )
    return Pki(root, intermediate, leaf, leaf_key)
