"""berthd admin migrate-storage, from the embedded default to PostgreSQL and S3.

An embedded berthd (SQLite and the filesystem in one data directory)
receives every fixture image (tests/fixtures/build-images), a second tag, a
192 MiB image, and a trashed image in the initial account. A second account
gets a user with a Manager policy and an API key, a namespace with an image
and a retention policy, a trashed image and a custom quota.

After that berthd stops, migrate-storage copies its data directory into a
new PostgreSQL schema and a new S3 bucket of the services that
tests/services/up starts. ctest passes their settings in the file that
BERTH_SERVICES_ENV names, and the variables themselves win, as in
tests/support/services.h. The first run is killed with SIGKILL while it
copies the blobs, a second run continues and finishes, and a third finds
the complete copy and only verifies it.

A three-node cluster behind HAProxy (scripts/cluster) on the new schema
and bucket then has to serve every image back byte for byte, accept both
migrated API keys, and report the same trash, quotas, retention policy and
image list as the embedded one did.
"""

import base64
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest
import urllib.parse
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from harness import BERTHD, Berthd, Cluster, image_manifest, push_blob, sha256_digest
from test_clients import OciLayout, check_command, content_digests, fixture, require_tools

SERVICE_SETTINGS = ("BERTH_TEST_POSTGRES", "BERTH_TEST_S3_ENDPOINT", "BERTH_TEST_S3_REGION",
                    "BERTH_TEST_S3_ACCESS_KEY", "BERTH_TEST_S3_SECRET_KEY")

# Seconds that one migrate-storage run may take.
MIGRATE_TIMEOUT = 900

# The large image's layer: large enough that copying it takes longer than
# the one-second progress interval, so the first run can be killed while
# it copies.
LARGE_LAYER_BYTES = 192 << 20

# (layout, tag, repository, tag in berthd, skopeo copy --all)
FIXTURE_IMAGES = (
    ("busybox", "latest", "migrate/busybox", "latest", False),
    ("debian", "bookworm", "migrate/debian", "bookworm", False),
    ("multi", "latest", "migrate/multi", "latest", True),
    ("artifact", "latest", "migrate/artifact", "latest", False),
    ("artifact", "sbom", "migrate/artifact", "sbom", False),
    ("vulnerable", "latest", "migrate/vulnerable", "latest", False),
    ("alpine", "3.19", "migrate/alpine", "3.19", False),
    ("rpm", "9", "migrate/rpm", "9", False),
)

PROGRESS_LINE = re.compile(r"migrate-storage: blobs (\d+) of (\d+) ")
COUNT_LINE = re.compile(r"^([a-z_]+) +(\d+) +(\d+|-)")


def service_settings():
    """The settings of the test services, from the environment or BERTH_SERVICES_ENV's file."""
    values = {}
    env_file = os.environ.get("BERTH_SERVICES_ENV")
    if env_file:
        for line in Path(env_file).read_text().splitlines():
            name, separator, value = line.partition("=")
            if separator and name in SERVICE_SETTINGS:
                values[name] = value
    for name in SERVICE_SETTINGS:
        if os.environ.get(name):
            values[name] = os.environ[name]
    missing = [name for name in SERVICE_SETTINGS if not values.get(name)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not set: run this test through ctest, which starts PostgreSQL and "
                           "Ceph with tests/services/up, or start them yourself and set BERTH_SERVICES_ENV to the "
                           "env file that script writes")
    return values


def basic_auth(api_key):
    return "Basic " + base64.b64encode(f"iamapikey:{api_key}".encode()).decode()


def without_domain(text, address):
    """Drop a registry's address from image names in a JSON response, so that two registries' responses compare."""
    return json.loads(text.replace(address + "/", ""))


class MigratedBerthd(Berthd):
    """A berthd on migrated backends. Its own data directory has no
    initial-apikey, so its requests use the source's initial API key."""

    def __init__(self, data_dir, api_key, args):
        super().__init__(data_dir, args=args)
        self.source_api_key = api_key

    @property
    def api_key(self):
        return self.source_api_key


class MigratedCluster(Cluster):
    """A cluster on migrated backends, where no node created an initial
    API key, so its requests use the source's."""

    def __init__(self, directory, api_key, services, schema, bucket):
        super().__init__(directory, services=services, schema=schema, bucket=bucket)
        self.source_api_key = api_key

    @property
    def api_key(self):
        return self.source_api_key


