"""Test harness: starts berthd and Debian's docker-registry on loopback and
talks HTTP to them. Every process a test starts is stopped by its PID.

With TEST_CLUSTER_SERVICES set to the env file of tests/services/up,
BerthdTestCase runs its tests against a three-node cluster behind HAProxy
(scripts/cluster) on that PostgreSQL and radosgw instead of one berthd on
the embedded store. Tests reach the store through the server's methods
(query, stored_blobs, ...), which work on both."""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
BERTHD = Path(os.environ.get("BERTHD", ROOT / "build" / "berthd"))
# Not a BERTH_* variable: berthd rejects unknown variables with that prefix.
FIXTURES = Path(os.environ.get("TEST_FIXTURES_DIR", ROOT / "build" / "fixtures"))
# The env file of running test services: set, BerthdTestCase uses a cluster.
CLUSTER_SERVICES = os.environ.get("TEST_CLUSTER_SERVICES")

# Digests of the fixture images (tests/fixtures/build-images prints them).
EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.header_list = headers  # [(name, value)] as received
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        return json.loads(self.body)

    def error_codes(self):
        return [entry["code"] for entry in self.json()["errors"]]

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:300]!r}>"


class Server:
    """Common client side of berthd and docker-registry."""

    host = "127.0.0.1"
    port = 0

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    @property
    def url(self):
        return f"http://{self.address}"

    def open_connection(self, timeout):
        """The connection that request() sends on; a TLS server returns an HTTPSConnection."""
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=120):
        """Sends one request on a fresh connection and reads the response."""
        connection = self.open_connection(timeout)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            headers = dict(headers or {})
            if body is not None and "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                headers["Content-Length"] = str(len(body))
            for name, value in headers.items():
                if isinstance(value, (list, tuple)):
                    for item in value:
                        connection.putheader(name, item)
                else:
                    connection.putheader(name, value)
            connection.endheaders()
            if body is not None:
                if headers.get("Transfer-Encoding") == "chunked":
                    for start in range(0, len(body), 65536):
                        piece = body[start:start + 65536]
                        connection.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    connection.send(b"0\r\n\r\n")
                else:
                    connection.send(body)
            response = connection.getresponse()
            data = response.read()
            return Response(response.status, response.getheaders(), data)
        finally:
            connection.close()

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/v2/", timeout=2).status in (200, 401):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server at {self.address} did not answer /v2/ within {timeout} s")


