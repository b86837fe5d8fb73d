"""Round trips through berthd with real registry clients.

skopeo, podman, buildah and Debian's Docker engine (docker.io) push the
fixture images into a berthd on 127.0.0.1 and pull them back, and the tests
compare every manifest and blob with the source. Each test class starts its
own berthd on a fresh data directory and ends every round trip with
`berthd admin verify`.

berthd requires credentials. Each class creates the namespaces that its
repositories use and logs in with the client's own login command, the user
name iamapikey and the API key that berthd wrote on its first start. The
containers/image tools (skopeo, podman, buildah) share an auth file in the
class's temporary directory through REGISTRY_AUTH_FILE, and docker keeps its
login in a private DOCKER_CONFIG, so no login reaches the machine's own
credential files. Each of skopeo, podman and docker also checks that a login
with a wrong key fails with 401 and that one with the right key succeeds.

podman, buildah and dockerd keep their storage in the class's temporary
directory and use the vfs storage driver. podman and buildah run without a
daemon. skopeo 1.9.3 has no option for its blob-info cache, so as root it
keeps using /var/lib/containers/cache.

The Docker engine tests start a private dockerd (no bridge, no iptables) on a
Unix socket in the temporary directory. They fail when dockerd does not start.
Set TEST_SKIP_DOCKER=1 to skip them instead.
"""

import gzip
import hashlib
import http.client
import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import unittest
from pathlib import Path

from harness import FIXTURES, Berthd, BerthdTestCase, sha256_digest

# Seconds that one client command may take before the test kills it.
CLIENT_TIMEOUT = 600
# Seconds to wait for dockerd to respond on its socket, and then to exit.
DOCKERD_START_TIMEOUT = 90
DOCKERD_STOP_TIMEOUT = 60

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST]
REF_NAME = "org.opencontainers.image.ref.name"


def output_tail(text, lines=40):
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def run_command(args, env=None, timeout=CLIENT_TIMEOUT, input=None):
    """Run a client command and return its CompletedProcess (stdout as bytes, stderr as text).

    `input` (bytes) goes to the command's standard input. subprocess.run kills the command
    when it exceeds `timeout`.
    """
    result = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            timeout=timeout)
    result.stderr = result.stderr.decode(errors="replace")
    return result


def check_command(args, env=None, timeout=CLIENT_TIMEOUT, input=None):
    """Run a client command and return its stdout as bytes. Raise AssertionError if it fails."""
    result = run_command(args, env=env, timeout=timeout, input=input)
    if result.returncode != 0:
        raise AssertionError(
            f"{shlex.join(args)} failed with exit status {result.returncode}\n"
            f"stdout:\n{output_tail(result.stdout)}\nstderr:\n{output_tail(result.stderr)}")
    return result.stdout


def require_tools(*names):
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not found on PATH. Install the test clients with scripts/bootstrap.")


