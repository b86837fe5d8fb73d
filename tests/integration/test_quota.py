"""Plans, storage quotas and pull traffic quotas of berthd, checked as a user would.

Every new account starts on the lite plan, which allows 512 MB (536870912
bytes) of storage and 5120 MB of pull traffic per calendar month (UTC). The
standard plan has no limits. An account may set its own lower quotas in
megabytes of 1048576 bytes.

Storage is the sum of the sizes of the distinct blobs and manifests of the
account's live images, tagged or untagged. Each digest counts once per
account, and trashed images count toward nothing. Pull traffic is the blob
bytes that GET sends, so a Range response counts the bytes of its range,
and HEAD and manifest GETs count nothing. The checks are check-then-act: a
request that starts below the limit completes. Once usage has reached the
limit, blob upload starts and manifest PUTs (storage) or blob GETs (traffic)
get 403 DENIED.

Each test class starts its own berthd. skopeo and podman push and pull the
fixture images (tests/fixtures/build-images) with a login in the class's
temporary directory, curl counts pull bytes exactly, and images that need
exact sizes are built here over the registry API. The tests compute the
expected usage themselves, from the pushed layouts or from the registry's
own manifests, and compare it with GET /api/v1/quotas and with /metrics.
"""

import json
import os
import subprocess
import time
import urllib.parse

from harness import sha256_digest
from test_clients import BERTH, ClientTestCase, fixture, output_tail, require_tools

MEGABYTE = 1048576
LITE_STORAGE_BYTES = 512 * MEGABYTE
LITE_TRAFFIC_BYTES = 5120 * MEGABYTE
STORAGE_MESSAGE = "Your account has exceeded its image storage quota for the current month."
TRAFFIC_MESSAGE = "Your account has exceeded its pull traffic quota for the current month."

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, "application/vnd.docker.distribution.manifest.v2+json",
                   "application/vnd.docker.distribution.manifest.list.v2+json"]

# Seconds to wait for a blob GET's bytes to appear in the usage. berthd adds
# them after the last byte is sent, so the client can ask a moment earlier.
TRAFFIC_SETTLE_TIMEOUT = 10


def quote(reference):
    return urllib.parse.quote(reference, safe="")


def layout_sizes(layout, digest):
    """Map the manifest `digest` of an OCI layout and every manifest, config and layer under it to its size."""
    return {item: layout.blob_path(item).stat().st_size for item in layout.reachable_digests(digest)}


def image_config(label):
    """Build an image config labelled with `label`, so each image gets its own config blob."""
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"image": label}},
                       "rootfs": {"type": "layers", "diff_ids": []}}, separators=(",", ":")).encode()


def image_manifest(config, layers):
    """Serialize an OCI image manifest for the config bytes and the layer byte strings."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256_digest(layer), "size": len(layer)} for layer in layers],
    }, separators=(",", ":")).encode()


def index_manifest(children):
    """Serialize an OCI index for `children` [(manifest bytes, architecture)]."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256_digest(manifest), "size": len(manifest),
                       "platform": {"architecture": architecture, "os": "linux"}}
                      for manifest, architecture in children],
    }, separators=(",", ":")).encode()


class Image:
    """An image built here: its config, layers and manifest bytes."""

    def __init__(self, label, layers):
        self.config = image_config(label)
        self.layers = list(layers)
        self.manifest = image_manifest(self.config, self.layers)
        self.digest = sha256_digest(self.manifest)

    def sizes(self):
        """Map the digest of the manifest, the config and each layer to its size."""
        sizes = {self.digest: len(self.manifest), sha256_digest(self.config): len(self.config)}
        sizes.update({sha256_digest(layer): len(layer) for layer in self.layers})
        return sizes


def image_of_exact_size(label, total):
    """Build an image with one random layer whose config, layer and manifest add up to `total` bytes."""
    config = image_config(label)
    # The manifest's length depends on the layer only through the number of
    # digits of its size, so a few rounds settle the size.
    layer_size = total - len(config)
    for _ in range(3):
        layer_size = total - len(config) - len(image_manifest(config, [bytes(layer_size)]))
    image = Image(label, [os.urandom(layer_size)])
    assert sum(image.sizes().values()) == total, image.sizes()
    return image