class Berthd(Server):
    """A berthd process on 127.0.0.1 with its own data directory."""

    def __init__(self, data_dir, listen="127.0.0.1:0", args=(), env=None):
        self.data_dir = Path(data_dir)
        self.listen = listen
        self.args = list(args)
        self.env = env
        self.process = None
        self.log_path = self.data_dir.parent / (self.data_dir.name + ".log")

    def environment(self):
        """The process environment for berthd: only the test's own BERTH_*
        settings reach it, because berthd rejects unknown ones."""
        environment = {key: value for key, value in os.environ.items() if not key.startswith("BERTH_")}
        environment.update(self.env or {})
        return environment

    def start(self):
        environment = self.environment()
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(BERTHD), "--listen", self.listen, "--data", str(self.data_dir), *self.args],
            stdout=subprocess.PIPE, stderr=self.log, env=environment)
        # The first start prints the initial API key before the address.
        self.startup_output = ""
        line = self.process.stdout.readline().decode()
        while line and not line.startswith("berthd listening on http"):
            self.startup_output += line
            line = self.process.stdout.readline().decode()
        if not line.startswith("berthd listening on http"):
            self.process.wait(timeout=10)
            self.process.stdout.close()
            self.log.close()
            raise RuntimeError(f"berthd did not start (exit {self.process.returncode}); log:\n{self.log_text()}")
        self.port = int(line.split()[3].rsplit(":", 1)[1])
        self.wait_ready()
        return self

    @property
    def api_key(self):
        """The Manager API key that berthd created on its first start."""
        return (self.data_dir / "initial-apikey").read_text().strip()

    def basic_auth(self, api_key=None):
        """The Authorization value for an API key (default: the initial one)."""
        secret = api_key or self.api_key
        return "Basic " + base64.b64encode(f"iamapikey:{secret}".encode()).decode()

    def request(self, method, path, body=None, headers=None, timeout=120, auth=True):
        """Like Server.request, but logs in with the initial API key unless
        `auth` is false or the headers carry their own Authorization. The
        namespace of a /v2/ repository path is created first, so tests of
        the distribution API can use any valid namespace name."""
        headers = dict(headers or {})
        if auth and "Authorization" not in headers:
            headers["Authorization"] = self.basic_auth()
            self.ensure_namespace_for(path)
        return super().request(method, path, body, headers, timeout)

    def ensure_namespace_for(self, path):
        parts = path.split("?", 1)[0].split("/")
        if len(parts) < 4 or parts[1] != "v2" or parts[2].startswith("_"):
            return
        namespace = parts[2]
        created = getattr(self, "namespaces", set())
        if namespace in created:
            return
        response = super().request("PUT", f"/api/v1/namespaces/{namespace}",
                                   headers={"Authorization": self.basic_auth()})
        # An invalid namespace name stays uncreated, so the test gets the
        # registry's own response to its request.
        if response.status in (200, 201):
            created.add(namespace)
            self.namespaces = created

    def create_namespace(self, namespace):
        response = super().request("PUT", f"/api/v1/namespaces/{namespace}",
                                   headers={"Authorization": self.basic_auth()})
        assert response.status in (200, 201), response
        self.namespaces = getattr(self, "namespaces", set()) | {namespace}
        return response

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_mark(self):
        """Where the log ends now, for log_since()."""
        return len(self.log_text())

    def log_since(self, mark):
        """The log lines written after log_mark() returned `mark`."""
        return self.log_text()[mark:]

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signals berthd and waits for it; returns its exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            status = self.process.wait(timeout=timeout)
        finally:
            self.process.stdout.close()
            self.log.close()
            self.process = None
        return status

    def kill(self):
        return self.stop(signal.SIGKILL)

    def admin(self, *args, env=None):
        """Runs `berthd admin ARGS --data DIR`, with `env` added to the
        environment, and returns the CompletedProcess."""
        return subprocess.run([str(BERTHD), "admin", *args, "--data", str(self.data_dir)],
                              capture_output=True, text=True, timeout=600,
                              env=dict(self.environment(), **(env or {})))

    # --- The store, read behind the server's back ----------------------------
    # Each works on the embedded store here and on the cluster's in Cluster.

    @property
    def signing_key(self):
        """The file of the key that signs registry tokens."""
        return self.data_dir / "keys" / "token-signing.pem"

    def query(self, sql, parameters=()):
        """The rows of a read-only SQL query with ? placeholders."""
        connection = sqlite3.connect(f"file:{self.data_dir / 'berth.db'}?mode=ro", uri=True, timeout=60)
        try:
            return [tuple(row) for row in connection.execute(sql, parameters).fetchall()]
        finally:
            connection.close()

    def update(self, sql, parameters=()):
        """Runs one SQL write with ? placeholders and commits it; returns the
        number of rows it changed."""
        connection = sqlite3.connect(self.data_dir / "berth.db", timeout=60)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            with connection:
                return connection.execute(sql, parameters).rowcount
        finally:
            connection.close()

    def database_dump(self):
        """Everything the metadata store holds, as bytes."""
        return (self.data_dir / "berth.db").read_bytes()

    def stored_blobs(self):
        """The digests of every blob in the blob storage."""
        found = set()
        for directory, _, files in os.walk(self.data_dir / "blobs"):
            algorithm = os.path.basename(os.path.dirname(directory))
            found.update(f"{algorithm}:{name}" for name in files)
        return found

    def blob_stored(self, digest):
        algorithm, hex_digest = digest.split(":", 1)
        return (self.data_dir / "blobs" / algorithm / hex_digest[:2] / hex_digest).exists()

    def stored_uploads(self):
        """What the blob storage holds for unfinished uploads."""
        return os.listdir(self.data_dir / "uploads")


