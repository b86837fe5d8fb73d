"""kill -9 in the middle of uploads and manifest pushes: after a restart no
partial blob or manifest is visible, `berthd admin verify` finds the store
clean, and the upload continues or restarts to success."""

import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
import unittest
from pathlib import Path

from harness import Berthd, image_manifest, push_blob, sha256_digest

MIB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def open_request(server, method, path, length, headers=None):
    """Opens a connection and sends a request head, with the server's API key,
    announcing `length` body bytes."""
    connection = socket.create_connection((server.host, server.port), timeout=60)
    head = (f"{method} {path} HTTP/1.1\r\nHost: {server.address}\r\nAuthorization: {server.basic_auth()}\r\n"
            f"Content-Length: {length}\r\n")
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    connection.sendall((head + "\r\n").encode())
    return connection


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="berth-crash-"))
        self.berthd = Berthd(self.workdir / "data").start()

    def tearDown(self):
        self.berthd.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def restart_after_kill(self):
        self.assertEqual(self.berthd.kill(), -9)
        self.berthd = Berthd(self.workdir / "data").start()

    def assert_store_clean(self):
        result = self.berthd.admin("verify", "--deep")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("store is clean", result.stdout)

    def test_kill_during_chunked_upload_of_200_mib(self):
        data = os.urandom(200 * MIB)
        digest = sha256_digest(data)
        chunk = 16 * MIB
        location = self.berthd.request("POST", "/v2/crash/big/blobs/uploads/").header("Location")

        # Four chunks arrive whole; the fifth is cut off by the kill.
        offset = 0
        for _ in range(4):
            response = self.berthd.request("PATCH", location, body=data[offset:offset + chunk],
                                           headers={"Content-Range": f"{offset}-{offset + chunk - 1}"})
            self.assertEqual(response.status, 202, response)
            offset += chunk
        connection = open_request(self.berthd, "PATCH", location, chunk,
                                  {"Content-Range": f"{offset}-{offset + chunk - 1}"})
        connection.sendall(data[offset:offset + chunk // 2])
        time.sleep(0.3)
        self.restart_after_kill()
        connection.close()

        self.assertEqual(self.berthd.request("HEAD", f"/v2/crash/big/blobs/{digest}").status, 404)
        self.assert_store_clean()

        # The session remembers the four whole chunks and goes on from there.
        status = self.berthd.request("GET", location)
        self.assertEqual(status.status, 204, status)
        self.assertEqual(status.header("Range"), f"0-{offset - 1}")
        while offset < len(data):
            end = min(offset + chunk, len(data))
            response = self.berthd.request("PATCH", location, body=data[offset:end],
                                           headers={"Content-Range": f"{offset}-{end - 1}"})
            self.assertEqual(response.status, 202, response)
            offset = end
        response = self.berthd.request("PUT", f"{location}?digest={digest}")
        self.assertEqual(response.status, 201, response)

        pulled = self.berthd.request("GET", f"/v2/crash/big/blobs/{digest}")
        self.assertEqual(hashlib.sha256(pulled.body).hexdigest(), digest.split(":")[1])
        self.assert_store_clean()

    def test_kill_during_streamed_upload_then_restart(self):
        data = os.urandom(64 * MIB)
        digest = sha256_digest(data)
        location = self.berthd.request("POST", "/v2/crash/stream/blobs/uploads/").header("Location")
        connection = open_request(self.berthd, "PATCH", location, len(data))
        connection.sendall(data[:40 * MIB])
        time.sleep(0.3)
        self.restart_after_kill()
        connection.close()

        self.assertEqual(self.berthd.request("HEAD", f"/v2/crash/stream/blobs/{digest}").status, 404)
        self.assert_store_clean()
        # A client that gives up on the old session starts over.
        self.assertEqual(push_blob(self.berthd, "crash/stream", data), digest)
        self.assertEqual(self.berthd.request("HEAD", f"/v2/crash/stream/blobs/{digest}").header("Content-Length"),
                         str(len(data)))
        self.assert_store_clean()

    def test_kill_during_manifest_put(self):
        config = push_blob(self.berthd, "crash/manifest", b"{}")
        layer = push_blob(self.berthd, "crash/manifest", os.urandom(1000))
        padding = "p" * (3 * MIB)
        body = image_manifest(config, 2, [(layer, 1000)], extra={"annotations": {"padding": padding}})
        connection = open_request(self.berthd, "PUT", "/v2/crash/manifest/manifests/v1", len(body),
                                  {"Content-Type": OCI_MANIFEST})
        connection.sendall(body[:len(body) // 2])
        time.sleep(0.3)
        self.restart_after_kill()
        connection.close()

        self.assertEqual(self.berthd.request("GET", "/v2/crash/manifest/manifests/v1").status, 404)
        self.assertEqual(self.berthd.request("GET", f"/v2/crash/manifest/manifests/{sha256_digest(body)}").status, 404)
        self.assertEqual(self.berthd.request("GET", "/v2/crash/manifest/tags/list").json()["tags"], [])
        self.assert_store_clean()

        response = self.berthd.request("PUT", "/v2/crash/manifest/manifests/v1", body=body,
                                       headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(response.status, 201, response)
        self.assertEqual(self.berthd.request("GET", "/v2/crash/manifest/manifests/v1").body, body)

    def test_kill_during_many_manifest_puts(self):
        """Manifests pushed while the server dies are either whole or absent."""
        config = push_blob(self.berthd, "crash/many", b"{}")
        bodies = [image_manifest(config, 2, [], extra={"annotations": {"n": str(i)}}) for i in range(400)]
        acknowledged = set()
        stop = threading.Event()

        def pusher(offset):
            for i in range(offset, len(bodies), 4):
                if stop.is_set():
                    return
                try:
                    response = self.berthd.request("PUT", f"/v2/crash/many/manifests/t{i}", body=bodies[i],
                                                   headers={"Content-Type": OCI_MANIFEST}, timeout=10)
                    if response.status == 201:
                        acknowledged.add(i)
                except OSError:
                    return

        threads = [threading.Thread(target=pusher, args=(offset,)) for offset in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        self.restart_after_kill()
        stop.set()
        for thread in threads:
            thread.join()

        self.assertGreater(len(acknowledged), 0)
        tags = set(self.berthd.request("GET", "/v2/crash/many/tags/list").json()["tags"])
        for i, body in enumerate(bodies):
            response = self.berthd.request("GET", f"/v2/crash/many/manifests/{sha256_digest(body)}")
            if i in acknowledged:
                self.assertEqual(response.status, 200, f"acknowledged manifest {i} is lost")
                self.assertIn(f"t{i}", tags)
            if response.status == 200:
                self.assertEqual(response.body, body)
        for tag in tags:
            response = self.berthd.request("GET", f"/v2/crash/many/manifests/{tag}")
            self.assertEqual(response.body, bodies[int(tag[1:])])
        self.assert_store_clean()


if __name__ == "__main__":
    unittest.main()
