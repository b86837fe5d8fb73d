"""berthd as a process: configuration, TLS, restarts and graceful stops."""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import BERTHD, Berthd, push_blob, push_image, remove_manifest_row, sha256_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def run_berthd(*args, env=None, timeout=10):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BERTH_")}
    environment.update(env or {})
    return subprocess.run([str(BERTHD), *args], capture_output=True, text=True, env=environment, timeout=timeout)


class TlsBerthd(Berthd):
    """berthd serving HTTPS with a self-signed certificate for 127.0.0.1.
    request() and the harness's helpers talk HTTPS to it."""

    def __init__(self, data_dir, certificate, key):
        super().__init__(data_dir)
        self.certificate = certificate
        self.context = ssl.create_default_context(cafile=str(certificate))
        self.env = {"BERTH_TLS_CERTIFICATE": str(certificate), "BERTH_TLS_KEY": str(key)}

    def open_connection(self, timeout):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)


class ServerProcessTest(unittest.TestCase):
    def setUp(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="berth-server-"))

    def tearDown(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- Configuration ----------------------------------------------------

    def test_unknown_yaml_key_names_the_key(self):
        config = self.workdir / "berthd.yml"
        config.write_text("listen: 127.0.0.1:0\nlog:\n  levle: debug\n")
        result = run_berthd("--config", str(config), "--data", str(self.workdir / "data"))
        self.assertEqual(result.returncode, 2, result)
        self.assertIn('unknown configuration key "log.levle"', result.stderr)
        self.assertFalse((self.workdir / "data").exists(), "a failed start must not create the data directory")

    def test_unknown_environment_variable_names_it(self):
        result = run_berthd("--data", str(self.workdir / "data"), env={"BERTH_LISTEN_ADRESS": "x"})
        self.assertEqual(result.returncode, 2, result)
        self.assertIn("BERTH_LISTEN_ADRESS", result.stderr)

    def test_malformed_values_rejected(self):
        config = self.workdir / "berthd.yml"
        config.write_text("http:\n  max_connections: many\n")
        result = run_berthd("--config", str(config))
        self.assertEqual(result.returncode, 2, result)
        self.assertIn("http.max_connections", result.stderr)
        result = run_berthd("--log-level", "loud")
        self.assertEqual(result.returncode, 2, result)
        self.assertIn("loud", result.stderr)

    def test_file_then_environment_then_flags(self):
        config = self.workdir / "berthd.yml"
        config.write_text(f"listen: 127.0.0.1:1\ndata_dir: {self.workdir / 'from-file'}\nlog:\n  level: warn\n")
        server = Berthd(self.workdir / "from-flag", args=["--config", str(config)],
                        env={"BERTH_LISTEN": "127.0.0.1:0", "BERTH_LOG_LEVEL": "info"})
        server.start()
        try:
            self.assertEqual(server.request("GET", "/v2/").status, 200)
            push_blob(server, "config/test", b"data")
        finally:
            server.stop()
        # --data (a flag) beats data_dir from the file; BERTH_LISTEN beat the file's port 1.
        self.assertTrue((self.workdir / "from-flag" / "berth.db").exists())
        self.assertFalse((self.workdir / "from-file").exists())
        self.assertIn("berthd_started", server.log_text(), "BERTH_LOG_LEVEL=info overrides the file's warn")

    def test_access_log_line_per_request(self):
        server = Berthd(self.workdir / "data").start()
        try:
            # The namespace exists, so the last request gets 404 rather than 403 DENIED.
            server.create_namespace("missing")
            server.request("GET", "/v2/")
            server.request("GET", "/v2/missing/tags/list")
        finally:
            server.stop()
        # The harness's readiness probe and create_namespace made the first requests.
        access = [line for line in server.log_text().splitlines() if " access " in line][-2:]
        self.assertIn("method=GET target=/v2/ status=200", access[0])
        self.assertIn("method=GET target=/v2/missing/tags/list status=404", access[1])
        self.assertIn("request_id=", access[1])

    def test_second_server_on_same_data_refused(self):
        first = Berthd(self.workdir / "data").start()
        try:
            result = run_berthd("--listen", "127.0.0.1:0", "--data", str(self.workdir / "data"))
            self.assertEqual(result.returncode, 1, result)
            self.assertIn("another berthd is using the data directory", result.stderr)
        finally:
            first.stop()

    def test_listen_port_out_of_range(self):
        for address in ["127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:", "127.0.0.1"]:
            with self.subTest(address=address):
                result = run_berthd("--listen", address, "--data", str(self.workdir / "data"))
                self.assertEqual(result.returncode, 1, result)
                self.assertIn(address, result.stderr)

    def test_verify_rejects_directory_without_store(self):
        missing = self.workdir / "typo"
        result = run_berthd("admin", "verify", "--data", str(missing))
        self.assertEqual(result.returncode, 1, result)
        self.assertIn("is not a Berth data directory", result.stdout)
        self.assertFalse(missing.exists(), "verify must not create a store")

    def test_verify_reports_index_missing_a_child(self):
        server = Berthd(self.workdir / "data").start()
        try:
            children = []
            for architecture in ("amd64", "arm64"):
                config = json.dumps({"architecture": architecture, "os": "linux"}).encode()
                manifest, digest = push_image(server, "verify/multi", architecture, architecture.encode(), config)
                children.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest),
                                 "platform": {"architecture": architecture, "os": "linux"}})
            index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()
            pushed = server.request("PUT", "/v2/verify/multi/manifests/latest", body=index,
                                    headers={"Content-Type": OCI_INDEX})
            self.assertEqual(pushed.status, 201, pushed)
            # A copy of the child in another repository does not mend the index.
            arm64 = children[1]["digest"]
            tagged = server.request("POST", "/api/v1/images/tags?fromimage=verify/multi@" + arm64 +
                                    "&toimage=verify/other:arm64")
            self.assertEqual(tagged.status, 201, tagged)
            clean = server.admin("verify")
            self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)

            # The registry refuses to break the index, so the damage is made
            # in the database.
            refused = server.request("DELETE", f"/v2/verify/multi/manifests/{arm64}")
            self.assertEqual(refused.status, 409, refused)
        finally:
            server.stop()
        remove_manifest_row(self.workdir / "data", "verify/multi", arm64)
        result = server.admin("verify")

        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"error: index verify/multi@{sha256_digest(index)} references manifest {arm64}, "
                      "which is missing from verify/multi", result.stdout)
        self.assertIn("store has 1 error", result.stdout)
        self.assertNotIn("store is clean", result.stdout)

    def test_listen_address_in_use(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = run_berthd("--listen", f"127.0.0.1:{port}", "--data", str(self.workdir / "data"))
        self.assertEqual(result.returncode, 1, result)
        self.assertIn(f"cannot listen on 127.0.0.1:{port}", result.stderr)

    # --- TLS ---------------------------------------------------------------

    def test_tls(self):
        certificate = self.workdir / "server.crt"
        key = self.workdir / "server.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(certificate), "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        server = TlsBerthd(self.workdir / "data", certificate, key).start()
        try:
            response = server.request("GET", "/v2/")
            self.assertEqual((response.status, response.body), (200, b"{}"))
            # The token realm that clients follow is on HTTPS as well.
            anonymous = server.request("GET", "/v2/", auth=False)
            self.assertEqual(anonymous.status, 401, anonymous)
            self.assertIn(f'realm="https://{server.address}/oauth/token"', anonymous.header("WWW-Authenticate"))
            # Plain HTTP on the TLS port fails instead of hanging.
            with self.assertRaises((OSError, http.client.HTTPException)):
                plain = http.client.HTTPConnection(server.host, server.port, timeout=5)
                plain.request("GET", "/v2/")
                plain.getresponse().read()
            # skopeo pushes over TLS when it trusts the certificate.
            certs = self.workdir / "certs.d"
            certs.mkdir()
            shutil.copy(certificate, certs / "ca.crt")
            layout = self.workdir / "layout"
            self.make_layout(layout)
            server.create_namespace("tls-test")
            result = subprocess.run(["skopeo", "copy", "-q", "--dest-cert-dir", str(certs),
                                     "--dest-creds", f"iamapikey:{server.api_key}", f"oci:{layout}:v1",
                                     f"docker://{server.address}/tls-test/image:v1"], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)
            response = server.request("GET", "/v2/tls-test/image/manifests/v1")
            self.assertEqual(response.status, 200, response)
        finally:
            server.stop()

    def make_layout(self, layout):
        subprocess.run(["umoci", "init", "--layout", str(layout)], check=True)
        subprocess.run(["umoci", "new", "--image", f"{layout}:v1"], check=True)

    # --- First start ---------------------------------------------------------

    def test_first_start_prints_and_saves_api_key(self):
        key_file = self.workdir / "data" / "initial-apikey"
        server = Berthd(self.workdir / "data").start()
        try:
            api_key = key_file.read_text().strip()
            self.assertTrue(api_key, f"{key_file} is empty")
            self.assertEqual(stat.S_IMODE(key_file.stat().st_mode), 0o600)
            self.assertIn(api_key, server.startup_output)
            response = server.request("GET", "/v2/", headers={"Authorization": server.basic_auth(api_key)})
            self.assertEqual(response.status, 200, response)
        finally:
            server.stop()
        self.assertNotIn(api_key, server.log_text(), "the API key must not be logged")

        server = Berthd(self.workdir / "data").start()
        try:
            self.assertEqual(server.startup_output, "", "a second start must not print an API key")
            self.assertEqual(key_file.read_text().strip(), api_key)
            self.assertEqual(server.request("GET", "/v2/").status, 200)
        finally:
            server.stop()
        self.assertNotIn(api_key, server.log_text(), "the API key must not be logged")

    # --- Restarts and stops ------------------------------------------------

    def test_upload_survives_restart(self):
        server = Berthd(self.workdir / "data").start()
        data = os.urandom(3 * 1024 * 1024)
        location = server.request("POST", "/v2/restart/blob/blobs/uploads/").header("Location")
        self.assertEqual(server.request("PATCH", location, body=data[:1_000_000]).status, 202)
        self.assertEqual(server.stop(), 0)

        server = Berthd(self.workdir / "data").start()
        try:
            status = server.request("GET", location)
            self.assertEqual(status.header("Range"), "0-999999")
            self.assertEqual(server.request("PATCH", location, body=data[1_000_000:],
                                            headers={"Content-Range": f"1000000-{len(data) - 1}"}).status, 202)
            digest = sha256_digest(data)
            self.assertEqual(server.request("PUT", f"{location}?digest={digest}").status, 201)
            self.assertEqual(server.request("GET", f"/v2/restart/blob/blobs/{digest}").body, data)
        finally:
            server.stop()

    def test_sigterm_lets_request_in_progress_finish(self):
        server = Berthd(self.workdir / "data").start()
        data = os.urandom(2 * 1024 * 1024)
        location = server.request("POST", "/v2/graceful/blob/blobs/uploads/").header("Location")

        busy = socket.create_connection((server.host, server.port), timeout=30)
        busy.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: {server.basic_auth()}\r\n"
                     f"Content-Length: {len(data)}\r\n\r\n".encode())
        busy.sendall(data[:1024 * 1024])
        idle = http.client.HTTPConnection(server.host, server.port, timeout=30)
        idle.request("GET", "/v2/", headers={"Authorization": server.basic_auth()})
        idle_response = idle.getresponse()
        idle_response.read()
        self.assertEqual(idle_response.status, 200)
        time.sleep(0.2)

        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((server.host, server.port), timeout=5).close()
        # The idle keep-alive connection was closed at once.
        with self.assertRaises((http.client.HTTPException, OSError)):
            idle.request("GET", "/v2/")
            idle.getresponse().read()

        busy.sendall(data[1024 * 1024:])
        reply = busy.recv(65536).decode()
        busy.close()
        self.assertTrue(reply.startswith("HTTP/1.1 202"), reply)
        self.assertIn("Connection: close", reply)
        self.assertEqual(server.stop(), 0)

        server = Berthd(self.workdir / "data").start()
        try:
            self.assertEqual(server.request("GET", location).header("Range"), f"0-{len(data) - 1}")
        finally:
            server.stop()

    def test_sigterm_cuts_stalled_request_after_grace(self):
        config = self.workdir / "berthd.yml"
        config.write_text("http:\n  shutdown_grace_seconds: 1\n")
        server = Berthd(self.workdir / "data", args=["--config", str(config)]).start()
        location = server.request("POST", "/v2/graceful/stalled/blobs/uploads/").header("Location")
        stalled = socket.create_connection((server.host, server.port), timeout=30)
        stalled.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: {server.basic_auth()}\r\n"
                        f"Content-Length: 1000000\r\n\r\n".encode() + b"x" * 1000)
        time.sleep(0.2)

        started = time.monotonic()
        self.assertEqual(server.stop(timeout=20), 0)
        self.assertLess(time.monotonic() - started, 10)
        stalled.close()
        result = Berthd(self.workdir / "data").admin("verify")
        self.assertIn("store is clean", result.stdout, result.stdout + result.stderr)

    def test_restart_keeps_images(self):
        server = Berthd(self.workdir / "data").start()
        manifest, digest = push_image(server, "restart/image", "v1")
        self.assertEqual(server.stop(), 0)
        server = Berthd(self.workdir / "data").start()
        try:
            response = server.request("GET", "/v2/restart/image/manifests/v1")
            self.assertEqual(response.body, manifest)
            self.assertEqual(response.header("Docker-Content-Digest"), digest)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