def file_sha256(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def files_equal(first, second):
    """Compare two files byte for byte."""
    with open(first, "rb") as a, open(second, "rb") as b:
        while True:
            chunk_a = a.read(1 << 20)
            chunk_b = b.read(1 << 20)
            if chunk_a != chunk_b:
                return False
            if not chunk_a:
                return True


def content_digests(manifest):
    """Split what a manifest or index refers to into (child manifests, config and layer blobs).

    A subject refers to another manifest without containing it, so it is in
    neither list.
    """
    children = [descriptor["digest"] for descriptor in manifest.get("manifests", [])]
    blobs = [manifest["config"]["digest"]] if "config" in manifest else []
    blobs += [layer["digest"] for layer in manifest.get("layers", [])]
    return children, blobs


def layer_files(blob):
    """Map each regular file in a gzip-compressed layer tar to its content."""
    files = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:") as archive:
        for member in archive:
            if member.isfile():
                name = member.name.removeprefix("./").removeprefix("/")
                files[name] = archive.extractfile(member).read()
    return files


class OciLayout:
    """An OCI image layout directory as skopeo's oci: transport reads and writes it."""

    def __init__(self, path):
        self.path = Path(path)

    def blob_path(self, digest):
        algorithm, encoded = digest.split(":", 1)
        return self.path / "blobs" / algorithm / encoded

    def read_blob(self, digest):
        return self.blob_path(digest).read_bytes()

    def read_json(self, digest):
        return json.loads(self.read_blob(digest))

    def manifest_descriptor(self, tag):
        index = json.loads((self.path / "index.json").read_text())
        for descriptor in index["manifests"]:
            if descriptor.get("annotations", {}).get(REF_NAME) == tag:
                return descriptor
        raise AssertionError(f"OCI layout {self.path} has no manifest tagged {tag!r}")

    def manifest_digest(self, tag):
        return self.manifest_descriptor(tag)["digest"]

    def reachable_digests(self, digest):
        """Return the digest of a manifest and of every manifest, config and layer it contains, recursively."""
        found = set()
        pending = [digest]
        while pending:
            current = pending.pop()
            if current in found:
                continue
            found.add(current)
            children, blobs = content_digests(self.read_json(current))
            pending.extend(children)
            found.update(blobs)
        return found

    def diff_ids(self, manifest_digest):
        config_digest = self.read_json(manifest_digest)["config"]["digest"]
        return self.read_json(config_digest)["rootfs"]["diff_ids"]


def fixture(name):
    layout = OciLayout(FIXTURES / name)
    if not (layout.path / "index.json").exists():
        raise RuntimeError(f"fixture layout {layout.path} is missing. Build it with tests/fixtures/build-images.")
    return layout


def saved_logins(auth_file):
    """Return the registries that a containers auth file or a docker config.json contains credentials for."""
    path = Path(auth_file)
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("auths", {})


BERTH = Path(os.environ.get("BERTH", Path(__file__).resolve().parents[2] / "build" / "berth"))


def berth_login(berthd, workdir, client, env):
    """Log `client` in with `berth login --client CLIENT`, from a fresh berth configuration in `workdir`
    that targets `berthd`; `env` sets where the client keeps its credentials."""
    env = dict(env, BERTH_HOME=str(workdir / f"berth-{client}"))
    env.pop("BERTH_APIKEY", None)
    env.pop("BERTH_REGION", None)
    check_command([str(BERTH), "region-add", "test", "--domain", berthd.address,
                   "--api-endpoint", f"http://{berthd.address}"], env=env)
    check_command([str(BERTH), "region-set", "test"], env=env)
    output = check_command([str(BERTH), "login", "--client", client, "--apikey", "-"], env=env,
                           input=berthd.api_key.encode()).decode()
    if f"Logged in to '{berthd.address}'." not in output:
        raise AssertionError(f"berth login printed no success line:\n{output}")


class ClientTestCase(BerthdTestCase):
    """Shared helpers: client commands in a private environment and checks against berthd."""

    # Namespaces of the repositories that the class pushes to. setUpClass creates them in berthd.
    client_namespaces = ()

    @classmethod
    def setUpClass(cls):
        require_tools("skopeo")
        super().setUpClass()
        # The containers/image tools keep temporary image content in $TMPDIR, else
        # in /var/tmp (image_copy_tmp_dir in containers.conf(5)).
        cls.client_tmp = cls.workdir / "tmp"
        cls.client_tmp.mkdir()
        # skopeo, podman and buildah read and write logins in REGISTRY_AUTH_FILE when
        # no --authfile is given, instead of /run/containers/0/auth.json.
        cls.auth_file = cls.workdir / "auth.json"
        cls.client_env = dict(os.environ, TMPDIR=str(cls.client_tmp), REGISTRY_AUTH_FILE=str(cls.auth_file))
        try:
            for namespace in cls.client_namespaces:
                cls.berthd.create_namespace(namespace)
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def log_in(cls, login_command, env):
        """Run a client's login command with user iamapikey and berthd's initial API key.

        The key goes to standard input, so it stays out of the process list. unittest skips
        tearDownClass when setUpClass fails, so a failed login tears the class down here.
        """
        try:
            check_command([*map(str, login_command), "--username", "iamapikey", "--password-stdin",
                           cls.berthd.address], env=env, input=cls.berthd.api_key.encode())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def log_in_containers_tool(cls, client_command):
        """Log in with `skopeo login`, `podman login` or `buildah login` into the class's auth file."""
        cls.log_in([*client_command, "login", "--tls-verify=false", "--authfile", cls.auth_file], cls.client_env)

    def wrong_api_key(self):
        """Return berthd's API key with its last character changed, as a mistyped key."""
        key = self.berthd.api_key
        return key[:-1] + ("A" if key[-1] != "A" else "B")

    def assert_login_rejected(self, result, log_start):
        """Check that a client's login failed and that berthd rejected it with 401.

        `log_start` is berthd's log_mark() before the login, so only the login's lines count.
        """
        self.assertNotEqual(result.returncode, 0,
                            f"login with a wrong API key succeeded:\n{output_tail(result.stdout)}")
        lines = self.berthd.log_since(log_start).splitlines()
        report = "berthd log during the login:\n" + "\n".join(lines)
        self.assertFalse(any("event=login_succeeded" in line for line in lines), report)
        # Clients probe /v2/ without credentials first, which also gets 401, so only the
        # requests that carried the wrong key (audited as login_failed) count.
        failed = [re.search(r"request_id=(\S+)", line).group(1) for line in lines if "event=login_failed" in line]
        self.assertTrue(failed, report)
        for request_id in failed:
            access = [line for line in lines if " access " in line and f"request_id={request_id} " in line]
            self.assertEqual(len(access), 1, report)
            self.assertIn("status=401", access[0], report)

    def run_client(self, *args):
        return check_command([str(arg) for arg in args], env=self.client_env)

    def try_client(self, *args):
        return run_command([str(arg) for arg in args], env=self.client_env)

    def image_reference(self, repository, tag_or_digest):
        separator = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.berthd.address}/{repository}{separator}{tag_or_digest}"

    def docker_transport_reference(self, repository, tag_or_digest):
        """Return the containers-image reference docker://HOST:PORT/REPOSITORY:TAG (or @DIGEST) in berthd."""
        return "docker://" + self.image_reference(repository, tag_or_digest)

    def skopeo_push(self, layout, tag, repository, target_tag=None, copy_all=False):
        """Copy a fixture layout's tag into berthd with skopeo and return the skopeo reference of the copy."""
        target = self.docker_transport_reference(repository, target_tag or tag)
        options = ["--all"] if copy_all else []
        self.run_client("skopeo", "copy", "--quiet", *options, "--dest-tls-verify=false",
                        f"oci:{layout.path}:{tag}", target)
        return target

    def skopeo_raw_manifest(self, repository, tag_or_digest):
        return self.run_client("skopeo", "inspect", "--raw", "--tls-verify=false",
                               self.docker_transport_reference(repository, tag_or_digest))

    def assert_registry_matches_layout(self, repository, tag, layout, layout_tag):
        """Check with `skopeo inspect --raw` that berthd serves the layout's manifests byte for byte."""
        expected_digest = layout.manifest_digest(layout_tag)
        raw = self.skopeo_raw_manifest(repository, tag)
        self.assertEqual(sha256_digest(raw), expected_digest, f"manifest digest of {repository}:{tag}")
        self.assertEqual(raw, layout.read_blob(expected_digest), f"manifest bytes of {repository}:{tag}")

        children, _ = content_digests(json.loads(raw))
        for child in children:
            child_raw = self.skopeo_raw_manifest(repository, child)
            self.assertEqual(sha256_digest(child_raw), child, f"child manifest {child} of {repository}:{tag}")
            self.assertEqual(child_raw, layout.read_blob(child), f"child manifest {child} bytes")

    def assert_layouts_identical(self, source, source_tag, copy, copy_tag):
        """Check that a pulled layout has the source's manifest and the same bytes for every blob under it."""
        source_digest = source.manifest_digest(source_tag)
        self.assertEqual(copy.manifest_digest(copy_tag), source_digest, f"manifest digest of {copy.path}:{copy_tag}")

        source_digests = source.reachable_digests(source_digest)
        self.assertEqual(copy.reachable_digests(source_digest), source_digests,
                         f"manifests and blobs under {source_digest} in {copy.path}")
        for digest in sorted(source_digests):
            self.assertEqual(file_sha256(copy.blob_path(digest)), digest, f"blob file {digest} in {copy.path}")
            self.assertTrue(files_equal(copy.blob_path(digest), source.blob_path(digest)),
                            f"blob {digest} in {copy.path} differs from {source.path}")

    def get_manifest(self, repository, reference):
        response = self.berthd.request("GET", f"/v2/{repository}/manifests/{reference}",
                                       headers={"Accept": MANIFEST_ACCEPT})
        self.assertEqual(response.status, 200, f"GET manifest {repository}:{reference}: {response}")
        return response

    def get_blob(self, repository, digest):
        response = self.berthd.request("GET", f"/v2/{repository}/blobs/{digest}")
        self.assertEqual(response.status, 200, f"GET blob {repository}@{digest}: {response}")
        return response.body

    def assert_registry_image_intact(self, repository, reference):
        """GET a manifest and every manifest and blob under it from berthd and check each digest and size.

        Returns the top manifest as (digest, parsed JSON).
        """
        response = self.get_manifest(repository, reference)
        digest = sha256_digest(response.body)
        if reference.startswith("sha256:"):
            self.assertEqual(digest, reference, f"manifest {repository}@{reference}")
        self.assertEqual(response.header("Docker-Content-Digest"), digest,
                         f"Docker-Content-Digest of {repository}:{reference}")
        manifest = response.json()
        if "mediaType" in manifest:
            self.assertEqual(response.header("Content-Type"), manifest["mediaType"],
                             f"Content-Type of {repository}:{reference}")

        for child in manifest.get("manifests", []):
            child_digest, _ = self.assert_registry_image_intact(repository, child["digest"])
            self.assertEqual(child_digest, child["digest"])
        descriptors = ([manifest["config"]] if "config" in manifest else []) + manifest.get("layers", [])
        for descriptor in descriptors:
            blob = self.get_blob(repository, descriptor["digest"])
            self.assertEqual(sha256_digest(blob), descriptor["digest"], f"blob of {repository}:{reference}")
            self.assertEqual(len(blob), descriptor["size"], f"size of blob {descriptor['digest']}")
        return digest, manifest

    def assert_manifest_gone(self, repository, reference):
        response = self.berthd.request("GET", f"/v2/{repository}/manifests/{reference}",
                                       headers={"Accept": MANIFEST_ACCEPT})
        self.assertEqual(response.status, 404, f"GET manifest {repository}:{reference} after delete: {response}")

    def assert_store_clean(self):
        result = self.berthd.admin("verify")
        report = f"berthd admin verify exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        self.assertEqual(result.returncode, 0, report)
        self.assertIn("store is clean", result.stdout, report)


