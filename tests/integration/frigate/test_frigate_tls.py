"""Frigate over HTTPS, as its docker-compose publishes port 8971: nginx with a certificate it
generates itself, which no CA signed. The README tells admins `tls_verify: false`; these tests
hold the three ways through (off, ca_file, refused with the keys named) against a real TLS
server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gunwatch.integrations.frigate.api import FrigateApi, FrigateTlsError
from gunwatch.integrations.frigate.config import FrigateAuthConfig

from ...conftest import need
from ...support.fake_frigate import FakeFrigate
from .test_frigate_as_run import doctor_on


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl as nginx setups make theirs."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=frigate", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    except FileNotFoundError:
        need(False, "openssl is not installed (apt-get install openssl)")
    return cert, key


def login() -> FrigateAuthConfig:
    return FrigateAuthConfig(user="admin", password="correct horse")


def test_an_untrusted_certificate_is_refused_with_the_keys_to_set(certificate):
    with FakeFrigate(auth=True, tls=certificate) as frigate:
        assert frigate.url.startswith("https://")
        with pytest.raises(FrigateTlsError) as refused:
            FrigateApi(frigate.url, login(), timeout_s=5, tls_verify=True).version()
        assert frigate.logins == 0   # the password never left over an untrusted connection
    message = str(refused.value)
    assert "certificate is not trusted" in message
    assert "tls_verify: false" in message and "ca_file" in message


@pytest.mark.parametrize("trust", ["tls_verify false", "ca_file"])
def test_logs_in_and_reads_over_https(certificate, trust, monkeypatch):
    cert, _ = certificate
    # Hosts often set this (this project's machines do); a requests Session's own `verify`
    # loses to it, which once made tls_verify: false and ca_file do nothing.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    verify = False if trust == "tls_verify false" else str(cert)
    with FakeFrigate(version="0.15.2", auth=True, tls=certificate) as frigate:
        api = FrigateApi(frigate.url, login(), timeout_s=5, tls_verify=verify)
        assert api.version() == (0, 15)
        assert frigate.logins == 1


def test_doctor_names_tls_verify_for_frigates_own_certificate(tmp_path, certificate):
    with FakeFrigate(auth=True, tls=certificate) as frigate:
        api = doctor_on(tmp_path, frigate)["sources.0 (frigate)"][0]
    assert api.state == "FAIL" and "certificate is not trusted" in api.detail, api
    assert "tls_verify: false in sources.0 (frigate)" in api.fix and "ca_file" in api.fix