class Cluster(Berthd):
    """Three berthd nodes behind HAProxy on PostgreSQL and radosgw, started
    by scripts/cluster on the services of CLUSTER_SERVICES. Requests go
    through HAProxy, and `env` contains BERTH_* settings for every node."""

    def __init__(self, directory, env=None, services=None, schema=None, bucket=None):
        """`services` is the env file of the services (default:
        CLUSTER_SERVICES). `schema` and `bucket` name an existing schema and
        bucket there. Without them the cluster makes its own."""
        self.directory = Path(directory)
        self.env = env
        self.services = services or CLUSTER_SERVICES
        self.schema = schema
        self.bucket = bucket
        self.args = []
        self.process = None
        self.settings = {}
        self.startup_output = ""

    def environment(self):
        environment = {key: value for key, value in os.environ.items() if not key.startswith("BERTH_")}
        environment.update(self.env or {})
        return environment

    def start(self):
        arguments = [str(ROOT / "scripts" / "cluster"), "up", str(self.directory), "--services", str(self.services)]
        if self.schema:
            arguments += ["--schema", self.schema, "--bucket", self.bucket]
        for name, value in (self.env or {}).items():
            if not name.startswith("BERTH_"):
                raise ValueError(f"the cluster passes only BERTH_* settings to its nodes, not {name}")
            arguments += ["--env", f"{name}={value}"]
        environment = dict(os.environ, BERTHD=str(BERTHD))
        started = subprocess.run(arguments, capture_output=True, text=True, timeout=300, env=environment)
        if started.returncode != 0:
            raise RuntimeError(f"scripts/cluster up failed (exit {started.returncode}):\n"
                               f"{started.stdout}{started.stderr}")
        for line in (self.directory / "env").read_text().splitlines():
            name, _, value = line.partition("=")
            self.settings[name] = value
        self.port = int(self.settings["CLUSTER_URL"].rsplit(":", 1)[1])
        self.process = True
        return self

    @property
    def api_key(self):
        return Path(self.settings["CLUSTER_APIKEY_FILE"]).read_text().strip()

    @property
    def node_urls(self):
        return [self.settings[f"CLUSTER_NODE{i}_URL"] for i in range(1, int(self.settings["CLUSTER_NODES"]) + 1)]

    def node_logs(self):
        """The text of each node's log."""
        paths = sorted(self.directory.glob("node*/berthd.log"))
        return [path.read_text(errors="replace") for path in paths]

    def log_text(self):
        return "".join(self.node_logs())

    def log_mark(self):
        return [len(text) for text in self.node_logs()]

    def log_since(self, mark):
        return "".join(text[start:] for text, start in zip(self.node_logs(), mark))

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.process is None:
            return None
        result = subprocess.run([str(ROOT / "scripts" / "cluster"), "down", str(self.directory)],
                                capture_output=True, text=True, timeout=300)
        self.process = None
        return result.returncode

    def kill(self):
        raise NotImplementedError("use scripts/cluster kill-node to kill one node of a cluster")

    def admin(self, *args, env=None):
        """Runs `berthd admin ARGS` with node 1's configuration."""
        return subprocess.run([str(BERTHD), "admin", *args, "--config", str(self.directory / "node1" / "config.yaml")],
                              capture_output=True, text=True, timeout=600,
                              env=dict(self.environment(), **(env or {})))

    @property
    def signing_key(self):
        return self.directory / "token-signing.pem"

    def connect_database(self):
        import psycopg2  # only the cluster needs it; scripts/bootstrap installs it
        connection = psycopg2.connect(self.settings["BERTH_TEST_POSTGRES"])
        with connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{self.settings["CLUSTER_POSTGRES_SCHEMA"]}"')
        return connection

    def query(self, sql, parameters=()):
        connection = self.connect_database()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), parameters)
                return [tuple(row) for row in cursor.fetchall()]
        finally:
            connection.close()

    def update(self, sql, parameters=()):
        connection = self.connect_database()
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), parameters)
                return cursor.rowcount
        finally:
            connection.close()

    def database_dump(self):
        completed = subprocess.run(["pg_dump", "--data-only", "--schema", self.settings["CLUSTER_POSTGRES_SCHEMA"],
                                    self.settings["BERTH_TEST_POSTGRES"]],
                                   capture_output=True, timeout=120, check=True)
        return completed.stdout

    def s3(self, method, path_and_query):
        """Sends one signed request to the cluster's bucket with curl;
        returns (HTTP status, body). The query must be canonical (keys
        sorted, values %-encoded), because curl signs it as written."""
        completed = subprocess.run(
            ["curl", "-s", *(["--head"] if method == "HEAD" else ["-X", method]), "-w", "\n%{http_code}",
             "--aws-sigv4", f"aws:amz:{self.settings['BERTH_TEST_S3_REGION']}:s3",
             "--user", f"{self.settings['BERTH_TEST_S3_ACCESS_KEY']}:{self.settings['BERTH_TEST_S3_SECRET_KEY']}",
             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
             f"{self.settings['BERTH_TEST_S3_ENDPOINT']}/{self.settings['CLUSTER_S3_BUCKET']}{path_and_query}"],
            capture_output=True, timeout=120, check=True)
        body, _, status = completed.stdout.rpartition(b"\n")
        return int(status), body

    def object_keys(self, prefix):
        """Every key in the bucket that starts with `prefix`."""
        keys = []
        token = None
        namespace = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
        while True:
            query = (f"continuation-token={quote(token, safe='-_.~')}&" if token else "") + \
                f"list-type=2&prefix={quote(prefix, safe='-_.~')}"
            status, body = self.s3("GET", f"?{query}")
            if status != 200:
                raise RuntimeError(f"listing {prefix} in the bucket failed with HTTP {status}: {body[:300]!r}")
            root = ElementTree.fromstring(body)
            keys += [element.text for element in root.findall("s3:Contents/s3:Key", namespace)]
            if root.findtext("s3:IsTruncated", namespaces=namespace) != "true":
                return keys
            token = root.findtext("s3:NextContinuationToken", namespaces=namespace)

    def stored_blobs(self):
        found = set()
        for key in self.object_keys("blobs/"):
            _, algorithm, _, hex_digest = key.split("/")
            found.add(f"{algorithm}:{hex_digest}")
        return found

    def blob_stored(self, digest):
        algorithm, hex_digest = digest.split(":", 1)
        status, body = self.s3("HEAD", f"/blobs/{algorithm}/{hex_digest[:2]}/{hex_digest}")
        if status not in (200, 404):
            raise RuntimeError(f"HEAD of blob {digest} in the bucket returned HTTP {status}")
        return status == 200

    def stored_uploads(self):
        return self.object_keys("uploads/")