class S3Bucket:
    """One bucket on the test S3 server, reached with curl's SigV4 signing."""

    def __init__(self, settings, name):
        self.endpoint = settings["BERTH_TEST_S3_ENDPOINT"].rstrip("/")
        self.region = settings["BERTH_TEST_S3_REGION"]
        self.credentials = f"{settings['BERTH_TEST_S3_ACCESS_KEY']}:{settings['BERTH_TEST_S3_SECRET_KEY']}"
        self.name = name

    def request(self, method, path, query=""):
        """Send one signed request; return (status, body). The query must be canonical (sorted, encoded)."""
        url = f"{self.endpoint}/{self.name}{path}" + (f"?{query}" if query else "")
        result = subprocess.run(
            ["curl", "-sS", "--aws-sigv4", f"aws:amz:{self.region}:s3", "--user", self.credentials,
             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", method, "--data-binary", "",
             "-o", "-", "-w", "\n%{http_code}", url],
            capture_output=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"curl {method} {url} failed: {result.stderr.decode(errors='replace')}")
        body, _, status = result.stdout.rpartition(b"\n")
        return int(status), body

    def create(self):
        status, body = self.request("PUT", "")
        if status != 200:
            raise AssertionError(f"creating bucket {self.name} got {status}: {body[:500]!r}")

    def keys(self):
        status, body = self.request("GET", "", "list-type=2")
        if status != 200:
            raise AssertionError(f"listing bucket {self.name} got {status}: {body[:500]!r}")
        namespace = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
        return [element.text for element in ElementTree.fromstring(body).findall("s3:Contents/s3:Key", namespace)]

    def upload_data(self):
        """Keys under uploads/ and multipart uploads in progress: what unfinished uploads leave."""
        namespace = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
        keys = [key for key in self.keys() if key.startswith("uploads/")]
        status, body = self.request("GET", "", "uploads=")
        if status != 200:
            raise AssertionError(f"listing multipart uploads of {self.name} got {status}: {body[:500]!r}")
        keys += [element.text for element in ElementTree.fromstring(body).findall("s3:Upload/s3:Key", namespace)]
        return keys

    def remove(self):
        """Delete the bucket's objects and the bucket, so the memory-backed test OSD gets its space back."""
        for _ in range(20):
            keys = self.keys()
            if not keys:
                break
            for key in keys:
                self.request("DELETE", "/" + urllib.parse.quote(key))
        self.request("DELETE", "")