class QuotaTestCase(ClientTestCase):
    """Management API calls with any account's API key, exact usage figures and /metrics."""

    @classmethod
    def log_in_clients(cls):
        """Log skopeo in, and set podman up with its storage in the class's directory.

        podman reads the same REGISTRY_AUTH_FILE, so the one login serves both clients.
        """
        storage = cls.workdir / "podman"
        cls.podman_command = [
            "podman", "--root", str(storage / "root"), "--runroot", str(storage / "run"),
            "--tmpdir", str(storage / "libpod"), "--storage-driver", "vfs",
            "--events-backend", "file", "--cgroup-manager", "cgroupfs"]
        cls.log_in_containers_tool(["skopeo"])

    def api(self, method, path, body=None, key=None, headers=None):
        """Send one request to berthd with the API key `key` (default: the initial Manager key)."""
        headers = dict(headers or {})
        headers["Authorization"] = self.berthd.basic_auth(key)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        return self.berthd.request(method, path, body=body, headers=headers)

    def quotas(self, key=None):
        response = self.api("GET", "/api/v1/quotas", key=key)
        self.assertEqual(response.status, 200, response)
        return response.json()

    def storage_usage(self, key=None):
        return self.quotas(key)["usage"]["storage_bytes"]

    def set_quota(self, key=None, **megabytes):
        """PATCH /api/v1/quotas with storage_megabytes and/or traffic_megabytes."""
        response = self.api("PATCH", "/api/v1/quotas", megabytes, key=key)
        self.assertEqual(response.status, 200, f"PATCH /api/v1/quotas {megabytes}: {response}")

    def account_id(self, key=None):
        response = self.api("GET", "/api/v1/account", key=key)
        self.assertEqual(response.status, 200, response)
        return response.json()["account"]["id"]

    @classmethod
    def create_account(cls, name, namespaces=()):
        """Create an account with a Manager user and `namespaces` through `berthd admin`, and return its API key."""
        def admin(*args):
            result = cls.berthd.admin(*args)
            assert result.returncode == 0, f"berthd admin {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            return result.stdout

        admin("account-create", name)
        admin("user-create", "boss", "--account", name)
        admin("policy-add", "--account", name, "--user", "boss", "--role", "Manager")
        key = admin("apikey-create", "--account", name, "--user", "boss", "--name", "quota-tests")
        for namespace in namespaces:
            admin("namespace-add", namespace, "--account", name)
        return key.strip().splitlines()[-1]

    def wait_for_traffic(self, expected, key=None):
        """Wait until the traffic usage reaches `expected` bytes, and check that it is exactly that."""
        deadline = time.monotonic() + TRAFFIC_SETTLE_TIMEOUT
        used = self.quotas(key)["usage"]["traffic_bytes"]
        while used < expected and time.monotonic() < deadline:
            time.sleep(0.05)
            used = self.quotas(key)["usage"]["traffic_bytes"]
        self.assertEqual(used, expected, "pull traffic in bytes")

    def metrics(self):
        """Read the per-account quota gauges of /metrics as {(name, account id): value}."""
        response = self.berthd.request("GET", "/metrics", auth=False)
        self.assertEqual(response.status, 200, response)
        gauges = {}
        for line in response.body.decode().splitlines():
            if line.startswith("#") or '{account="' not in line:
                continue
            series, value = line.rsplit(" ", 1)
            name, labels = series.split("{", 1)
            gauges[(name, labels.removeprefix('account="').removesuffix('"}'))] = int(value)
        return gauges

    def assert_metrics_match_quotas(self, key=None):
        """Check that /metrics shows the same limits and usage for the account as GET /api/v1/quotas."""
        quotas = self.quotas(key)
        account = self.account_id(key)
        gauges = self.metrics()
        expected = {
            "berth_storage_bytes": quotas["usage"]["storage_bytes"],
            "berth_storage_quota_bytes": quotas["limit"]["storage_bytes"],
            "berth_pull_traffic_bytes": quotas["usage"]["traffic_bytes"],
            "berth_pull_traffic_quota_bytes": quotas["limit"]["traffic_bytes"],
        }
        for name, value in expected.items():
            self.assertEqual(gauges.get((name, account)), value, f"{name} of account {account} in /metrics")

    # --- The registry API with any account's key --------------------------------------------

    def start_upload(self, repository, key=None, query=""):
        return self.api("POST", f"/v2/{repository}/blobs/uploads/{query}", key=key)

    def upload_blob(self, repository, data, key=None):
        """Upload `data` with POST and one PUT, and return its digest."""
        digest = sha256_digest(data)
        started = self.start_upload(repository, key)
        self.assertEqual(started.status, 202, f"POST upload to {repository}: {started}")
        location = started.header("Location")
        path = location if location.startswith("/") else "/" + location.split("/", 3)[3]
        separator = "&" if "?" in path else "?"
        done = self.api("PUT", f"{path}{separator}digest={digest}", body=data, key=key,
                        headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(done.status, 201, f"PUT upload of {digest} to {repository}: {done}")
        return digest

    def mount_blob(self, repository, digest, source, key=None):
        response = self.start_upload(repository, key, f"?mount={quote(digest)}&from={quote(source)}")
        self.assertEqual(response.status, 201, f"mount of {digest} from {source} into {repository}: {response}")

    def put_manifest(self, repository, reference, manifest, key=None, media_type=OCI_MANIFEST):
        return self.api("PUT", f"/v2/{repository}/manifests/{reference}", body=manifest, key=key,
                        headers={"Content-Type": media_type})

    def push_built_image(self, repository, reference, image, key=None, upload=True):
        """Upload the config and the layers of `image` (unless `upload` is false) and PUT its manifest."""
        if upload:
            self.upload_blob(repository, image.config, key)
            for layer in image.layers:
                self.upload_blob(repository, layer, key)
        response = self.put_manifest(repository, reference, image.manifest, key)
        self.assertEqual(response.status, 201, f"PUT manifest {repository}:{reference}: {response}")

    def registry_sizes(self, repository, reference, key=None):
        """Map the digest of the manifest `reference` in berthd and of every manifest, config and layer under
        it to the size berthd stores. Manifest GETs and HEADs count no pull traffic."""
        response = self.api("GET", f"/v2/{repository}/manifests/{reference}", key=key,
                            headers={"Accept": MANIFEST_ACCEPT})
        self.assertEqual(response.status, 200, f"GET manifest {repository}:{reference}: {response}")
        sizes = {sha256_digest(response.body): len(response.body)}
        manifest = response.json()
        for child in manifest.get("manifests", []):
            sizes.update(self.registry_sizes(repository, child["digest"], key))
        for descriptor in ([manifest["config"]] if "config" in manifest else []) + manifest.get("layers", []):
            head = self.api("HEAD", f"/v2/{repository}/blobs/{descriptor['digest']}", key=key)
            self.assertEqual(head.status, 200, f"HEAD blob {descriptor['digest']} in {repository}: {head}")
            sizes[descriptor["digest"]] = int(head.header("Content-Length"))
        return sizes

    def assert_denied(self, response, message, request):
        self.assertEqual(response.status, 403, f"{request}: {response}")
        self.assertEqual(response.json()["errors"][0]["code"], "DENIED", f"{request}: {response}")
        self.assertEqual(response.json()["errors"][0]["message"], message, f"{request}: {response}")

    def assert_client_denied(self, result, message, command):
        """Check that a client command failed and that its output contains `message`."""
        output = result.stdout.decode(errors="replace") + result.stderr
        self.assertNotEqual(result.returncode, 0, f"{command} succeeded past the quota:\n{output_tail(output)}")
        self.assertIn(message, output, f"{command} output")


class StorageQuotaClientsTest(QuotaTestCase):
    """skopeo and podman push until a small custom storage quota is reached, and then are denied."""

    client_namespaces = ("storquota",)

    @classmethod
    def setUpClass(cls):
        require_tools("podman")
        super().setUpClass()
        cls.log_in_clients()

    def podman_build(self, name, text):
        """Build busybox plus a file containing `text` with podman, and return the local image reference."""
        context = self.workdir / f"context-{name}"
        context.mkdir()
        (context / "note.txt").write_text(text)
        base = self.image_reference("storquota/busybox", "latest")
        (context / "Containerfile").write_text(f"FROM {base}\nCOPY note.txt /note.txt\n")
        reference = self.image_reference(f"storquota/{name}", "v1")
        self.run_client(*self.podman_command, "build", "--quiet", "--isolation", "chroot", "--tls-verify=false",
                        "-t", reference, context)
        return reference

    def test_pushes_stop_at_storage_quota(self):
        self.set_quota(storage_megabytes=1)
        limit = self.quotas()["limit"]["storage_bytes"]
        self.assertEqual(limit, MEGABYTE)
        self.assertEqual(self.quotas()["limit"]["traffic_bytes"], LITE_TRAFFIC_BYTES)
        live = {}

        busybox = fixture("busybox")
        debian = fixture("debian")

        def push_busybox():
            self.skopeo_push(busybox, "latest", "storquota/busybox")
            return layout_sizes(busybox, busybox.manifest_digest("latest"))

        def push_podman_build():
            reference = self.podman_build("built", "built by podman under the quota\n")
            digest_file = self.workdir / "built.digest"
            self.run_client(*self.podman_command, "push", "--quiet", "--tls-verify=false",
                            "--digestfile", digest_file, reference)
            return self.registry_sizes("storquota/built", digest_file.read_text().strip())

        def push_debian():
            self.skopeo_push(debian, "bookworm", "storquota/debian")
            return layout_sizes(debian, debian.manifest_digest("bookworm"))

        # busybox and podman's small layer on top of it stay below 1 MB, so
        # the push of debian, an image with one manifest, starts below it too.
        for name, push in (("skopeo busybox", push_busybox), ("podman build", push_podman_build),
                           ("skopeo debian", push_debian)):
            self.assertLess(self.storage_usage(), limit, f"usage before {name}")
            live.update(push())
            self.assertEqual(self.storage_usage(), sum(live.values()), f"storage usage after {name}")
        used = self.storage_usage()
        self.assertGreaterEqual(used, limit)

        # skopeo: a push into a new repository, which starts with blob uploads
        # or mounts, and a new tag in the same repository, whose blobs exist,
        # so only its manifest PUT is left to deny.
        result = self.try_client("skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false",
                                 f"oci:{fixture('multi').path}:latest",
                                 self.docker_transport_reference("storquota/multi", "latest"))
        self.assert_client_denied(result, STORAGE_MESSAGE, "skopeo copy of multi")
        result = self.try_client("skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                                 f"oci:{busybox.path}:latest",
                                 self.docker_transport_reference("storquota/busybox", "again"))
        self.assert_client_denied(result, STORAGE_MESSAGE, "skopeo copy of busybox to a new tag")

        # podman: the same two cases, with a newly built image and a new tag.
        reference = self.podman_build("denied", "built by podman over the quota\n")
        result = self.try_client(*self.podman_command, "push", "--quiet", "--tls-verify=false", reference)
        self.assert_client_denied(result, STORAGE_MESSAGE, "podman push of a new image")
        new_tag = self.image_reference("storquota/built", "v2")
        self.run_client(*self.podman_command, "tag", self.image_reference("storquota/built", "v1"), new_tag)
        result = self.try_client(*self.podman_command, "push", "--quiet", "--tls-verify=false", new_tag)
        self.assert_client_denied(result, STORAGE_MESSAGE, "podman push of a new tag")

        self.assertEqual(self.storage_usage(), used, "storage usage after the denied pushes")
        for repository, tag in (("storquota/multi", "latest"), ("storquota/busybox", "again"),
                                ("storquota/denied", "v1"), ("storquota/built", "v2")):
            response = self.api("GET", f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
            self.assertEqual(response.status, 404, f"{repository}:{tag} after a denied push: {response}")
        self.assert_metrics_match_quotas()


class TrafficQuotaTest(QuotaTestCase):
    """Pull traffic counts blob bytes sent by GET, and pulls stop once a small traffic quota is reached."""

    client_namespaces = ("trafquota",)

    @classmethod
    def setUpClass(cls):
        require_tools("podman", "curl")
        super().setUpClass()
        cls.log_in_clients()

    def curl(self, *args):
        """Run curl with berthd's API key (given on standard input, so not in the process list).

        Returns (HTTP status, body bytes).
        """
        body_file = self.workdir / "curl-body"
        credentials = f'user = "iamapikey:{self.berthd.api_key}"\n'
        result = subprocess.run(["curl", "--silent", "--show-error", "--config", "-", "--output", str(body_file),
                                 "--write-out", "%{http_code}", *args],
                                input=credentials.encode(), capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, f"curl {' '.join(args)}: {result.stderr.decode(errors='replace')}")
        return int(result.stdout), body_file.read_bytes()

    def skopeo_pull(self, number):
        destination = self.workdir / f"pulled-{number}"
        return self.try_client("skopeo", "copy", "--quiet", "--src-tls-verify=false",
                               self.docker_transport_reference("trafquota/busybox", "latest"), f"dir:{destination}")

    def test_pulls_stop_at_traffic_quota(self):
        busybox = fixture("busybox")
        manifest = busybox.read_json(busybox.manifest_digest("latest"))
        config = manifest["config"]
        (layer,) = manifest["layers"]
        self.skopeo_push(busybox, "latest", "trafquota/busybox")
        self.assertEqual(self.quotas()["usage"]["traffic_bytes"], 0, "a push counts no pull traffic")
        self.set_quota(traffic_megabytes=3)
        limit = self.quotas()["limit"]
        self.assertEqual(limit, {"storage_bytes": LITE_STORAGE_BYTES, "traffic_bytes": 3 * MEGABYTE})
        limit = limit["traffic_bytes"]

        blob_url = f"{self.berthd.url}/v2/trafquota/busybox/blobs/{layer['digest']}"
        layer_bytes = busybox.read_blob(layer["digest"])
        status, body = self.curl(blob_url)
        self.assertEqual((status, body), (200, layer_bytes))
        self.assertEqual(len(layer_bytes), layer["size"])
        self.wait_for_traffic(layer["size"])

        status, body = self.curl("--range", "100-199", blob_url)
        self.assertEqual((status, body), (206, layer_bytes[100:200]))
        self.wait_for_traffic(layer["size"] + 100)

        # A HEAD, a manifest GET and a 304 send no blob bytes. The 1-byte
        # Range GET after them must then bring the total to exactly one more.
        status, _ = self.curl("--head", blob_url)
        self.assertEqual(status, 200)
        status, body = self.curl("--header", f"Accept: {OCI_MANIFEST}",
                                 f"{self.berthd.url}/v2/trafquota/busybox/manifests/latest")
        self.assertEqual((status, body), (200, busybox.read_blob(busybox.manifest_digest("latest"))))
        status, _ = self.curl("--header", f'If-None-Match: "{layer["digest"]}"', blob_url)
        self.assertEqual(status, 304)
        status, body = self.curl("--range", "0-0", blob_url)
        self.assertEqual((status, body), (206, layer_bytes[:1]))
        traffic = layer["size"] + 100 + 1
        self.wait_for_traffic(traffic)

        # Each skopeo pull into a new directory GETs the config and the layer
        # once, in an order of skopeo's choosing. Pull while every one of its
        # GETs is sure to start below the limit, so every pull must succeed.
        pull_bytes = config["size"] + layer["size"]
        smallest_blob = min(config["size"], layer["size"])
        pulls = 0
        while traffic + pull_bytes - smallest_blob < limit:
            pulls += 1
            result = self.skopeo_pull(pulls)
            self.assertEqual(result.returncode, 0, f"pull {pulls} at {traffic} bytes:\n{output_tail(result.stderr)}")
            traffic += pull_bytes
            self.wait_for_traffic(traffic)
        self.assertGreater(pulls, 0)

        # A GET that starts below the limit sends the whole blob, even past the limit.
        self.assertLess(traffic, limit)
        status, body = self.curl(blob_url)
        self.assertEqual((status, body), (200, layer_bytes))
        traffic += layer["size"]
        self.wait_for_traffic(traffic)
        self.assertGreaterEqual(traffic, limit)

        # skopeo 1.9.3 and podman 4.3.1 report a failed blob GET only as
        # "invalid status code from registry 403 (Forbidden)", without the
        # registry's message, so curl reads the message.
        image = self.image_reference("trafquota/busybox", "latest")
        for client, result in (
                ("skopeo", self.skopeo_pull("denied")),
                ("podman", self.try_client(*self.podman_command, "pull", "--quiet", "--tls-verify=false", image))):
            with self.subTest(client=client):
                self.assert_client_denied(result, "403 (Forbidden)", f"{client} pull over the traffic quota")
        status, body = self.curl(blob_url)
        self.assertEqual(status, 403)
        error = json.loads(body)["errors"][0]
        self.assertEqual((error["code"], error["message"]), ("DENIED", TRAFFIC_MESSAGE))
        status, body = self.curl("--range", "0-0", blob_url)
        self.assertEqual(status, 403)
        # HEAD and manifests stay available, because they count no traffic.
        status, _ = self.curl("--head", blob_url)
        self.assertEqual(status, 200)
        status, _ = self.curl(f"{self.berthd.url}/v2/trafquota/busybox/manifests/latest")
        self.assertEqual(status, 200)
        self.wait_for_traffic(traffic)
        self.assert_metrics_match_quotas()

        # A higher quota lets the pulls through again.
        self.set_quota(traffic_megabytes=5)
        result = self.skopeo_pull("raised")
        self.assertEqual(result.returncode, 0, output_tail(result.stderr))
        self.wait_for_traffic(traffic + pull_bytes)
        self.assert_metrics_match_quotas()


class PlanLimitsTest(QuotaTestCase):
    """Quotas above the lite plan's limits are rejected, and plan-upgrade lifts the plan's limits.

    Plans and quotas belong to an account, so each test has an account of its own.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.limits_key = cls.create_account("limitsacct")
            cls.upgrade_key = cls.create_account("upgradeacct", namespaces=("planquota",))
            cls.cli_key = cls.create_account("cliacct")
        except BaseException:
            cls.tearDownClass()
            raise

    def berth_env(self, key):
        """Log the berth CLI in to berthd with `key` from a private BERTH_HOME, and return its environment."""
        home = self.workdir / "berth-home"
        env = {name: value for name, value in os.environ.items() if not name.startswith("BERTH")}
        env.update(HOME=str(home), BERTH_HOME=str(home / ".berth"), REGISTRY_AUTH_FILE=str(self.workdir / "cli.json"))
        for args, stdin in ((["region-add", "test", "--domain", self.berthd.address,
                              "--api-endpoint", self.berthd.url], None),
                            (["region-set", "test"], None),
                            (["login", "--client", "podman", "--apikey", "-"], key)):
            result = self.berth(env, *args, input=stdin)
            self.assertEqual(result.returncode, 0, f"berth {' '.join(args)}:\n{result.stdout}{result.stderr}")
        return env

    @staticmethod
    def berth(env, *args, input=None):
        return subprocess.run([str(BERTH), *map(str, args)], input=input, capture_output=True, text=True,
                              env=env, timeout=120)

    def plan(self, key):
        response = self.api("GET", "/api/v1/plans", key=key)
        self.assertEqual(response.status, 200, response)
        return response.json()["plan"]

    def assert_rejected(self, response, message):
        self.assertEqual(response.status, 400, response)
        self.assertEqual(response.json()["errors"][0]["message"], message)

    def test_quota_above_lite_limits_rejected(self):
        key = self.limits_key
        lite = {"storage_bytes": LITE_STORAGE_BYTES, "traffic_bytes": LITE_TRAFFIC_BYTES}
        self.assertEqual(self.plan(key), "lite")
        self.assertEqual(self.quotas(key)["limit"], lite)

        upgrade_hint = "Set a lower quota, or upgrade the plan with 'berth plan-upgrade'."
        for body, message in (
                ({"storage_megabytes": 513},
                 f"The storage quota of 513 MB is above the lite plan's limit of 512 MB. {upgrade_hint}"),
                ({"traffic_megabytes": 5121},
                 f"The traffic quota of 5121 MB is above the lite plan's limit of 5120 MB. {upgrade_hint}"),
                ({"storage_megabytes": -1},
                 f"An unlimited storage quota is above the lite plan's limit of 512 MB. {upgrade_hint}"),
                ({"storage_megabytes": 10, "traffic_megabytes": 6000},
                 f"The traffic quota of 6000 MB is above the lite plan's limit of 5120 MB. {upgrade_hint}")):
            with self.subTest(body=body):
                self.assert_rejected(self.api("PATCH", "/api/v1/quotas", body, key=key), message)
        # Nothing of a rejected request is stored, not even its valid storage quota.
        self.assertEqual(self.quotas(key)["limit"], lite)

        self.set_quota(key, storage_megabytes=512, traffic_megabytes=5120)
        self.assertEqual(self.quotas(key)["limit"], lite)
        self.set_quota(key, storage_megabytes=0)
        self.assertEqual(self.quotas(key)["limit"], {"storage_bytes": 0, "traffic_bytes": LITE_TRAFFIC_BYTES})
        self.assert_metrics_match_quotas(key)

    def test_upgrade_lifts_limits_and_custom_quota(self):
        key = self.upgrade_key
        self.assertEqual(self.quotas(key)["limit"],
                         {"storage_bytes": LITE_STORAGE_BYTES, "traffic_bytes": LITE_TRAFFIC_BYTES})
        # An image of exactly 1 MB, so that a 1 MB quota equals the usage.
        first = image_of_exact_size("first", MEGABYTE)
        self.push_built_image("planquota/app", "v1", first, key=key)
        self.assertEqual(self.storage_usage(key), MEGABYTE)

        self.set_quota(key, storage_megabytes=1)
        self.assertEqual(self.quotas(key)["limit"], {"storage_bytes": MEGABYTE, "traffic_bytes": LITE_TRAFFIC_BYTES})
        self.assert_denied(self.start_upload("planquota/app", key), STORAGE_MESSAGE, "blob upload at the quota")
        # The blobs of the first image are there, so only the manifest PUT can be denied.
        self.assert_denied(self.put_manifest("planquota/app", "v1-copy", first.manifest, key), STORAGE_MESSAGE,
                           "manifest PUT at the quota")
        self.assertEqual(self.storage_usage(key), MEGABYTE)

        upgraded = self.api("PATCH", "/api/v1/plans", {"plan": "standard"}, key=key)
        self.assertEqual(upgraded.status, 204, upgraded)
        self.assertEqual(self.plan(key), "standard")
        # The custom storage quota stays, and the plan's traffic limit is gone.
        self.assertEqual(self.quotas(key)["limit"], {"storage_bytes": MEGABYTE, "traffic_bytes": -1})
        self.assert_denied(self.start_upload("planquota/app", key), STORAGE_MESSAGE,
                           "blob upload on standard at the custom quota")

        self.set_quota(key, storage_megabytes=-1)
        self.assertEqual(self.quotas(key)["limit"], {"storage_bytes": -1, "traffic_bytes": -1})
        second = Image("second", [os.urandom(1000)])
        self.push_built_image("planquota/app", "v2", second, key=key)
        self.assertEqual(self.storage_usage(key), MEGABYTE + sum(second.sizes().values()))
        # The standard plan accepts quotas above the lite plan's limits.
        self.set_quota(key, storage_megabytes=600, traffic_megabytes=6000)
        self.assertEqual(self.quotas(key)["limit"],
                         {"storage_bytes": 600 * MEGABYTE, "traffic_bytes": 6000 * MEGABYTE})

        same = self.api("PATCH", "/api/v1/plans", {"plan": "standard"}, key=key)
        self.assertEqual(same.status, 204, same)
        self.assert_rejected(self.api("PATCH", "/api/v1/plans", {"plan": "lite"}, key=key),
                             "The account is on the 'standard' plan, and a plan cannot be downgraded to 'lite'.")
        self.assertEqual(self.plan(key), "standard")
        self.assert_metrics_match_quotas(key)

    def test_berth_quota_set_and_plan_upgrade(self):
        if not BERTH.exists():
            self.skipTest(f"berth CLI not built at {BERTH}")
        key = self.cli_key
        env = self.berth_env(key)
        lite = {"storage_bytes": LITE_STORAGE_BYTES, "traffic_bytes": LITE_TRAFFIC_BYTES}
        self.assertEqual(self.quotas(key)["limit"], lite)

        for option, value, plan_limit in (("--storage", "600", 512), ("--traffic", "6000", 5120)):
            with self.subTest(option=option):
                result = self.berth(env, "quota-set", option, value)
                self.assertEqual(result.returncode, 1, f"berth quota-set {option} {value}: {result.stdout}")
                self.assertTrue(result.stderr.startswith("FAILED\n"), result.stderr)
                self.assertIn(f"quota of {value} MB is above the lite plan's limit of {plan_limit} MB",
                              result.stderr)
                self.assertIn("berth plan-upgrade", result.stderr)
        self.assertEqual(self.quotas(key)["limit"], lite)

        result = self.berth(env, "plan-upgrade")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("Your account is now on the 'standard' plan.", result.stdout)
        self.assertTrue(result.stdout.endswith("\nOK\n"), result.stdout)
        self.assertEqual(self.quotas(key)["limit"], {"storage_bytes": -1, "traffic_bytes": -1})
        # The plan belongs to the account, so the default account stays on lite.
        self.assertEqual(self.plan(None), "lite")

        result = self.berth(env, "quota-set", "--storage", "600")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(self.quotas(key)["limit"], {"storage_bytes": 600 * MEGABYTE, "traffic_bytes": -1})
        self.assert_metrics_match_quotas(key)


class SharedLayerUsageTest(QuotaTestCase):
    """A 50 MiB layer shared by two images of one account counts once; another account counts it again."""

    client_namespaces = ("shareone", "sharetwo")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.other_key = cls.create_account("otheracct", namespaces=("sharethree",))
        except BaseException:
            cls.tearDownClass()
            raise

    def test_shared_layer_counted_once_per_account(self):
        layer = os.urandom(50 * MEGABYTE)
        first = Image("first", [layer])
        second = Image("second", [layer])
        third = Image("third", [layer])
        self.assertNotEqual(first.config, second.config)
        layer_size = len(layer)

        def rest(image):
            """Count the bytes of `image` beside the shared layer, which are its config and its manifest."""
            return len(image.config) + len(image.manifest)

        self.push_built_image("shareone/app", "v1", first)
        self.assertEqual(self.storage_usage(), layer_size + rest(first))

        # The second namespace gets the layer by a cross-repository mount, as clients do.
        self.upload_blob("sharetwo/app", second.config)
        self.mount_blob("sharetwo/app", sha256_digest(layer), "shareone/app")
        self.push_built_image("sharetwo/app", "v1", second, upload=False)
        self.assertEqual(self.storage_usage(), layer_size + rest(first) + rest(second))

        # Another account uploads the same layer and pays for it in full.
        self.push_built_image("sharethree/app", "v1", third, key=self.other_key)
        self.assertEqual(self.storage_usage(self.other_key), layer_size + rest(third))
        self.assertEqual(self.storage_usage(), layer_size + rest(first) + rest(second))

        # Trashing one image drops only its config and manifest, because the other still uses the layer.
        response = self.api("DELETE", f"/api/v1/images/{quote('shareone/app:v1')}")
        self.assertEqual(response.status, 200, response)
        self.assertEqual(self.storage_usage(), layer_size + rest(second))
        response = self.api("DELETE", f"/api/v1/images/{quote('sharetwo/app:v1')}")
        self.assertEqual(response.status, 200, response)
        self.assertEqual(self.storage_usage(), 0)
        self.assertEqual(self.storage_usage(self.other_key), layer_size + rest(third))

        # Restoring one from the trash counts the layer again.
        reference = f"{self.berthd.address}/shareone/app@{first.digest}"
        response = self.api("POST", f"/api/v1/trash/{quote(reference)}/restoretags")
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"successful": ["v1"], "unsuccessful": []})
        self.assertEqual(self.storage_usage(), layer_size + rest(first))
        self.assert_metrics_match_quotas()
        self.assert_metrics_match_quotas(self.other_key)
        self.assert_store_clean()


class UsageRecountTest(QuotaTestCase):
    """After each step of a mixed sequence, usage equals a recount of what is live."""

    client_namespaces = ("recounta", "recountb")

    def live_usage(self):
        """Recount storage from berthd's listing of live images and their manifests."""
        response = self.api("POST", "/api/v1/images/digests", {})
        self.assertEqual(response.status, 200, response)
        sizes = {}
        for image in response.json():
            for repository in image["repoTags"]:
                repository = repository.removeprefix(self.berthd.address + "/")
                sizes.update(self.registry_sizes(repository, image["id"]))
        return sum(sizes.values())

    def assert_usage(self, live, step):
        """Check the usage against the images that the test expects to be live, and against berthd's listing."""
        expected = {}
        for sizes in live.values():
            expected.update(sizes)
        used = self.storage_usage()
        self.assertEqual(used, sum(expected.values()), f"usage after {step}, from the images pushed")
        self.assertEqual(used, self.live_usage(), f"usage after {step}, from berthd's listing")

    def test_usage_matches_recount_after_mixed_sequence(self):
        shared = os.urandom(300_000)
        app_v1 = Image("app v1", [shared, os.urandom(200_000)])
        app_v2 = Image("app v2", [shared, os.urandom(100_000)])
        tool = Image("tool", [shared])
        amd64 = Image("multi amd64", [os.urandom(50_000)])
        arm64 = Image("multi arm64", [os.urandom(60_000)])
        index = index_manifest([(amd64.manifest, "amd64"), (arm64.manifest, "arm64")])
        index_digest = sha256_digest(index)
        multi_sizes = {index_digest: len(index), **amd64.sizes(), **arm64.sizes()}
        live = {}

        self.push_built_image("recounta/app", "v1", app_v1)
        live["recounta/app@v1"] = app_v1.sizes()
        self.push_built_image("recounta/app", "v2", app_v2)
        live["recounta/app@v2"] = app_v2.sizes()
        self.push_built_image("recountb/tool", "1", tool)
        live["recountb/tool"] = tool.sizes()
        self.push_built_image("recounta/multi", amd64.digest, amd64)
        self.push_built_image("recounta/multi", arm64.digest, arm64)
        response = self.put_manifest("recounta/multi", "latest", index, media_type=OCI_INDEX)
        self.assertEqual(response.status, 201, response)
        live["recounta/multi"] = multi_sizes
        self.assert_usage(live, "the pushes")

        # A copy in the other namespace shares every digest, so nothing changes.
        response = self.api("POST", "/api/v1/images/tags?fromimage=" + quote("recounta/app:v1") +
                            "&toimage=" + quote("recountb/copy:v1"))
        self.assertEqual(response.status, 201, response)
        live["recountb/copy"] = app_v1.sizes()
        self.assert_usage(live, "the tag copy")

        # An untagged image is still live.
        response = self.api("DELETE", f"/api/v1/tags/{quote('recounta/app:v2')}")
        self.assertEqual(response.status, 200, response)
        self.assert_usage(live, "untagging app:v2")

        response = self.api("DELETE", f"/api/v1/images/{quote('recounta/app@' + app_v2.digest)}")
        self.assertEqual(response.status, 200, response)
        del live["recounta/app@v2"]
        self.assert_usage(live, "trashing app@v2")

        response = self.api("DELETE", f"/api/v1/images/{quote('recounta/multi:latest')}")
        self.assertEqual(response.status, 200, response)
        del live["recounta/multi"]
        self.assert_usage(live, "trashing the index with its children")

        response = self.api("POST", f"/api/v1/trash/{quote('recounta/app@' + app_v2.digest)}/restoretags")
        self.assertEqual(response.status, 200, response)
        live["recounta/app@v2"] = app_v2.sizes()
        self.assert_usage(live, "restoring app@v2")
        response = self.api("POST", f"/api/v1/trash/{quote('recounta/multi:latest')}/restore")
        self.assertEqual(response.status, 200, response)
        live["recounta/multi"] = multi_sizes
        self.assert_usage(live, "restoring the index by its tag")

        # Trash an image, then delete its namespace: neither the live images nor the trash of it count.
        response = self.api("DELETE", f"/api/v1/images/{quote('recountb/tool:1')}")
        self.assertEqual(response.status, 200, response)
        del live["recountb/tool"]
        self.assert_usage(live, "trashing tool:1")
        response = self.api("DELETE", "/api/v1/namespaces/recountb")
        self.assertEqual(response.status, 204, response)
        del live["recountb/copy"]
        self.assert_usage(live, "deleting the namespace recountb")

        # The namespace again, with the tool image uploaded anew.
        response = self.api("PUT", "/api/v1/namespaces/recountb")
        self.assertEqual(response.status, 201, response)
        self.push_built_image("recountb/tool", "1", tool)
        live["recountb/tool"] = tool.sizes()
        self.assert_usage(live, "pushing tool:1 into the new namespace")

        # A manifest deleted over the registry API goes to the trash and stops counting.
        response = self.api("DELETE", f"/v2/recounta/app/manifests/{app_v1.digest}")
        self.assertEqual(response.status, 202, response)
        del live["recounta/app@v1"]
        self.assert_usage(live, "deleting app@v1 over the registry API")

        # Pushed again while its copy waits in the trash, and then restored
        # from the trash as well, the image still counts once.
        self.push_built_image("recounta/app", "v1", app_v1)
        live["recounta/app@v1"] = app_v1.sizes()
        self.assert_usage(live, "pushing app:v1 again")
        response = self.api("POST", f"/api/v1/trash/{quote('recounta/app@' + app_v1.digest)}/restoretags")
        self.assertEqual(response.status, 200, response)
        # The live tag already points at this digest, so it counts as restored.
        self.assertEqual(response.json(), {"successful": ["v1"], "unsuccessful": []})
        self.assert_usage(live, "restoring app@v1 over its live copy")

        # Garbage collection removes only blobs that nothing uses, so usage stays.
        result = self.berthd.admin("gc")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assert_usage(live, "garbage collection")
        self.assert_metrics_match_quotas()
        self.assert_store_clean()
