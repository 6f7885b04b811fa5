"""Certificates from a CA (issue 18): a signing request made by the server
(cert-request: the key never leaves it), the CA's certificate installed
alone (cert-upload without a key), and `emberctl cert-install HOST CERT
[KEY]` for certbot's deploy hook, which reads the files itself."""

import os
import stat
import subprocess

from test_admin_cmds import certs_of, client, err, ok, served_sha256
from test_s2s import make_ca


def tls_dir(server):
    return os.path.join(str(server.config_path.parent), "data", "tls")


def sign(tmp_path, ca, csr_pem, days=30):
    """What a CA does with the request: keep its names, sign it."""
    ca_crt, ca_key = ca
    csr = tmp_path / "req.csr"
    csr.write_text(csr_pem)
    out = tmp_path / "signed.pem"
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA",
                    str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
                    "-days", str(days), "-copy_extensions", "copy",
                    "-out", str(out)], check=True, capture_output=True)
    return out.read_text()


def test_request_then_the_cas_certificate_alone(server, passwords,
                                                tmp_path):
    res = ok(server, "cert-request", "--host=localhost",
             "--names=conference.localhost, upload.localhost")
    assert res["names"] == ["localhost", "conference.localhost",
                            "upload.localhost"]
    csr = res["csr"]
    assert csr.startswith("-----BEGIN NEW CERTIFICATE REQUEST-----") or \
        csr.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    text = subprocess.run(["openssl", "req", "-noout", "-text", "-verify"],
                          input=csr, capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    assert "CN = localhost" in text.stdout
    for n in res["names"]:
        assert "DNS:" + n in text.stdout
    pending = os.path.join(tls_dir(server), "localhost.request.key")
    assert stat.S_IMODE(os.stat(pending).st_mode) == 0o600
    assert "PRIVATE KEY" not in str(res)

    ca = make_ca(tmp_path)
    signed = sign(tmp_path, ca, csr)
    res = ok(server, "cert-upload", "--host=localhost", "--cert=" + signed)
    assert res["ok"] is True and res["reload"] == "ok"
    assert not os.path.exists(pending)
    entry, = certs_of(server, "localhost")
    assert entry["issuer"] != entry["subject"]
    assert "conference.localhost" in entry["names"]
    assert served_sha256(server) == entry["sha256"]
    c = client(server, passwords)
    c.sync()
    c.close()


def test_certificate_alone_needs_a_pending_request(server):
    e, msg = err(server, "cert-upload", "--host=localhost",
                 "--cert=-----BEGIN CERTIFICATE-----")
    assert e == "EINVAL" and "no signing request waits" in msg


def test_a_certificate_for_another_key_is_refused(server, tmp_path):
    ok(server, "cert-request", "--host=localhost")
    # A certificate for a key the request did not make.
    key = tmp_path / "other.key"
    crt = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    e, msg = err(server, "cert-upload", "--host=localhost",
                 "--cert=" + crt.read_text())
    assert e == "EINVAL" and "pending signing request" in msg
    assert os.path.exists(os.path.join(tls_dir(server),
                                       "localhost.request.key"))


def test_names_must_be_the_host_or_under_it(server):
    e, msg = err(server, "cert-request", "--host=localhost",
                 "--names=evil.example")
    assert e == "EINVAL" and "'evil.example' is not localhost" in msg
    e, _ = err(server, "cert-request", "--host=nowhere.example")
    assert e == "EINVAL"


def test_cert_install_reads_the_files_as_certbots_hook_would(
        server, passwords, tmp_path):
    """certbot's deploy hook: emberctl cert-install HOST fullchain privkey
    (RENEWED_LINEAGE's files), then the next connection gets the new
    certificate."""
    live = tmp_path / "live" / "localhost"
    live.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    str(live / "privkey.pem"), "-out",
                    str(live / "fullchain.pem"), "-days", "90", "-subj",
                    "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    r = server.ctl("cert-install", "localhost", live / "fullchain.pem",
                   live / "privkey.pem")
    assert r.returncode == 0, r.stdout + r.stderr
    entry, = certs_of(server, "localhost")
    assert served_sha256(server) == entry["sha256"]
    audit = server.ctl_ok("--json", "audit", "--action=cert-upload").stdout
    assert "(secret)" in audit and "PRIVATE KEY" not in audit
    r = server.ctl("cert-install", "localhost", tmp_path / "missing.pem")
    assert r.returncode == 1 and "missing.pem" in r.stderr
    c = client(server, passwords)
    c.sync()
    c.close()
