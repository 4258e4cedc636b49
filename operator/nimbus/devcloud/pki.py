"""The local control plane's certificates: one CA, the apiserver's serving cert, an admin client."""

from __future__ import annotations

import datetime
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=365)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class CertificateAuthority:
    """A self-signed CA that issues the serving and client certificates of one dev cloud."""

    def __init__(
        self, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, cert: x509.Certificate
    ) -> None:
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, common_name: str, *, rsa_key: bool = False) -> CertificateAuthority:
        """A new CA, with an ECDSA key (or an RSA one, for a signer that takes only RSA)."""
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if rsa_key
            else ec.generate_private_key(ec.SECP256R1())
        )
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(
        self,
        common_name: str,
        *,
        organization: str | None = None,
        server_names: tuple[str, ...] = (),
        server_ips: tuple[str, ...] = (),
    ) -> tuple[bytes, bytes]:
        """A certificate and key (PEM) for a server (with names) or a client (without)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        server = bool(server_names or server_ips)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organization))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names]
            alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _pem_cert(cert), _pem_key(key)

    @property
    def cert_pem(self) -> bytes:
        return _pem_cert(self.cert)


def write_control_plane_pki(directory: pathlib.Path) -> None:
    """Write ca.crt, apiserver.crt/key, admin.crt/key and the service-account key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create("nimbus-devcloud-ca")
    files = {"ca.crt": ca.cert_pem, "ca.key": _pem_key(ca.key)}
    files["apiserver.crt"], files["apiserver.key"] = ca.issue(
        "kube-apiserver",
        server_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
        server_ips=("127.0.0.1",),
    )
    files["admin.crt"], files["admin.key"] = ca.issue("nimbus-admin", organization="system:masters")
    service_accounts = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files["sa.key"] = _pem_key(service_accounts)
    files["sa.pub"] = service_accounts.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write(directory, files)


def write_webhook_pki(directory: pathlib.Path, host: str = "127.0.0.1") -> None:
    """The admission webhook's own self-signed CA (ca.crt) and serving certificate (tls.crt,
    tls.key) for `host`, once: what cert-manager or the chart makes in a cluster."""
    write_serving_pki(directory, "nimbus-webhook", ("localhost",), (host,))


def write_serving_pki(
    directory: pathlib.Path, name: str, server_names: tuple[str, ...], server_ips: tuple[str, ...]
) -> None:
    """A server's own self-signed CA (ca.crt) and serving certificate (tls.crt, tls.key) for
    `server_names` and `server_ips`, once."""
    if (directory / "tls.crt").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create(f"{name}-ca")
    cert, key = ca.issue(name, server_names=server_names, server_ips=server_ips)
    _write(directory, {"ca.crt": ca.cert_pem, "tls.crt": cert, "tls.key": key})


# The name the API server's front-proxy client certificate carries: what an aggregated API
# server accepts requests from (kube-apiserver's --requestheader-allowed-names).
FRONT_PROXY_CLIENT = "front-proxy-client"


def write_front_proxy_pki(directory: pathlib.Path) -> None:
    """The aggregation layer's CA and the API server's client certificate under it, once:
    front-proxy-ca.crt, front-proxy-client.crt and .key (as kubeadm names them). The API server
    presents the certificate when it proxies a request to an aggregated API (KubeVirt's
    subresources), which trusts the CA and reads the user from the request's headers."""
    if (directory / "front-proxy-client.crt").exists():
        return
    ca = CertificateAuthority.create("front-proxy-ca")
    cert, key = ca.issue(FRONT_PROXY_CLIENT)
    _write(directory, {"front-proxy-ca.crt": ca.cert_pem, "front-proxy-client.crt": cert,
                       "front-proxy-client.key": key})  # fmt: skip


# The names KubeVirt's components prove themselves by to each other, under KubeVirt's own CA
# (what virt-operator writes to the kubevirt-ca ConfigMap): virt-api calls virt-handler with
# the client one, and checks that the handler serves the node one (pkg/util/tls).
VIRT_HANDLER_SERVER = "kubevirt.io:system:node:virt-handler"
VIRT_HANDLER_CLIENT = "kubevirt.io:system:client:virt-handler"


def write_kubevirt_pki(directory: pathlib.Path) -> None:
    """KubeVirt's CA (ca.crt), the simulated virt-handler's serving certificate on 127.0.0.1
    (handler.crt, .key) and virt-api's client certificate for calling it (client.crt, .key),
    once."""
    if (directory / "client.crt").exists():
        return
    ca = CertificateAuthority.create("kubevirt.io")
    files = {"ca.crt": ca.cert_pem}
    files["handler.crt"], files["handler.key"] = ca.issue(
        VIRT_HANDLER_SERVER, server_names=("virt-handler", "localhost"), server_ips=("127.0.0.1",)
    )
    files["client.crt"], files["client.key"] = ca.issue(VIRT_HANDLER_CLIENT)
    _write(directory, files)


def write_cdi_pki(directory: pathlib.Path) -> None:
    """The two CAs cdi-controller signs its upload servers' certificates and their clients'
    with (what cdi-operator keeps in Secrets; RSA, as CDI reads only RSA signer keys), once:
    uploadserver-signer.crt/.key and uploadserver-client-signer.crt/.key."""
    if (directory / "uploadserver-client-signer.crt").exists():
        return
    files = {}
    for name in ("uploadserver-signer", "uploadserver-client-signer"):
        ca = CertificateAuthority.create(f"cdi-{name}", rsa_key=True)
        files[f"{name}.crt"], files[f"{name}.key"] = ca.cert_pem, _pem_key(ca.key)
    _write(directory, files)


def _write(directory: pathlib.Path, files: dict[str, bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        path.write_bytes(content)
        path.chmod(0o600)