class SkopeoTest(ClientTestCase):
    """skopeo copies each fixture into berthd and back, and inspects, lists, deletes and copies between repositories."""

    client_namespaces = ("skopeo",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.log_in_containers_tool(["skopeo"])

    def test_login_checks_api_key(self):
        """skopeo login -u iamapikey -p KEY fails with a wrong key and succeeds with the right one."""
        auth_file = self.workdir / "skopeo-login.json"
        login = ["skopeo", "login", "--tls-verify=false", "--authfile", auth_file, "-u", "iamapikey"]
        log_start = self.berthd.log_mark()
        wrong = self.try_client(*login, "-p", self.wrong_api_key(), self.berthd.address)
        self.assert_login_rejected(wrong, log_start)
        self.assertNotIn(self.berthd.address, saved_logins(auth_file))

        self.run_client(*login, "-p", self.berthd.api_key, self.berthd.address)
        self.assertIn(self.berthd.address, saved_logins(auth_file))

        # Push and pull with the credentials of this login only.
        source = fixture("busybox")
        target = self.docker_transport_reference("skopeo/login", "latest")
        self.run_client("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--authfile", auth_file,
                        f"oci:{source.path}:latest", target)
        pulled = OciLayout(self.workdir / "pulled-login")
        self.run_client("skopeo", "copy", "--quiet", "--src-tls-verify=false", "--authfile", auth_file,
                        target, f"oci:{pulled.path}:latest")
        self.assert_layouts_identical(source, "latest", pulled, "latest")
        self.assert_store_clean()

    def round_trip(self, name, tag, copy_all=False):
        """Push the fixture `name:tag`, pull it back into a new OCI layout and compare both with the source."""
        source = fixture(name)
        repository = f"skopeo/{name}"
        target = self.skopeo_push(source, tag, repository, copy_all=copy_all)
        self.assert_registry_matches_layout(repository, tag, source, tag)

        pulled = OciLayout(self.workdir / f"pulled-{name}")
        options = ["--all"] if copy_all else []
        self.run_client("skopeo", "copy", "--quiet", *options, "--src-tls-verify=false",
                        target, f"oci:{pulled.path}:{tag}")
        self.assert_layouts_identical(source, tag, pulled, tag)
        self.assert_store_clean()

    def test_busybox_round_trip(self):
        self.round_trip("busybox", "latest")

    def test_debian_round_trip(self):
        self.round_trip("debian", "bookworm")

    def test_debian_pull_to_dir(self):
        source = fixture("debian")
        target = self.skopeo_push(source, "bookworm", "skopeo/debian-dir")
        pulled = self.workdir / "pulled-debian-dir"
        self.run_client("skopeo", "copy", "--quiet", "--src-tls-verify=false", target, f"dir:{pulled}")

        manifest_digest = source.manifest_digest("bookworm")
        self.assertEqual((pulled / "manifest.json").read_bytes(), source.read_blob(manifest_digest))
        _, blobs = content_digests(source.read_json(manifest_digest))
        self.assertEqual(sorted(path.name for path in pulled.iterdir()),
                         sorted([digest.split(":", 1)[1] for digest in blobs] + ["manifest.json", "version"]))
        for digest in blobs:
            blob_file = pulled / digest.split(":", 1)[1]
            self.assertTrue(files_equal(blob_file, source.blob_path(digest)), f"blob {digest} in {pulled}")
        self.assert_store_clean()

    def test_multi_arch_index_round_trip(self):
        self.round_trip("multi", "latest", copy_all=True)

    def test_artifact_round_trip(self):
        source = fixture("artifact")
        # The layout also contains the subject (busybox) under "latest".
        self.skopeo_push(source, "latest", "skopeo/artifact")
        self.round_trip("artifact", "sbom")
        artifact = json.loads(self.skopeo_raw_manifest("skopeo/artifact", "sbom"))
        self.assertEqual(artifact["subject"]["digest"], source.manifest_digest("latest"))

    def test_inspect_reports_image(self):
        source = fixture("debian")
        manifest_digest = source.manifest_digest("bookworm")
        self.skopeo_push(source, "bookworm", "skopeo/inspect")

        details = json.loads(self.run_client("skopeo", "inspect", "--tls-verify=false",
                                             self.docker_transport_reference("skopeo/inspect", "bookworm")))
        self.assertEqual(details["Digest"], manifest_digest)
        self.assertEqual(details["RepoTags"], ["bookworm"])
        self.assertEqual(details["Layers"], [layer["digest"] for layer in source.read_json(manifest_digest)["layers"]])
        self.assertEqual(details["Architecture"], "amd64")
        self.assertEqual(details["Os"], "linux")

    def test_inspect_selects_index_platform(self):
        source = fixture("multi")
        self.skopeo_push(source, "latest", "skopeo/inspect-multi", copy_all=True)
        index_digest = source.manifest_digest("latest")
        index = source.read_json(index_digest)

        for entry in index["manifests"]:
            platform = entry["platform"]
            with self.subTest(platform=platform):
                options = ["--override-os", platform["os"], "--override-arch", platform["architecture"]]
                if "variant" in platform:
                    options += ["--override-variant", platform["variant"]]
                details = json.loads(self.run_client("skopeo", "inspect", *options, "--tls-verify=false",
                                                     self.docker_transport_reference("skopeo/inspect-multi", "latest")))
                # skopeo reports the digest of the index, and the layers of the manifest that it selected.
                self.assertEqual(details["Digest"], index_digest)
                self.assertEqual(details["Architecture"], platform["architecture"])
                layers = [layer["digest"] for layer in source.read_json(entry["digest"])["layers"]]
                self.assertEqual(details["Layers"], layers)

    def test_list_tags_returns_every_tag(self):
        source = fixture("busybox")
        tags = ["1.36", "latest", "stable"]
        for tag in tags:
            self.skopeo_push(source, "latest", "skopeo/tags", target_tag=tag)

        listing = json.loads(self.run_client("skopeo", "list-tags", "--tls-verify=false",
                                             f"docker://{self.berthd.address}/skopeo/tags"))
        self.assertEqual(sorted(listing["Tags"]), tags)

    def test_delete_removes_manifest_and_tag(self):
        busybox = fixture("busybox")
        busybox_digest = busybox.manifest_digest("latest")
        self.skopeo_push(busybox, "latest", "skopeo/delete", target_tag="doomed")
        self.skopeo_push(fixture("debian"), "bookworm", "skopeo/delete", target_tag="kept")
        # The same manifest in another repository must survive the delete.
        self.skopeo_push(busybox, "latest", "skopeo/delete-other")

        self.run_client("skopeo", "delete", "--tls-verify=false",
                        self.docker_transport_reference("skopeo/delete", "doomed"))

        listing = json.loads(self.run_client("skopeo", "list-tags", "--tls-verify=false",
                                             f"docker://{self.berthd.address}/skopeo/delete"))
        self.assertEqual(listing["Tags"], ["kept"])
        self.assert_manifest_gone("skopeo/delete", "doomed")
        self.assert_manifest_gone("skopeo/delete", busybox_digest)
        inspect = self.try_client("skopeo", "inspect", "--raw", "--tls-verify=false",
                                  self.docker_transport_reference("skopeo/delete", "doomed"))
        self.assertNotEqual(inspect.returncode, 0, "skopeo inspect of the deleted tag succeeded")
        self.get_manifest("skopeo/delete-other", busybox_digest)
        self.get_manifest("skopeo/delete", "kept")
        self.assert_store_clean()

    def test_copy_between_repositories_mounts_blobs(self):
        source = fixture("debian")
        manifest_digest = source.manifest_digest("bookworm")
        origin = self.skopeo_push(source, "bookworm", "skopeo/mount-source")
        # skopeo's blob-info cache recorded the push above, so skopeo sends
        # mount requests (POST ...?from=...&mount=...) for the layers instead of uploading them.
        self.run_client("skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                        origin, self.docker_transport_reference("skopeo/mount-target", "copied"))
        self.assert_registry_matches_layout("skopeo/mount-target", "copied", source, "bookworm")

        log = self.berthd.log_text()
        for layer in source.read_json(manifest_digest)["layers"]:
            mount_query = "from=skopeo%2Fmount-source&mount=" + layer["digest"].replace(":", "%3A")
            mounted = [line for line in log.splitlines()
                       if "method=POST" in line and "/v2/skopeo/mount-target/blobs/uploads/" in line
                       and mount_query in line and "status=201" in line]
            self.assertTrue(mounted, f"berthd log has no POST ...?{mount_query} with status 201 "
                                     f"for layer {layer['digest']}")

        pulled = OciLayout(self.workdir / "pulled-mount-target")
        self.run_client("skopeo", "copy", "--quiet", "--src-tls-verify=false",
                        self.docker_transport_reference("skopeo/mount-target", "copied"), f"oci:{pulled.path}:copied")
        self.assert_layouts_identical(source, "bookworm", pulled, "copied")
        self.assert_store_clean()


class PodmanTest(ClientTestCase):
    """podman pulls from berthd, pushes under a new name and pulls back, and pushes a manifest list."""

    client_namespaces = ("podman",)

    @classmethod
    def setUpClass(cls):
        require_tools("podman")
        super().setUpClass()
        storage = cls.workdir / "podman"
        cls.podman_command = [
            "podman", "--root", str(storage / "root"), "--runroot", str(storage / "run"),
            "--tmpdir", str(storage / "libpod"), "--storage-driver", "vfs",
            "--events-backend", "file", "--cgroup-manager", "cgroupfs"]
        cls.log_in_containers_tool(cls.podman_command)

    def podman(self, *args):
        return self.run_client(*self.podman_command, *args)

    def try_podman(self, *args):
        return self.try_client(*self.podman_command, *args)

    def podman_inspect(self, reference):
        return json.loads(self.podman("image", "inspect", reference))[0]

    def remove_images(self, *references):
        self.podman("rmi", *references)
        for reference in references:
            self.assertNotEqual(self.try_podman("image", "exists", reference).returncode, 0,
                                f"{reference} is still in podman's storage after rmi")

    def test_login_checks_api_key(self):
        """podman login -u iamapikey -p KEY fails with a wrong key and succeeds with the right one."""
        auth_file = self.workdir / "podman-login.json"
        login = [*self.podman_command, "login", "--tls-verify=false", "--authfile", auth_file, "-u", "iamapikey"]
        log_start = self.berthd.log_mark()
        wrong = self.try_client(*login, "-p", self.wrong_api_key(), self.berthd.address)
        self.assert_login_rejected(wrong, log_start)
        self.assertNotIn(self.berthd.address, saved_logins(auth_file))

        self.run_client(*login, "-p", self.berthd.api_key, self.berthd.address)
        self.assertIn(self.berthd.address, saved_logins(auth_file))

        # Pull and push with the credentials of this login only.
        source = fixture("busybox")
        self.skopeo_push(source, "latest", "podman/login-source")
        pulled = self.image_reference("podman/login-source", "latest")
        pushed = self.image_reference("podman/login-pushed", "v1")
        self.podman("pull", "--quiet", "--tls-verify=false", "--authfile", auth_file, pulled)
        self.assertEqual(self.podman_inspect(pulled)["Digest"], source.manifest_digest("latest"))
        self.podman("tag", pulled, pushed)
        self.podman("push", "--quiet", "--tls-verify=false", "--authfile", auth_file, pushed)
        self.assert_registry_image_intact("podman/login-pushed", "v1")
        self.remove_images(pulled, pushed)
        self.assert_store_clean()

    def test_berth_login_then_push(self):
        """berth login --client podman is the only login podman needs to push and pull."""
        auth_file = self.workdir / "berth-podman-auth.json"
        env = dict(self.client_env, REGISTRY_AUTH_FILE=str(auth_file))
        berth_login(self.berthd, self.workdir, "podman", env)
        self.assertIn(self.berthd.address, saved_logins(auth_file))

        source = fixture("busybox")
        self.skopeo_push(source, "latest", "podman/berth-login-source")
        pulled = self.image_reference("podman/berth-login-source", "latest")
        pushed = self.image_reference("podman/berth-login-pushed", "v1")
        podman = [*self.podman_command]
        check_command([*podman, "pull", "--quiet", "--tls-verify=false", pulled], env=env)
        check_command([*podman, "tag", pulled, pushed], env=env)
        check_command([*podman, "push", "--quiet", "--tls-verify=false", pushed], env=env)
        self.assert_registry_image_intact("podman/berth-login-pushed", "v1")
        self.remove_images(pulled, pushed)
        self.assert_store_clean()

    def test_pull_tag_push_pull_back(self):
        source = fixture("debian")
        manifest_digest = source.manifest_digest("bookworm")
        config_digest = source.read_json(manifest_digest)["config"]["digest"]
        self.skopeo_push(source, "bookworm", "podman/source")
        pulled = self.image_reference("podman/source", "bookworm")
        pushed = self.image_reference("podman/pushed", "v1")

        self.podman("pull", "--quiet", "--tls-verify=false", pulled)
        self.assertEqual(self.podman_inspect(pulled)["Digest"], manifest_digest)
        self.podman("tag", pulled, pushed)
        digest_file = self.workdir / "podman-pushed.digest"
        self.podman("push", "--quiet", "--tls-verify=false", "--digestfile", digest_file, pushed)
        pushed_digest = digest_file.read_text().strip()
        # podman reuses the compressed layers that berthd already has, so the manifest stays unchanged.
        self.assertEqual(pushed_digest, manifest_digest)
        self.assert_registry_image_intact("podman/pushed", "v1")

        self.remove_images(pulled, pushed)
        self.podman("pull", "--quiet", "--tls-verify=false", pushed)
        image = self.podman_inspect(pushed)
        self.assertEqual(image["Digest"], pushed_digest)
        self.assertEqual("sha256:" + image["Id"], config_digest)
        self.assertEqual(image["RootFS"]["Layers"], source.diff_ids(manifest_digest))
        self.assert_store_clean()

    def test_build_push_pull_back(self):
        base_source = fixture("busybox")
        base_digest = base_source.manifest_digest("latest")
        self.skopeo_push(base_source, "latest", "podman/base")
        base = self.image_reference("podman/base", "latest")
        built = self.image_reference("podman/built", "v1")

        context = self.workdir / "podman-context"
        context.mkdir()
        (context / "hello.txt").write_text("hello from podman build\n")
        (context / "Containerfile").write_text(f"FROM {base}\nCOPY hello.txt /hello.txt\n")
        self.podman("build", "--quiet", "--isolation", "chroot", "--tls-verify=false", "-t", built, context)
        digest_file = self.workdir / "podman-built.digest"
        self.podman("push", "--quiet", "--tls-verify=false", "--digestfile", digest_file, built)
        pushed_digest = digest_file.read_text().strip()

        _, manifest = self.assert_registry_image_intact("podman/built", "v1")
        base_layers = [layer["digest"] for layer in base_source.read_json(base_digest)["layers"]]
        layers = [layer["digest"] for layer in manifest["layers"]]
        self.assertEqual(layers[:-1], base_layers)
        new_layer = layer_files(self.get_blob("podman/built", layers[-1]))
        self.assertEqual(new_layer.get("hello.txt"), b"hello from podman build\n")

        image_id = self.podman_inspect(built)["Id"]
        self.remove_images(built, base)
        self.podman("pull", "--quiet", "--tls-verify=false", built)
        image = self.podman_inspect(built)
        self.assertEqual(image["Digest"], pushed_digest)
        self.assertEqual(image["Id"], image_id)
        self.assert_store_clean()

    def test_manifest_list_push_all(self):
        source = fixture("multi")
        index_digest = source.manifest_digest("latest")
        self.skopeo_push(source, "latest", "podman/multi-source", copy_all=True)
        listed = self.image_reference("podman/multi", "list")

        self.podman("manifest", "create", listed)
        self.podman("manifest", "add", "--all", "--tls-verify=false", listed,
                    self.docker_transport_reference("podman/multi-source", "latest"))
        digest_file = self.workdir / "podman-list.digest"
        self.podman("manifest", "push", "--all", "--quiet", "--tls-verify=false", "--digestfile", digest_file,
                    listed, "docker://" + listed)
        pushed_digest = digest_file.read_text().strip()

        digest, index = self.assert_registry_image_intact("podman/multi", "list")
        self.assertEqual(digest, pushed_digest)
        source_index = source.read_json(index_digest)
        self.assertEqual([(entry["digest"], entry["platform"]) for entry in index["manifests"]],
                         [(entry["digest"], entry["platform"]) for entry in source_index["manifests"]])

        pulled = OciLayout(self.workdir / "pulled-podman-multi")
        self.run_client("skopeo", "copy", "--quiet", "--all", "--src-tls-verify=false",
                        "docker://" + listed, f"oci:{pulled.path}:list")
        self.assertEqual(pulled.manifest_digest("list"), pushed_digest)
        for entry in source_index["manifests"]:
            self.assertEqual(pulled.reachable_digests(entry["digest"]), source.reachable_digests(entry["digest"]))
            for blob in source.reachable_digests(entry["digest"]):
                self.assertTrue(files_equal(pulled.blob_path(blob), source.blob_path(blob)), f"blob {blob}")
        self.assert_store_clean()


class BuildahTest(ClientTestCase):
    """buildah builds an image from scratch, pushes it as OCI and as Docker schema 2, and pulls both back."""

    client_namespaces = ("buildah",)

    HELLO = b"hello from buildah\n"

    @classmethod
    def setUpClass(cls):
        require_tools("buildah")
        super().setUpClass()
        storage = cls.workdir / "buildah"
        cls.buildah_command = ["buildah", "--root", str(storage / "root"), "--runroot", str(storage / "run"),
                               "--storage-driver", "vfs"]
        cls.log_in_containers_tool(cls.buildah_command)
        cls.rootfs = cls.workdir / "buildah-rootfs"
        cls.rootfs.mkdir()
        (cls.rootfs / "hello.txt").write_bytes(cls.HELLO)

    def buildah(self, *args):
        return self.run_client(*self.buildah_command, *args).decode()

    def commit_scratch_image(self, reference):
        """Commit an image whose one layer contains /hello.txt and return its image ID."""
        container = self.buildah("from", "scratch").strip()
        try:
            self.buildah("add", container, self.rootfs / "hello.txt", "/hello.txt")
            self.buildah("config", "--cmd", "/hello.txt", "--arch", "amd64", "--os", "linux", container)
            return self.buildah("commit", "--quiet", container, reference).strip()
        finally:
            self.buildah("rm", container)

    def round_trip(self, repository, tag, push_options, media_type):
        reference = self.image_reference(repository, tag)
        image_id = self.commit_scratch_image(reference)
        digest_file = self.workdir / f"buildah-{tag}.digest"
        self.buildah("push", "--quiet", "--tls-verify=false", *push_options, "--digestfile", digest_file,
                     reference, "docker://" + reference)
        pushed_digest = digest_file.read_text().strip()

        digest, manifest = self.assert_registry_image_intact(repository, tag)
        self.assertEqual(digest, pushed_digest)
        self.assertEqual(manifest["mediaType"], media_type)
        self.assertEqual(manifest["config"]["digest"], "sha256:" + image_id)
        self.assertEqual(len(manifest["layers"]), 1)
        layer = layer_files(self.get_blob(repository, manifest["layers"][0]["digest"]))
        self.assertEqual(layer, {"hello.txt": self.HELLO})

        self.buildah("rmi", reference)
        removed = run_command([*self.buildah_command, "inspect", "--type", "image", reference], env=self.client_env)
        self.assertNotEqual(removed.returncode, 0, f"{reference} is still in buildah's storage after rmi")
        self.buildah("pull", "--quiet", "--tls-verify=false", reference)
        image = json.loads(self.buildah("inspect", "--type", "image", reference))
        self.assertEqual(image["FromImageDigest"], pushed_digest)
        self.assertEqual(image["FromImageID"], image_id)
        self.assertEqual(json.loads(image["Manifest"])["mediaType"], media_type)
        self.assert_store_clean()

    def test_oci_push_pull_back(self):
        self.round_trip("buildah/scratch", "oci", [], OCI_MANIFEST)

    def test_docker_format_push_pull_back(self):
        self.round_trip("buildah/scratch", "docker", ["--format", "docker"], DOCKER_MANIFEST)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket, for dockerd's API socket."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = str(socket_path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class DockerDaemon:
    """A private dockerd from Debian's docker.io, listening on a Unix socket under `directory`."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.socket_path = self.directory / "docker.sock"
        self.data_root = self.directory / "data"
        self.exec_root = self.directory / "exec"
        self.log_path = self.directory / "dockerd.log"
        self.process = None

    def start(self):
        self.data_root.mkdir(parents=True)
        self.exec_root.mkdir(parents=True)
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            ["dockerd", "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
             "--pidfile", str(self.directory / "dockerd.pid"), "-H", f"unix://{self.socket_path}",
             "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
             "--storage-driver=vfs", "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + DOCKERD_START_TIMEOUT
        while not self.ping():
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd exited with status {self.process.returncode} during startup. "
                                   f"Last lines of its log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not respond on {self.socket_path} within {DOCKERD_START_TIMEOUT} s. "
                                   f"Last lines of its log:\n{self.log_tail()}")
            time.sleep(0.2)
        return self

    def ping(self):
        """Return whether dockerd responds to GET /_ping on its socket with 200."""
        connection = UnixHTTPConnection(self.socket_path, timeout=2)
        try:
            connection.request("GET", "/_ping")
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def log_tail(self):
        return output_tail(self.log_path.read_bytes()) if self.log_path.exists() else "(no log)"

    def stop(self):
        """Stop dockerd by its PID, then the containerd it started if that outlived it."""
        if self.process is None:
            return
        # dockerd writes the PID of the containerd that it starts into this file.
        containerd_pid_file = self.exec_root / "containerd" / "containerd.pid"
        containerd_pid = int(containerd_pid_file.read_text()) if containerd_pid_file.exists() else None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=DOCKERD_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=DOCKERD_STOP_TIMEOUT)
        self.process = None
        self.log.close()
        if containerd_pid is not None and self.is_our_containerd(containerd_pid):
            os.kill(containerd_pid, signal.SIGTERM)
            deadline = time.monotonic() + DOCKERD_STOP_TIMEOUT
            while self.is_our_containerd(containerd_pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        # dockerd bind-mounts its data root and removes the mount when it stops cleanly.
        mounts = Path("/proc/self/mounts").read_text().split("\n")
        if any(f" {self.data_root} " in line for line in mounts):
            subprocess.run(["umount", str(self.data_root)], check=False, timeout=60)

    def is_our_containerd(self, pid):
        """Return whether `pid` still runs the containerd whose state is under our exec root."""
        try:
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return str(self.exec_root).encode() in command_line


class DockerEngineTest(ClientTestCase):
    """Debian's Docker engine loads, pushes and pulls a fixture, and builds on a base image from berthd.

    docker push sends each blob, even the config, in one PATCH with
    Transfer-Encoding: chunked (seen with docker.io 20.10.24), so these pushes
    cover chunked uploads.
    """

    client_namespaces = ("docker",)

    @classmethod
    def setUpClass(cls):
        if os.environ.get("TEST_SKIP_DOCKER") == "1":
            raise unittest.SkipTest("TEST_SKIP_DOCKER=1 is set")
        require_tools("dockerd", "docker")
        super().setUpClass()
        cls.daemon = DockerDaemon(cls.workdir / "docker")
        try:
            cls.daemon.start()
        except Exception as error:
            cls.daemon.stop()
            super().tearDownClass()
            raise RuntimeError(f"{error}\nSet TEST_SKIP_DOCKER=1 to skip the Docker engine tests "
                               "on a machine where dockerd cannot run.") from error
        docker_config = cls.workdir / "docker-config"
        docker_config.mkdir()
        cls.docker_env = dict(cls.client_env, DOCKER_HOST=f"unix://{cls.daemon.socket_path}",
                              DOCKER_CONFIG=str(docker_config), DOCKER_BUILDKIT="0")
        # skopeo pushes the base images, and docker pushes and pulls through dockerd.
        cls.log_in_containers_tool(["skopeo"])
        cls.log_in(["docker", "login"], cls.docker_env)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop()
        finally:
            super().tearDownClass()

    def docker(self, *args):
        return check_command(["docker", *[str(arg) for arg in args]], env=self.docker_env).decode()

    def try_docker(self, *args):
        return run_command(["docker", *[str(arg) for arg in args]], env=self.docker_env)

    def docker_inspect(self, reference):
        return json.loads(self.docker("image", "inspect", reference))[0]

    def docker_push(self, reference):
        """Push with the docker CLI and return the manifest digest that it reports."""
        output = self.docker("push", reference)
        match = re.search(r"digest: (sha256:[0-9a-f]{64}) size: \d+", output)
        self.assertIsNotNone(match, f"docker push {reference} reported no digest:\n{output}")
        return match.group(1)

    def remove_images(self, *references):
        self.docker("rmi", *references)
        for reference in references:
            self.assertNotEqual(self.try_docker("image", "inspect", reference).returncode, 0,
                                f"{reference} is still in dockerd after rmi")

    def test_login_checks_api_key(self):
        """docker login -u iamapikey -p KEY fails with a wrong key and succeeds with the right one."""
        docker_config = self.workdir / "docker-login-config"
        docker_config.mkdir()
        env = dict(self.docker_env, DOCKER_CONFIG=str(docker_config))
        login = ["docker", "login", "-u", "iamapikey"]
        log_start = self.berthd.log_mark()
        wrong = run_command([*login, "-p", self.wrong_api_key(), self.berthd.address], env=env)
        self.assert_login_rejected(wrong, log_start)
        # dockerd passes on the registry's UNAUTHORIZED error.
        self.assertIn("unauthorized:", wrong.stderr)
        self.assertNotIn(self.berthd.address, saved_logins(docker_config / "config.json"))

        check_command([*login, "-p", self.berthd.api_key, self.berthd.address], env=env)
        self.assertIn(self.berthd.address, saved_logins(docker_config / "config.json"))

        # Pull and push with the credentials of this login only.
        source = fixture("busybox")
        config_digest = source.read_json(source.manifest_digest("latest"))["config"]["digest"]
        self.skopeo_push(source, "latest", "docker/login-source")
        pulled = self.image_reference("docker/login-source", "latest")
        pushed = self.image_reference("docker/login-pushed", "v1")
        check_command(["docker", "pull", "--quiet", pulled], env=env)
        self.assertEqual(self.docker_inspect(pulled)["Id"], config_digest)
        self.docker("tag", pulled, pushed)
        output = check_command(["docker", "push", pushed], env=env).decode()
        self.assertRegex(output, r"digest: sha256:[0-9a-f]{64} size: \d+")
        _, manifest = self.assert_registry_image_intact("docker/login-pushed", "v1")
        self.assertEqual(manifest["config"]["digest"], config_digest)
        self.remove_images(pulled, pushed)
        self.assert_store_clean()

    def test_berth_login_then_push(self):
        """berth login --client docker is the only login docker needs to push and pull."""
        docker_config = self.workdir / "berth-docker-config"
        env = dict(self.docker_env, DOCKER_CONFIG=str(docker_config))
        berth_login(self.berthd, self.workdir, "docker", env)
        self.assertIn(self.berthd.address, saved_logins(docker_config / "config.json"))

        source = fixture("busybox")
        self.skopeo_push(source, "latest", "docker/berth-login-source")
        pulled = self.image_reference("docker/berth-login-source", "latest")
        pushed = self.image_reference("docker/berth-login-pushed", "v1")
        check_command(["docker", "pull", "--quiet", pulled], env=env)
        self.docker("tag", pulled, pushed)
        output = check_command(["docker", "push", pushed], env=env).decode()
        self.assertRegex(output, r"digest: sha256:[0-9a-f]{64} size: \d+")
        self.assert_registry_image_intact("docker/berth-login-pushed", "v1")
        self.remove_images(pulled, pushed)
        self.assert_store_clean()

    def test_load_push_pull_round_trip(self):
        source = fixture("debian")
        manifest_digest = source.manifest_digest("bookworm")
        config_digest = source.read_json(manifest_digest)["config"]["digest"]
        reference = self.image_reference("docker/debian", "loaded")
        archive = self.workdir / "debian.tar"
        self.run_client("skopeo", "copy", "--quiet", f"oci:{source.path}:bookworm",
                        f"docker-archive:{archive}:{reference}")
        self.docker("load", "--quiet", "--input", archive)
        self.assertEqual(self.docker_inspect(reference)["Id"], config_digest)

        # The engine compresses the layers again, so their digests differ from
        # the fixture's, but the config and the uncompressed layers must not change.
        pushed_digest = self.docker_push(reference)
        digest, manifest = self.assert_registry_image_intact("docker/debian", "loaded")
        self.assertEqual(digest, pushed_digest)
        self.assertEqual(manifest["mediaType"], DOCKER_MANIFEST)
        self.assertEqual(manifest["config"]["digest"], config_digest)
        self.assertEqual(len(manifest["layers"]), len(source.diff_ids(manifest_digest)))

        self.remove_images(reference)
        self.docker("pull", "--quiet", reference)
        image = self.docker_inspect(reference)
        self.assertIn(f"{self.berthd.address}/docker/debian@{pushed_digest}", image["RepoDigests"])
        self.assertEqual(image["Id"], config_digest)
        self.assertEqual(image["RootFS"]["Layers"], source.diff_ids(manifest_digest))
        self.assert_store_clean()

    def test_legacy_build_push_pull_round_trip(self):
        base_source = fixture("busybox")
        base_digest = base_source.manifest_digest("latest")
        self.skopeo_push(base_source, "latest", "docker/base")
        base = self.image_reference("docker/base", "latest")
        built = self.image_reference("docker/built", "v1")

        context = self.workdir / "docker-context"
        context.mkdir()
        (context / "hello.txt").write_text("hello from docker build\n")
        (context / "Dockerfile").write_text(f"FROM {base}\nCOPY hello.txt /hello.txt\n")
        # DOCKER_BUILDKIT=0 selects the legacy builder, which pulls the OCI base image from berthd.
        self.docker("build", "--quiet", "--tag", built, context)
        image_id = self.docker_inspect(built)["Id"]

        pushed_digest = self.docker_push(built)
        digest, manifest = self.assert_registry_image_intact("docker/built", "v1")
        self.assertEqual(digest, pushed_digest)
        self.assertEqual(manifest["mediaType"], DOCKER_MANIFEST)
        self.assertEqual(manifest["config"]["digest"], image_id)
        layers = [layer["digest"] for layer in manifest["layers"]]
        # The engine mounts the base layer from docker/base instead of compressing it again.
        base_layers = [layer["digest"] for layer in base_source.read_json(base_digest)["layers"]]
        self.assertEqual(layers[:-1], base_layers)
        new_layer = layer_files(self.get_blob("docker/built", layers[-1]))
        self.assertEqual(new_layer.get("hello.txt"), b"hello from docker build\n")

        self.remove_images(built, base)
        self.docker("pull", "--quiet", built)
        image = self.docker_inspect(built)
        self.assertIn(f"{self.berthd.address}/docker/built@{pushed_digest}", image["RepoDigests"])
        self.assertEqual(image["Id"], image_id)
        self.assert_store_clean()
