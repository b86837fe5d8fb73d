"""Three berthd nodes behind HAProxy on PostgreSQL and Ceph radosgw: an
upload spread over all nodes, a tag moved through one node and read through
the others, and a node killed with SIGKILL during 16 concurrent pushes.

scripts/cluster starts the cluster once for the class in a temporary
directory and stops it at the end. The tests reach each node at its own
address (CLUSTER_NODE<i>_URL in DIR/env) and all of them through HAProxy
(CLUSTER_URL), logged in as iamapikey with the API key that node 1 created
on the empty database.
"""

import base64
import hashlib
import http.client
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from pathlib import Path

from harness import BERTHD, FIXTURES, ROOT, Server, push_blob, push_image, sha256_digest

CLUSTER = ROOT / "scripts" / "cluster"
MIB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
# Seconds that scripts/cluster up, a skopeo copy or berthd admin verify may take.
COMMAND_TIMEOUT = 300

# The concurrent pushes of the kill test: one image each, with a layer sent in
# LAYER_CHUNK pieces, so that the S3 multipart upload gets a full part
# (8 MiB by default) and a buffered tail.
PUSH_COUNT = 16
LAYER_SIZE = 9 * MIB
LAYER_CHUNK = 3 * MIB
# A push sends POST, a PATCH per chunk and PUT for the layer, the same for the
# config in one chunk, and PUT for the manifest.
REQUESTS_PER_PUSH = (2 + LAYER_SIZE // LAYER_CHUNK) + 3 + 1
# How often a client tries a blob upload or a manifest PUT before it gives up.
ATTEMPTS = 5


def berthd_environment():
    """The environment for berthd: berthd rejects BERTH_* variables that are not its settings."""
    return {key: value for key, value in os.environ.items() if not key.startswith("BERTH_")}


def upload_path(response):
    """The path of the upload session that a POST or PATCH response names in Location."""
    location = response.header("Location")
    return location if location.startswith("/") else "/" + location.split("/", 3)[3]


def with_digest(path, digest):
    return f"{path}{'&' if '?' in path else '?'}digest={digest}"


class ClusterAddress(Server):
    """A node or HAProxy, with requests logged in as iamapikey."""

    def __init__(self, name, url, api_key):
        parsed = urllib.parse.urlsplit(url)
        self.name = name
        self.host = parsed.hostname
        self.port = parsed.port
        self.authorization = "Basic " + base64.b64encode(f"iamapikey:{api_key}".encode()).decode()

    def request(self, method, path, body=None, headers=None, timeout=120):
        headers = dict(headers or {})
        headers.setdefault("Authorization", self.authorization)
        return super().request(method, path, body, headers, timeout)


class TransientFailure(Exception):
    """A connection error or 5xx response, which a registry client retries."""


class Progress:
    """Counts the requests that the pushing threads completed."""

    def __init__(self):
        self.condition = threading.Condition()
        self.count = 0

    def advance(self):
        with self.condition:
            self.count += 1
            self.condition.notify_all()

    def wait_for(self, count, timeout):
        with self.condition:
            return self.condition.wait_for(lambda: self.count >= count, timeout)


class RetryingClient:
    """Pushes like a registry client through HAProxy: a blob upload that hits a
    connection error or a 5xx response starts over with a new session, and a
    manifest PUT is sent again, each up to ATTEMPTS times. Any other
    unexpected response fails at once."""

    def __init__(self, address, progress):
        self.address = address
        self.progress = progress
        self.retries = []  # one line per failed attempt
        self.lock = threading.Lock()

    def send(self, method, path, expected, body=None, headers=None):
        """Send one request and return the response if its status is `expected`."""
        try:
            response = self.address.request(method, path, body, headers, timeout=60)
        except (OSError, http.client.HTTPException) as error:
            raise TransientFailure(f"{method} {path}: {error!r}") from error
        if response.status >= 500:
            raise TransientFailure(f"{method} {path}: HTTP {response.status} {response.body[:300]!r}")
        if response.status != expected:
            raise AssertionError(f"{method} {path} returned {response.status} instead of {expected}: {response}")
        self.progress.advance()
        return response

    def note_retry(self, operation, attempt, failure):
        with self.lock:
            self.retries.append(f"{operation}, attempt {attempt}: {failure}")

    def upload_blob(self, name, data, chunk_size):
        """Upload `data` to repository `name` in chunks; return its digest."""
        digest = sha256_digest(data)
        failure = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                started = self.send("POST", f"/v2/{name}/blobs/uploads/", 202)
                location = upload_path(started)
                for offset in range(0, len(data), chunk_size):
                    chunk = data[offset:offset + chunk_size]
                    patched = self.send("PATCH", location, 202, body=chunk, headers={
                        "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                        "Content-Type": "application/octet-stream"})
                    location = upload_path(patched)
                self.send("PUT", with_digest(location, digest), 201)
                return digest
            except TransientFailure as error:
                failure = error
                self.note_retry(f"blob {digest} of {name}", attempt, error)
                time.sleep(0.2 * attempt)
        raise AssertionError(f"uploading blob {digest} to {name} failed {ATTEMPTS} times, last: {failure}")

    def put_manifest(self, name, tag, manifest):
        failure = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                self.send("PUT", f"/v2/{name}/manifests/{tag}", 201, body=manifest,
                          headers={"Content-Type": OCI_MANIFEST})
                return
            except TransientFailure as error:
                failure = error
                self.note_retry(f"manifest {name}:{tag}", attempt, error)
                time.sleep(0.2 * attempt)
        raise AssertionError(f"pushing manifest {name}:{tag} failed {ATTEMPTS} times, last: {failure}")


def layer_manifest(config_digest, config_size, layer_digest, layer_size):
    """An OCI image manifest with one uncompressed layer, serialized."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("haproxy", "skopeo"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found on PATH. Install it with scripts/bootstrap.")
        # Short, because the services' Unix sockets live below it.
        cls.workdir = Path(tempfile.mkdtemp(prefix="berth-cluster-"))
        # PostgreSQL runs as the user postgres, which must reach its directory.
        cls.workdir.chmod(0o755)
        cls.cluster_dir = cls.workdir / "cluster"
        started = time.monotonic()
        try:
            cls.cluster("up", str(cls.cluster_dir))
        except Exception:
            cls.cluster("down", str(cls.cluster_dir), check=False)
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise
        print(f"\nscripts/cluster up took {time.monotonic() - started:.1f} s", file=sys.stderr)
        cls.read_cluster_env()
        cls.namespaces = set()

    @classmethod
    def tearDownClass(cls):
        cls.cluster("down", str(cls.cluster_dir), check=False)
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def cluster(cls, command, *args, check=True):
        """Run `scripts/cluster COMMAND ARGS` with $BERTHD; raise if it fails and `check` is set."""
        arguments = [str(CLUSTER), command, *args]
        result = subprocess.run(arguments, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                                env=dict(os.environ, BERTHD=str(BERTHD)))
        if check and result.returncode != 0:
            raise RuntimeError(f"{shlex.join(arguments)} failed with exit status {result.returncode}:\n"
                               f"{result.stdout}{result.stderr}")
        return result

    @classmethod
    def read_cluster_env(cls):
        """Read DIR/env, which scripts/cluster rewrites when a node starts."""
        env = {}
        for line in (cls.cluster_dir / "env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        cls.env = env
        cls.api_key = Path(env["CLUSTER_APIKEY_FILE"]).read_text().strip()
        cls.haproxy = ClusterAddress("HAProxy", env["CLUSTER_URL"], cls.api_key)
        cls.nodes = [ClusterAddress(f"node {i}", env[f"CLUSTER_NODE{i}_URL"], cls.api_key)
                     for i in range(1, int(env["CLUSTER_NODES"]) + 1)]

    def create_namespace(self, namespace):
        if namespace in self.namespaces:
            return
        response = self.haproxy.request("PUT", f"/api/v1/namespaces/{namespace}")
        self.assertIn(response.status, (200, 201), response)
        self.namespaces.add(namespace)

    def node_log_tails(self, lines=30):
        text = ""
        for i in range(1, len(self.nodes) + 1):
            log = self.cluster_dir / f"node{i}" / "berthd.log"
            if log.exists():
                text += f"\n--- last lines of {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return text

    def skopeo(self, *args):
        """Run skopeo with a private auth file; raise AssertionError if it fails."""
        environment = dict(os.environ, REGISTRY_AUTH_FILE=str(self.workdir / "skopeo-auth.json"))
        arguments = ["skopeo", *args]
        result = subprocess.run(arguments, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, env=environment)
        if result.returncode != 0:
            raise AssertionError(f"{shlex.join(arguments)} failed with exit status {result.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")

    def verify_store(self):
        """Run `berthd admin verify --deep` with node 1's configuration and return its output."""
        arguments = [str(BERTHD), "admin", "verify", "--deep", "--config", str(self.cluster_dir / "node1" / "config.yaml")]
        result = subprocess.run(arguments, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                                env=berthd_environment())
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("store is clean", result.stdout)
        return result.stdout

    def test_chunked_upload_spread_over_three_nodes(self):
        """POST, four PATCHes and the final PUT of one upload each go to another node."""
        node1, node2, node3 = self.nodes
        name = "spread/chunks"
        self.create_namespace("spread")
        # The third chunk is smaller than S3's minimum part size of 5 MiB, and
        # the whole blob is more than two parts of 8 MiB.
        chunks = [os.urandom(6 * MIB), os.urandom(6 * MIB), os.urandom(1 * MIB), os.urandom(6 * MIB)]
        final_chunk = os.urandom(MIB // 2)
        data = b"".join(chunks) + final_chunk
        digest = sha256_digest(data)

        started = node1.request("POST", f"/v2/{name}/blobs/uploads/")
        self.assertEqual(started.status, 202, started)
        location = upload_path(started)
        offset = 0
        patch_nodes = [node2, node3, node1, node2]
        for index, (node, chunk) in enumerate(zip(patch_nodes, chunks)):
            patched = node.request("PATCH", location, body=chunk, headers={
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Type": "application/octet-stream"})
            self.assertEqual(patched.status, 202, f"PATCH {index + 1} through {node.name}: {patched}")
            offset += len(chunk)
            self.assertEqual(patched.header("Range"), f"0-{offset - 1}")
            location = upload_path(patched)
            # The next node in the rotation reports the same progress.
            other = self.nodes[(self.nodes.index(node) + 1) % len(self.nodes)]
            status = other.request("GET", location)
            self.assertEqual(status.status, 204, f"upload status through {other.name}: {status}")
            self.assertEqual(status.header("Range"), f"0-{offset - 1}", f"upload status through {other.name}")

        done = node3.request("PUT", with_digest(location, digest), body=final_chunk,
                             headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(done.status, 201, f"final PUT through node 3: {done}")
        self.assertEqual(done.header("Docker-Content-Digest"), digest)

        for address in (*self.nodes, self.haproxy):
            pulled = address.request("GET", f"/v2/{name}/blobs/{digest}")
            self.assertEqual(pulled.status, 200, f"GET through {address.name}: {pulled}")
            self.assertEqual(len(pulled.body), len(data), f"GET through {address.name}")
            self.assertEqual(sha256_digest(pulled.body), digest, f"GET through {address.name}")

        # An image with that layer, pulled by skopeo through HAProxy.
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [digest]}}).encode()
        config_digest = push_blob(self.haproxy, name, config)
        manifest = layer_manifest(config_digest, len(config), digest, len(data))
        pushed = self.haproxy.request("PUT", f"/v2/{name}/manifests/v1", body=manifest,
                                      headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(pushed.status, 201, pushed)

        pulled_dir = self.workdir / "chunks-pulled"
        self.skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", f"iamapikey:{self.api_key}",
                    f"docker://{self.haproxy.address}/{name}:v1", f"dir:{pulled_dir}")
        self.assertEqual((pulled_dir / "manifest.json").read_bytes(), manifest)
        self.assertEqual(sha256_digest((pulled_dir / digest.split(":")[1]).read_bytes()), digest)
        self.assertEqual((pulled_dir / config_digest.split(":")[1]).read_bytes(), config)

    def test_skopeo_round_trip_through_haproxy(self):
        """skopeo pushes debian:bookworm through HAProxy and pulls it back unchanged."""
        layout = FIXTURES / "debian"
        if not (layout / "index.json").exists():
            raise RuntimeError(f"fixture layout {layout} is missing. Build it with tests/fixtures/build-images.")
        self.create_namespace("spread")
        credentials = f"iamapikey:{self.api_key}"
        reference = f"docker://{self.haproxy.address}/spread/debian:bookworm"
        self.skopeo("copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", credentials,
                    f"oci:{layout}:bookworm", reference)
        pulled = self.workdir / "debian-pulled"
        self.skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", credentials,
                    reference, f"oci:{pulled}:bookworm")

        def manifest_digest(path):
            index = json.loads((path / "index.json").read_text())
            return [entry["digest"] for entry in index["manifests"]
                    if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == "bookworm"]

        source_digests = manifest_digest(layout)
        self.assertEqual(len(source_digests), 1)
        self.assertEqual(manifest_digest(pulled), source_digests)
        manifest_bytes = (layout / "blobs" / "sha256" / source_digests[0].split(":")[1]).read_bytes()
        manifest = json.loads(manifest_bytes)
        for descriptor in [manifest["config"], *manifest["layers"]]:
            path = Path("blobs") / "sha256" / descriptor["digest"].split(":")[1]
            self.assertEqual(sha256_digest((pulled / path).read_bytes()), descriptor["digest"])
            self.assertEqual((pulled / path).read_bytes(), (layout / path).read_bytes())

    def test_tag_move_seen_at_once_by_other_nodes(self):
        """Each read follows the write at once, with no pause in between."""
        name = "tags/moving"
        self.create_namespace("tags")
        node1, node2, node3 = self.nodes
        manifest_a, digest_a = push_image(node1, name, "a", layer_data=os.urandom(1000))
        manifest_b, digest_b = push_image(node1, name, "b", layer_data=os.urandom(1000))

        def move_tag(node, manifest):
            response = node.request("PUT", f"/v2/{name}/manifests/t", body=manifest,
                                    headers={"Content-Type": OCI_MANIFEST})
            self.assertEqual(response.status, 201, f"PUT t through {node.name}: {response}")

        def assert_tag(node, manifest, digest, step):
            response = node.request("GET", f"/v2/{name}/manifests/t", headers={"Accept": OCI_MANIFEST})
            self.assertEqual(response.status, 200, f"{step}: GET t through {node.name}: {response}")
            self.assertEqual(response.header("Docker-Content-Digest"), digest, f"{step}: GET t through {node.name}")
            self.assertEqual(response.body, manifest, f"{step}: GET t through {node.name}")

        move_tag(node1, manifest_a)
        assert_tag(node2, manifest_a, digest_a, "t -> A through node 1")
        assert_tag(node3, manifest_a, digest_a, "t -> A through node 1")
        move_tag(node2, manifest_b)
        assert_tag(node1, manifest_b, digest_b, "t -> B through node 2")
        assert_tag(node3, manifest_b, digest_b, "t -> B through node 2")

        # More moves, each through another node and read through all three,
        # so that every node has the old target in any cache it keeps.
        images = [(manifest_a, digest_a), (manifest_b, digest_b)]
        for move in range(12):
            writer = self.nodes[move % 3]
            manifest, digest = images[move % 2]
            move_tag(writer, manifest)
            for reader in self.nodes:
                assert_tag(reader, manifest, digest, f"move {move + 1} through {writer.name}")

    def test_node_killed_during_concurrent_pushes(self):
        """Node 2 gets SIGKILL a third of the way into 16 pushes through HAProxy."""
        self.create_namespace("crash")
        progress = Progress()
        client = RetryingClient(self.haproxy, progress)
        images = []
        for index in range(PUSH_COUNT):
            config = json.dumps({"architecture": "amd64", "os": "linux", "push": index}).encode()
            images.append({"name": f"crash/push{index}", "layer": os.urandom(LAYER_SIZE), "config": config})
        errors = [None] * PUSH_COUNT
        finished = [False] * PUSH_COUNT

        def push(index):
            image = images[index]
            try:
                layer_digest = client.upload_blob(image["name"], image["layer"], LAYER_CHUNK)
                config_digest = client.upload_blob(image["name"], image["config"], len(image["config"]))
                image["manifest"] = layer_manifest(config_digest, len(image["config"]), layer_digest,
                                                   len(image["layer"]))
                client.put_manifest(image["name"], "v1", image["manifest"])
            except Exception as error:  # reported below with the push's index
                errors[index] = f"push {index}: {error}"
            finally:
                finished[index] = True

        self.addCleanup(self.start_node_if_stopped, 2)
        started = time.monotonic()
        threads = [threading.Thread(target=push, args=(index,)) for index in range(PUSH_COUNT)]
        for thread in threads:
            thread.start()
        total = PUSH_COUNT * REQUESTS_PER_PUSH
        reached = progress.wait_for(total // 3, timeout=COMMAND_TIMEOUT)
        kill_started = time.monotonic() - started
        requests_before_kill = progress.count
        unfinished_at_kill = finished.count(False)
        # The script sends SIGKILL at once and then waits, for a second or
        # two on a loaded machine, until the process is gone.
        self.cluster("kill-node", str(self.cluster_dir), "2")
        kill_ended = time.monotonic() - started
        requests_after_kill = progress.count
        for thread in threads:
            thread.join(timeout=COMMAND_TIMEOUT)
        push_seconds = time.monotonic() - started
        print(f"\n{PUSH_COUNT} pushes took {push_seconds:.1f} s. scripts/cluster kill-node ran from "
              f"{kill_started:.1f} s to {kill_ended:.1f} s, started with {unfinished_at_kill} pushes unfinished, "
              f"while the pushes completed requests {requests_before_kill} to {requests_after_kill} of {total}. "
              f"{len(client.retries)} retries:", file=sys.stderr)
        for line in client.retries:
            print(f"  {line}", file=sys.stderr)

        self.assertTrue(reached, f"the pushes completed only {progress.count} requests; errors: {errors}")
        self.assertGreater(unfinished_at_kill, 0, "every push finished before the kill")
        # Node 2 had requests of the pushes in flight, and HAProxy returns 502
        # for those. Without a retry the kill missed the pushes.
        self.assertGreater(len(client.retries), 0, "the kill interrupted no request")
        self.assertFalse(any(thread.is_alive() for thread in threads), "a push did not finish")
        self.assertEqual([error for error in errors if error], [], self.node_log_tails())

        for image in images:
            name = image["name"]
            response = self.haproxy.request("GET", f"/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST})
            self.assertEqual(response.status, 200, f"{name}:v1: {response}")
            self.assertEqual(response.body, image["manifest"], f"{name}:v1")
            for blob in (image["config"], image["layer"]):
                digest = sha256_digest(blob)
                pulled = self.haproxy.request("GET", f"/v2/{name}/blobs/{digest}")
                self.assertEqual(pulled.status, 200, f"{name} blob {digest}: {pulled}")
                self.assertEqual(sha256_digest(pulled.body), digest, f"{name} blob {digest}")

        output = self.verify_store()
        print(f"berthd admin verify --deep:\n{output}", file=sys.stderr)

        # Node 2 starts again on the same port and serves what the others stored.
        self.cluster("start-node", str(self.cluster_dir), "2")
        self.read_cluster_env()
        node2 = self.nodes[1]
        self.assertEqual(node2.request("GET", "/v2/").status, 200)
        response = node2.request("GET", "/v2/crash/push0/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.body, images[0]["manifest"])
        manifest, digest = push_image(node2, "crash/after", "v1", layer_data=os.urandom(1000))
        response = self.nodes[0].request("GET", "/v2/crash/after/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.header("Docker-Content-Digest"), digest)

    def start_node_if_stopped(self, node):
        """Start a node that a failed test left stopped, so that later tests find three nodes."""
        pid = (self.cluster_dir / f"node{node}" / "berthd.pid").read_text().strip()
        status = Path(f"/proc/{pid}/status")
        # A killed node that its parent has not reaped yet is a zombie, which counts as stopped.
        running = status.exists() and "\nState:\tZ" not in status.read_text()
        if not running:
            self.cluster("start-node", str(self.cluster_dir), str(node))
            self.read_cluster_env()


if __name__ == "__main__":
    unittest.main()