class DockerRegistry(Server):
    """Debian's docker-registry (CNCF distribution 2.8) with deletes enabled."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.process = None

    def start(self):
        self.port = free_port()
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.directory / "config.yml"
        config.write_text(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{self.port}
  secret: berth-tests-not-secret
health:
  storagedriver:
    enabled: false
""")
        self.log = open(self.directory / "registry.log", "ab")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)],
                                        stdout=self.log, stderr=self.log)
        self.wait_ready()
        return self

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.log.close()
            self.process = None


def embedded_only(reason):
    """Skips a test class or method in cluster mode: it starts its own
    berthd on the embedded store, so running it again adds nothing."""
    return unittest.skipIf(CLUSTER_SERVICES, f"embedded store only: {reason}")


class BerthdTestCase(unittest.TestCase):
    """Starts one berthd for the test class on a fresh data directory, or a
    cluster when CLUSTER_SERVICES is set."""

    berthd_args = ()
    # BERTH_* settings for berthd's environment, such as {"BERTH_MESSAGES": "..."}.
    berthd_env = None

    @classmethod
    def setUpClass(cls):
        cls.workdir = Path(tempfile.mkdtemp(prefix="berth-test-"))
        try:
            if CLUSTER_SERVICES and cls.berthd_args:
                raise ValueError(f"{cls.__name__} passes command-line arguments, which a cluster's nodes do not take")
            if CLUSTER_SERVICES:
                cls.berthd = Cluster(cls.workdir / "cluster", env=cls.berthd_env).start()
            else:
                cls.berthd = Berthd(cls.workdir / "data", args=cls.berthd_args, env=cls.berthd_env).start()
        except Exception:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.berthd.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)


def remove_manifest_row(data_dir, repository, digest):
    """Delete a manifest straight from the database, bypassing the registry.

    The registry refuses to delete a manifest that a live index
    references, so tests of damaged stores make the damage this way.
    """
    connection = sqlite3.connect(Path(data_dir) / "berth.db", timeout=30)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        with connection:
            cursor = connection.execute(
                "DELETE FROM manifests WHERE digest = ? AND repository_id = "
                "(SELECT id FROM repositories WHERE name = ?)", (digest, repository))
        if cursor.rowcount != 1:
            raise AssertionError(f"no manifest {repository}@{digest} to remove")
    finally:
        connection.close()


def sha256_digest(data):
    import hashlib
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(server, name, data):
    """Monolithic POST+PUT upload; returns the digest."""
    digest = sha256_digest(data)
    started = server.request("POST", f"/v2/{name}/blobs/uploads/")
    assert started.status == 202, started
    location = started.header("Location")
    separator = "&" if "?" in location else "?"
    path = location if location.startswith("/") else "/" + location.split("/", 3)[3]
    done = server.request("PUT", f"{path}{separator}digest={digest}", body=data,
                          headers={"Content-Type": "application/octet-stream"})
    assert done.status == 201, done
    return digest


def image_manifest(config_digest, config_size, layers, media_type="application/vnd.oci.image.manifest.v1+json",
                   config_type="application/vnd.oci.image.config.v1+json", extra=None):
    """Serialized image manifest bytes; `layers` is [(digest, size)]."""
    layer_type = ("application/vnd.oci.image.layer.v1.tar+gzip" if "oci" in media_type
                  else "application/vnd.docker.image.rootfs.diff.tar.gzip")
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": layer_type, "digest": d, "size": s} for d, s in layers],
    }
    manifest.update(extra or {})
    return json.dumps(manifest, separators=(",", ":")).encode()


def push_image(server, name, tag, layer_data=b"layer", config_data=None):
    """Pushes a config, one layer and an OCI manifest under `tag`; returns (manifest_bytes, digest)."""
    config_data = config_data or json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    config_digest = push_blob(server, name, config_data)
    layer_digest = push_blob(server, name, layer_data)
    manifest = image_manifest(config_digest, len(config_data), [(layer_digest, len(layer_data))])
    response = server.request("PUT", f"/v2/{name}/manifests/{tag}", body=manifest,
                              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert response.status == 201, response
    return manifest, sha256_digest(manifest)