class MigrateStorageTest(unittest.TestCase):
    """Migrates one populated embedded deployment; each test checks one aspect of the result."""

    @classmethod
    def setUpClass(cls):
        require_tools("skopeo", "psql", "curl")
        cls.services = service_settings()
        cls.workdir = Path(tempfile.mkdtemp(prefix="berth-migrate-"))
        suffix = secrets.token_hex(4)
        cls.schema = f"migrate_{suffix}"
        cls.foreign_schema = f"migrate_foreign_{suffix}"
        cls.bucket = S3Bucket(cls.services, f"berth-migrate-{suffix}")
        cls.foreign_bucket = S3Bucket(cls.services, f"berth-migrate-foreign-{suffix}")
        cls.cluster = None
        cls.client_env = dict(os.environ, TMPDIR=str(cls.workdir), REGISTRY_AUTH_FILE=str(cls.workdir / "auth.json"))
        try:
            cls.populate_source()
            cls.bucket.create()
            cls.config = cls.write_config("node.yaml", cls.schema, cls.bucket.name)
            cls.killed_run = cls.run_killed_in_blob_phase()
            cls.accounts_after_kill = cls.psql(f'SELECT count(*) FROM "{cls.schema}".accounts')
            cls.uploads_after_kill = cls.bucket.upload_data()
            cls.second_run = cls.migrate(cls.config)
            cls.uploads_after_second_run = cls.bucket.upload_data()
            cls.third_run = cls.migrate(cls.config)
            # A berthd on a schema without the copy would create an account of
            # its own, and every check below would fail for that reason.
            if cls.second_run.returncode != 0:
                raise AssertionError("migrate-storage failed after the killed run:\n"
                                     f"{cls.second_run.stdout}\n{cls.second_run.stderr}")
            cls.cluster = cls.start_cluster()
            cls.target_views = cls.capture_views(cls.cluster)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.stop()
        for bucket in (cls.bucket, cls.foreign_bucket):
            try:
                bucket.remove()
            except (AssertionError, OSError, ElementTree.ParseError):
                pass
        for schema in (cls.schema, cls.foreign_schema):
            subprocess.run(["psql", "-q", cls.services["BERTH_TEST_POSTGRES"], "-c",
                            f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'], capture_output=True, timeout=120)
        shutil.rmtree(cls.workdir, ignore_errors=True)

    # --- the source ---------------------------------------------------------

    @classmethod
    def populate_source(cls):
        cls.source_dir = cls.workdir / "embedded"
        source = Berthd(cls.source_dir).start()
        try:
            cls.default_key = source.api_key
            cls.fill_default_account(source)
            cls.fill_second_account(source)
            cls.source_views = cls.capture_views(source)
        finally:
            source.stop()

    @classmethod
    def fill_default_account(cls, source):
        source.create_namespace("migrate")
        for layout, tag, repository, target_tag, copy_all in FIXTURE_IMAGES:
            cls.skopeo_push(source, cls.default_key, fixture(layout), tag, f"{repository}:{target_tag}", copy_all)
        response = source.request("POST", "/api/v1/images/tags?fromimage=migrate/busybox:latest"
                                  "&toimage=migrate/busybox:stable")
        assert response.status == 201, response

        large_layer = os.urandom(LARGE_LAYER_BYTES)
        cls.large_layer_digest = sha256_digest(large_layer)
        cls.push_image(source, "migrate/large", "v1", large_layer)
        del large_layer

        # A layer that only a trashed image references keeps its blob alive
        # through the trash's reference count alone.
        cls.push_image(source, "migrate/old", "v1", b"a layer that only the trash references")
        response = source.request("DELETE", "/api/v1/images/migrate/old:v1")
        assert response.status == 200, response

    @classmethod
    def fill_second_account(cls, source):
        for args in (("account-create", "acme", "--plan", "standard"),
                     ("user-create", "alice", "--account", "acme"),
                     ("policy-add", "--account", "acme", "--user", "alice", "--role", "Manager"),
                     ("namespace-add", "acmeteam", "--account", "acme")):
            result = source.admin(*args)
            assert result.returncode == 0, result
        result = source.admin("apikey-create", "--account", "acme", "--user", "alice", "--name", "ci")
        assert result.returncode == 0, result
        cls.alice_key = result.stdout.strip().splitlines()[-1].strip()

        alice = {"Authorization": basic_auth(cls.alice_key)}
        cls.skopeo_push(source, cls.alice_key, fixture("busybox"), "latest", "acmeteam/app:v1", False)
        cls.skopeo_push(source, cls.alice_key, fixture("alpine"), "3.19", "acmeteam/app:v2", False)
        response = source.request("DELETE", "/api/v1/images/acmeteam/app:v2", headers=alice)
        assert response.status == 200, response
        response = source.request("PATCH", "/api/v1/quotas", headers=alice,
                                  body=json.dumps({"storage_megabytes": 900, "traffic_megabytes": 4000}).encode())
        assert response.status == 200, response
        response = source.request("POST", "/api/v1/retentions", headers=alice, body=json.dumps(
            {"namespace": "acmeteam", "images_per_repo": 5, "retain_untagged": True}).encode())
        assert response.status == 201, response

    @classmethod
    def skopeo_push(cls, server, api_key, layout, tag, reference, copy_all):
        check_command(["skopeo", "copy", "--quiet", *(["--all"] if copy_all else []), "--dest-tls-verify=false",
                       "--dest-creds", f"iamapikey:{api_key}", f"oci:{layout.path}:{tag}",
                       f"docker://{server.address}/{reference}"], env=cls.client_env)

    @classmethod
    def push_image(cls, server, repository, tag, layer):
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                             "config": {"Labels": {"repository": repository}}}).encode()
        config_digest = push_blob(server, repository, config)
        layer_digest = push_blob(server, repository, layer)
        manifest = image_manifest(config_digest, len(config), [(layer_digest, len(layer))])
        response = server.request("PUT", f"/v2/{repository}/manifests/{tag}", body=manifest,
                                  headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        assert response.status == 201, response

    @classmethod
    def capture_views(cls, server):
        """Return each account's responses about its images, trash, quotas and retention policies,
        without the registry's address.

        VA fields are left out of the image list, because a new server may
        index an image the embedded one had not indexed yet.
        """
        views = {}
        for name, key in (("default", cls.default_key), ("acme", cls.alice_key)):
            headers = {"Authorization": basic_auth(key)}
            for path in ("/api/v1/account", "/api/v1/trash", "/api/v1/quotas", "/api/v1/retentions",
                         "/api/v1/images?includeManifestLists=true&vulnerabilities=false"):
                response = server.request("GET", path, headers=headers)
                assert response.status == 200, (path, response)
                views[name, path] = without_domain(response.body.decode(), server.address)
        return views

    # --- the migration ------------------------------------------------------

    @classmethod
    def write_config(cls, name, schema, bucket):
        services = cls.services
        path = cls.workdir / name
        path.write_text(json.dumps({
            "metadata": {"backend": "postgres",
                         "postgres": {"url": services["BERTH_TEST_POSTGRES"], "schema": schema}},
            "storage": {"backend": "s3",
                        "s3": {"endpoint": services["BERTH_TEST_S3_ENDPOINT"],
                               "region": services["BERTH_TEST_S3_REGION"], "bucket": bucket,
                               "access_key": services["BERTH_TEST_S3_ACCESS_KEY"],
                               "secret_key": services["BERTH_TEST_S3_SECRET_KEY"]}},
            "auth": {"signing_key": str(cls.workdir / "token-signing.pem")},
        }, indent=2))
        return path

    @classmethod
    def migrate_command(cls, config, *options):
        return [str(BERTHD), "admin", "migrate-storage", "--from", str(cls.source_dir), "--config", str(config),
                *options]

    @classmethod
    def berthd_env(cls):
        return {key: value for key, value in os.environ.items() if not key.startswith("BERTH_")}

    @classmethod
    def migrate(cls, config):
        return subprocess.run(cls.migrate_command(config), capture_output=True, text=True, timeout=MIGRATE_TIMEOUT,
                              env=cls.berthd_env())

    @classmethod
    def run_killed_in_blob_phase(cls):
        """Start migrate-storage and kill it with SIGKILL once a progress line shows some blobs done, not all.

        Two workers take the blobs largest first, so the large layer is
        still being copied while the other worker finishes smaller blobs.
        Returns the progress lines seen.
        """
        process = subprocess.Popen(cls.migrate_command(cls.config, "--parallel", "2", "--progress-seconds", "1"),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=cls.berthd_env())
        timer = threading.Timer(MIGRATE_TIMEOUT, process.kill)
        timer.start()
        lines = []
        try:
            for line in process.stderr:
                lines.append(line.rstrip("\n"))
                match = PROGRESS_LINE.search(line)
                if match and 0 < int(match.group(1)) < int(match.group(2)):
                    process.send_signal(signal.SIGKILL)
                    break
        finally:
            timer.cancel()
            process.stderr.close()
            status = process.wait(timeout=60)
        return {"status": status, "lines": lines}

    @classmethod
    def psql(cls, query):
        return check_command(["psql", "-qtA", cls.services["BERTH_TEST_POSTGRES"], "-c", query]).decode().strip()

    @classmethod
    def start_cluster(cls):
        """Three nodes behind HAProxy on the migrated schema and bucket."""
        services = cls.workdir / "services.env"
        services.write_text("".join(f"{name}={value}\n" for name, value in cls.services.items()))
        return MigratedCluster(cls.workdir / "cluster", cls.default_key, services, cls.schema,
                               cls.bucket.name).start()

    @classmethod
    def start_node(cls, config, name):
        return MigratedBerthd(cls.workdir / name, cls.default_key, ["--config", str(config)]).start()

    # --- the checks ---------------------------------------------------------

    def assert_migrated(self, run):
        self.assertEqual(run.returncode, 0, f"migrate-storage failed:\n{run.stdout}\n{run.stderr}")

    def test_killed_run_stopped_in_blob_phase(self):
        report = "\n".join(self.killed_run["lines"])
        self.assertEqual(self.killed_run["status"], -signal.SIGKILL, report)
        self.assertTrue(any(PROGRESS_LINE.search(line) for line in self.killed_run["lines"]), report)
        self.assertEqual(self.accounts_after_kill, "0", "rows were copied before the kill:\n" + report)

    def test_second_run_continues_with_verified_blobs(self):
        self.assert_migrated(self.second_run)
        summary = re.search(r"^blobs: (\d+) \(.*?\): (\d+) copied \(.*?\), (\d+) already in the target and verified",
                            self.second_run.stdout, re.MULTILINE)
        self.assertIsNotNone(summary, self.second_run.stdout)
        total, copied, verified = (int(group) for group in summary.groups())
        self.assertGreater(verified, 0, self.second_run.stdout)
        self.assertGreater(copied, 0, self.second_run.stdout)
        self.assertEqual(copied + verified, total, self.second_run.stdout)

    def test_second_run_deletes_unfinished_uploads(self):
        # The kill comes while a blob is being copied, unless it falls in
        # the moment between two blobs.
        if self.uploads_after_kill:
            self.assertIn("unfinished upload", self.second_run.stderr)
        self.assertEqual(self.uploads_after_second_run, [])

    def test_row_counts_equal_source(self):
        self.assert_migrated(self.second_run)
        counts = {}
        for line in self.second_run.stdout.splitlines():
            match = COUNT_LINE.match(line)
            if match:
                counts[match.group(1)] = (match.group(2), match.group(3))
        for table in ("accounts", "identities", "api_keys", "policies", "namespaces", "repositories", "blobs",
                      "manifests", "manifest_references", "tags", "trash", "trash_references", "account_quotas",
                      "retention_policies", "va_inventories", "account_blobs", "account_usage"):
            with self.subTest(table=table):
                self.assertIn(table, counts, self.second_run.stdout)
                source, target = counts[table]
                self.assertEqual(source, target)
        self.assertEqual(counts["accounts"][0], "2")
        self.assertEqual(counts["trash"][0], "2")
        self.assertEqual(counts["uploads"][1], "-")

    def test_third_run_finds_complete_copy(self):
        self.assert_migrated(self.third_run)
        self.assertIn("already held a complete copy", self.third_run.stdout)
        summary = re.search(r"^blobs: (\d+) \(.*?\): 0 copied", self.third_run.stdout, re.MULTILINE)
        self.assertIsNotNone(summary, self.third_run.stdout)

    def test_images_pull_back_identical(self):
        for layout_name, tag, repository, target_tag, copy_all in FIXTURE_IMAGES:
            with self.subTest(image=f"{repository}:{target_tag}"):
                layout = fixture(layout_name)
                pulled = OciLayout(self.workdir / "pulled" / f"{layout_name}-{tag}")
                pulled.path.parent.mkdir(exist_ok=True)
                check_command(["skopeo", "copy", "--quiet", *(["--all"] if copy_all else []),
                               "--src-tls-verify=false", "--src-creds", f"iamapikey:{self.default_key}",
                               f"docker://{self.cluster.address}/{repository}:{target_tag}",
                               f"oci:{pulled.path}:{tag}"], env=self.client_env)
                digest = layout.manifest_digest(tag)
                self.assertEqual(pulled.manifest_digest(tag), digest)
                reachable = layout.reachable_digests(digest)
                self.assertEqual(pulled.reachable_digests(digest), reachable)
                for item in reachable:
                    self.assertEqual(pulled.read_blob(item), layout.read_blob(item), item)

    def test_every_node_serves_the_copy(self):
        expected = fixture("busybox").manifest_digest("latest")
        for url in self.cluster.node_urls:
            with self.subTest(node=url):
                host, port = url.removeprefix("http://").rsplit(":", 1)
                node = http.client.HTTPConnection(host, int(port), timeout=60)
                try:
                    node.request("GET", "/v2/migrate/busybox/manifests/latest",
                                 headers={"Authorization": basic_auth(self.default_key),
                                          "Accept": "application/vnd.oci.image.manifest.v1+json"})
                    response = node.getresponse()
                    body = response.read()
                finally:
                    node.close()
                self.assertEqual(response.status, 200, body[:300])
                self.assertEqual(sha256_digest(body), expected)

    def test_tag_and_large_image_served(self):
        response = self.cluster.request("GET", "/v2/migrate/busybox/manifests/stable",
                                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        self.assertEqual(response.status, 200, response)
        self.assertEqual(sha256_digest(response.body), fixture("busybox").manifest_digest("latest"))

        response = self.cluster.request("GET", f"/v2/migrate/large/blobs/{self.large_layer_digest}", timeout=600)
        self.assertEqual(response.status, 200, response.status)
        self.assertEqual(len(response.body), LARGE_LAYER_BYTES)
        self.assertEqual(sha256_digest(response.body), self.large_layer_digest)

    def test_artifact_subject_and_children_served(self):
        layout = fixture("multi")
        index = json.loads(layout.read_blob(layout.manifest_digest("latest")))
        children, _ = content_digests(index)
        for child in children:
            with self.subTest(child=child):
                response = self.cluster.request("GET", f"/v2/migrate/multi/manifests/{child}",
                                             headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
                self.assertEqual(response.status, 200, response)
                self.assertEqual(response.body, layout.read_blob(child))
        busybox = fixture("busybox").manifest_digest("latest")
        response = self.cluster.request("GET", f"/v2/migrate/artifact/referrers/{busybox}")
        self.assertEqual(response.status, 200, response)
        referrers = [entry["digest"] for entry in response.json()["manifests"]]
        self.assertEqual(referrers, [fixture("artifact").manifest_digest("sbom")])

    def test_migrated_api_keys_log_in(self):
        for name, key in (("default", self.default_key), ("acme", self.alice_key)):
            with self.subTest(account=name):
                auth_file = self.workdir / f"login-{name}.json"
                check_command(["skopeo", "login", "--tls-verify=false", "--authfile", str(auth_file),
                               "-u", "iamapikey", "--password-stdin", self.cluster.address],
                              env=self.client_env, input=key.encode())
                response = self.cluster.request("GET", "/api/v1/account", headers={"Authorization": basic_auth(key)})
                self.assertEqual(response.status, 200, response)
                self.assertEqual(response.json()["account"]["name"], name)
        response = self.cluster.request("GET", "/api/v1/account", headers={"Authorization": basic_auth("x" * 40)})
        self.assertEqual(response.status, 401, response)

    def test_account_views_equal_source(self):
        for (account, path), expected in self.source_views.items():
            with self.subTest(account=account, path=path):
                self.assertEqual(self.target_views[account, path], expected)

    def test_trash_and_quota_contents(self):
        # The views compare equal above. These checks make sure that they
        # contain what the source was given, so that two empty responses
        # cannot pass.
        trash = self.source_views["default", "/api/v1/trash"]
        self.assertEqual([name.split("@")[0] for name in trash], ["migrate/old"])
        trash = self.source_views["acme", "/api/v1/trash"]
        self.assertEqual([entry["tags"] for entry in trash.values()], [["v2"]])
        quotas = self.source_views["acme", "/api/v1/quotas"]
        self.assertEqual(quotas["limit"]["storage_bytes"], 900 * 1048576)
        self.assertGreater(quotas["usage"]["storage_bytes"], 0)
        retention = self.source_views["acme", "/api/v1/retentions"]
        self.assertEqual(retention["acmeteam"]["images_per_repo"], 5)

    def test_verify_reports_target_clean(self):
        result = subprocess.run([str(BERTHD), "admin", "verify", "--deep", "--config", str(self.config),
                                 "--data", str(self.workdir / "node")],
                                capture_output=True, text=True, timeout=MIGRATE_TIMEOUT, env=self.berthd_env())
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("store is clean", result.stdout)

    def test_target_with_other_data_rejected(self):
        self.foreign_bucket.create()
        config = self.write_config("foreign.yaml", self.foreign_schema, self.foreign_bucket.name)
        # A berthd that starts on empty backends creates its own account default.
        self.start_node(config, "foreign-node").stop()
        result = self.migrate(config)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("already holds data that is not a copy", result.stderr)
        self.assertEqual(self.psql(f'SELECT count(*) FROM "{self.foreign_schema}".accounts'), "1")


if __name__ == "__main__":
    unittest.main()
