"""The Vulnerability Advisor of a running berthd, checked over /va/api/v4.

skopeo pushes the fixture images of tests/fixtures/build-images, and the
tests build their own images over the registry API where they need
particular layers. The indexing worker reads every tagged image in the
background, so each test polls report/image/status until the image is no
longer UNSCANNED. The tests check:

- that the Debian bookworm image's inventory lists exactly the packages
  that dpkg-query prints for its root filesystem, unpacked here with tar;
- the statuses of images without packages, of images pushed by digest
  alone, and of images pushed while indexing is off;
- the reports with the OSV fixture advisories (tests/fixtures/osv),
  exemptions and their access rules, and a re-import of advisories that
  changes the reports without indexing the images again;
- that layers with "../" paths, a gzip bomb, a truncated gzip stream and a
  2 GiB sparse file each end with a clear status, that the worker keeps
  indexing afterwards, and that berthd's peak memory stays bounded.

No endpoint returns the package list of an inventory, so the tests read it
from the va_inventories table of <data>/berth.db, opened read-only.
"""

import gzip
import io
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
import time
import unittest
import urllib.parse
import zlib
from functools import lru_cache
from pathlib import Path

from harness import BERTHD, FIXTURES, ROOT, BerthdTestCase, image_manifest, push_blob, sha256_digest

OSV_FIXTURES = ROOT / "tests" / "fixtures" / "osv"
# How long the indexing worker may take to read one pushed image.
INDEX_TIMEOUT_SECONDS = 60
# Seconds to wait before checking that an image stays queued. An idle
# worker looks at its queue every second, so after this long a queued image
# was skipped, not just not reached yet.
IDLE_WORKER_SECONDS = 3
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
MEBIBYTE = 1 << 20
GIBIBYTE = 1 << 30

CVE_EXPAT = "CVE-2022-40674"
CVE_EXPAT_SECOND = "CVE-2022-43680"
NOT_SCANNED = "BXNVA0009E"

BOOKWORM_OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""

# A dpkg status file with two installed packages and one that was removed
# (only its configuration files remain), which the inventory must leave out.
DPKG_STATUS = b"""Package: base-files
Status: install ok installed
Priority: required
Architecture: amd64
Version: 12.4+deb12u5

Package: zlib1g
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: nano
Status: deinstall ok config-files
Priority: optional
Architecture: amd64
Version: 7.2-1
"""
DPKG_STATUS_PACKAGES = {("base-files", "12.4+deb12u5"), ("zlib1g", "1:1.2.13.dfsg-1")}


def quote(name):
    return urllib.parse.quote(name, safe="")


def read_layout_json(layout, digest):
    algorithm, encoded = digest.split(":", 1)
    return json.loads((layout / "blobs" / algorithm / encoded).read_text())


def layout_manifest_digest(name, tag):
    """The manifest digest of TAG in the fixture layout NAME."""
    layout = FIXTURES / name
    if not (layout / "index.json").exists():
        raise RuntimeError(f"fixture layout {layout} is missing. Build it with tests/fixtures/build-images.")
    index = json.loads((layout / "index.json").read_text())
    for descriptor in index["manifests"]:
        if descriptor.get("annotations", {}).get(REF_NAME) == tag:
            return descriptor["digest"]
    raise AssertionError(f"fixture layout {layout} has no manifest tagged {tag!r}")


def extract_root_filesystem(name, tag, root):
    """Unpack the layers of a fixture image into ROOT with GNU tar, bottom layer first.

    Before a layer is unpacked, its whiteouts remove what lower layers put
    at their paths: ".wh.NAME" removes NAME, and ".wh..wh..opq" empties its
    directory. Device nodes under dev/ are left out, because creating them
    needs privileges and the package list does not depend on them.
    """
    layout = FIXTURES / name
    manifest = read_layout_json(layout, layout_manifest_digest(name, tag))
    whiteouts_applied = []
    for layer in manifest["layers"]:
        blob = layout / "blobs" / "sha256" / layer["digest"].split(":", 1)[1]
        listing = subprocess.run(["tar", "-tzf", str(blob)], check=True, capture_output=True, text=True).stdout
        for member in listing.splitlines():
            path = member.removeprefix("./").rstrip("/")
            directory, _, base = path.rpartition("/")
            if not base.startswith(".wh."):
                continue
            parent = root / directory
            if base == ".wh..wh..opq":
                if parent.is_dir():
                    for child in parent.iterdir():
                        remove_path(child)
            else:
                remove_path(parent / base.removeprefix(".wh."))
            whiteouts_applied.append(path)
        subprocess.run(["tar", "-xzf", str(blob), "-C", str(root), "--no-same-owner",
                        "--anchored", "--exclude=dev/*", "--exclude=./dev/*",
                        "--no-anchored", "--exclude=.wh.*"], check=True, capture_output=True)
    return whiteouts_applied


def remove_path(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@lru_cache(maxsize=None)
def bookworm_dpkg_packages():
    """Return the (Package, Version) pairs that dpkg-query prints for the debian:bookworm fixture's root filesystem."""
    with tempfile.TemporaryDirectory(prefix="berth-va-root-") as directory:
        root = Path(directory)
        whiteouts = extract_root_filesystem("debian", "bookworm", root)
        # The fixture's third layer deletes etc/motd with a whiteout.
        assert "etc/.wh.motd" in whiteouts, whiteouts
        assert not (root / "etc" / "motd").exists()
        output = subprocess.run(
            ["dpkg-query", f"--admindir={root / 'var' / 'lib' / 'dpkg'}", "-W", "-f", "${Package}\t${Version}\n"],
            check=True, capture_output=True, text=True).stdout
    return [tuple(line.split("\t")) for line in output.splitlines()]


# --- Layers built by the tests -------------------------------------------------------


def tar_member(name, data=b"", size=None):
    """The header of a regular file NAME with DATA, or of SIZE bytes when SIZE is given."""
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    info.mtime = 1686355200
    info.size = len(data) if size is None else size
    return info


def gzip_tar(files):
    """Build a gzip-compressed tar of FILES, a list of (name, bytes); names are written as given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in files:
            archive.addfile(tar_member(name, data), io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def tar_entry(name, data):
    """One regular file of a tar stream: its header and its data padded to 512 bytes."""
    padding = -len(data) % tarfile.BLOCKSIZE
    return tar_member(name, data).tobuf(format=tarfile.GNU_FORMAT) + data + bytes(padding)


def write_gzip_bomb(path, entry_count, entry_bytes, prefix_files):
    """Write a gzip-compressed tar of PREFIX_FILES followed by ENTRY_COUNT files of ENTRY_BYTES zeros.

    Returns the size of the uncompressed tar stream. The zeros are never
    held in memory, and only two MiB of them go through zlib. A full flush
    resets the compressor, so the deflate output of one MiB of zeros after
    a flush is the same each time, and those bytes are repeated. The gzip
    header and trailer (CRC-32, size modulo 2**32) are written here around
    the raw deflate stream.
    """
    assert entry_bytes % MEBIBYTE == 0
    zeros = bytes(MEBIBYTE)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc = 0
    size = 0

    def compress(data):
        nonlocal crc, size
        crc = zlib.crc32(data, crc)
        size += len(data)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)

    with open(path, "wb") as out:
        # gzip header: deflate, no flags, no modification time, OS unknown.
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
        for name, data in prefix_files:
            out.write(compress(tar_entry(name, data)))
        zeros_deflated = []
        for number in range(entry_count):
            out.write(compress(tar_member(f"var/cache/zeros/{number:04d}.bin", size=entry_bytes)
                               .tobuf(format=tarfile.GNU_FORMAT)))
            for _ in range(entry_bytes // MEBIBYTE):
                if len(zeros_deflated) < 2:
                    zeros_deflated.append(compress(zeros))
                    out.write(zeros_deflated[-1])
                    continue
                assert zeros_deflated[0] == zeros_deflated[1], "zlib output differs after a full flush"
                out.write(zeros_deflated[0])
                crc = zlib.crc32(zeros, crc)
                size += MEBIBYTE
        # Two zero blocks end the archive.
        out.write(compress(bytes(2 * tarfile.BLOCKSIZE)))
        out.write(compressor.flush(zlib.Z_FINISH))
        out.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return size


class VaTestCase(BerthdTestCase):
    """One berthd per class, with skopeo pushes and /va/api/v4 requests."""

    @classmethod
    def admin(cls, *args):
        result = cls.berthd.admin(*args)
        if result.returncode != 0:
            raise AssertionError(f"berthd admin {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    @classmethod
    def push_fixture(cls, layout, tag, target):
        """Push the fixture layout's TAG to TARGET (NAMESPACE/REPOSITORY:TAG) with skopeo."""
        if shutil.which("skopeo") is None:
            raise RuntimeError("skopeo not found on PATH. Install the test clients with scripts/bootstrap.")
        layout_manifest_digest(layout, tag)
        namespace = target.split("/", 1)[0]
        if namespace not in getattr(cls.berthd, "namespaces", set()):
            cls.berthd.create_namespace(namespace)
        result = subprocess.run(
            ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"iamapikey:{cls.berthd.api_key}",
             f"oci:{FIXTURES / layout}:{tag}", f"docker://{cls.berthd.address}/{target}"],
            capture_output=True, text=True, timeout=600,
            env=dict(os.environ, TMPDIR=str(cls.workdir), REGISTRY_AUTH_FILE=str(cls.workdir / "auth.json")))
        if result.returncode != 0:
            raise AssertionError(f"skopeo copy of {layout}:{tag} to {target} failed:\n{result.stderr}")

    @classmethod
    def push_layers(cls, repository, layers, reference=None, label="va-test"):
        """Push a config, LAYERS (gzip tar bytes or file paths) and a manifest; return the manifest digest.

        REFERENCE is a tag, or None to push by digest alone.
        """
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"test": label}},
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        config_digest = push_blob(cls.berthd, repository, config)
        descriptors = []
        for layer in layers:
            data = Path(layer).read_bytes() if isinstance(layer, Path) else layer
            descriptors.append((push_blob(cls.berthd, repository, data), len(data)))
        manifest = image_manifest(config_digest, len(config), descriptors)
        digest = sha256_digest(manifest)
        response = cls.berthd.request("PUT", f"/v2/{repository}/manifests/{reference or digest}", body=manifest,
                                      headers={"Content-Type": MANIFEST_TYPE})
        assert response.status == 201, response
        return digest

    @classmethod
    def api(cls, method, path, key=None, body=None):
        """Send one request with the API key KEY (default: the initial Manager key)."""
        headers = {"Authorization": cls.berthd.basic_auth(key)}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return cls.berthd.request(method, path, body=data, headers=headers)

    @classmethod
    def scan_status(cls, name, key=None):
        response = cls.api("GET", f"/va/api/v4/report/image/status/{quote(name)}", key)
        if response.status != 200:
            raise AssertionError(f"GET report/image/status/{name}: {response}")
        return response.json()

    def report(self, name, key=None):
        response = self.api("GET", f"/va/api/v4/report/image/{quote(name)}", key)
        self.assertEqual(response.status, 200, f"GET report/image/{name}: {response}")
        return response.json()

    @classmethod
    def wait_indexed(cls, name):
        """Wait until NAME has a status other than UNSCANNED; return (summary, seconds waited)."""
        started = time.monotonic()
        while True:
            summary = cls.scan_status(name)
            if summary["status"] != "UNSCANNED":
                return summary, time.monotonic() - started
            if time.monotonic() - started > INDEX_TIMEOUT_SECONDS:
                raise AssertionError(f"{name} was not indexed within {INDEX_TIMEOUT_SECONDS} s; berthd log:\n"
                                     f"{cls.berthd.log_text()[-3000:]}")
            time.sleep(0.2)

    @classmethod
    def worker_milliseconds(cls, digest):
        """The time in ms that berthd's log gives for indexing DIGEST, or None when the log has no such line."""
        match = re.search(rf"va: indexed {digest}: .*? in (\d+) ms", cls.berthd.log_text())
        return int(match.group(1)) if match else None

    @classmethod
    def inventory_row(cls, digest):
        """The va_inventories row of DIGEST as a dict, or None, read with a read-only connection."""
        connection = sqlite3.connect(f"file:{cls.berthd.data_dir / 'berth.db'}?mode=ro", uri=True, timeout=30)
        try:
            connection.row_factory = sqlite3.Row
            row = connection.execute("SELECT * FROM va_inventories WHERE digest = ?", (digest,)).fetchone()
            return dict(row) if row is not None else None
        finally:
            connection.close()

    @classmethod
    def inventory_packages(cls, digest):
        """The stored packages of DIGEST's inventory as a list of (name, version)."""
        row = cls.inventory_row(digest)
        assert row is not None, f"no inventory row for {digest}"
        return [(package["name"], package["version"]) for package in json.loads(row["packages"])]

    def full(self, name):
        return f"{self.berthd.address}/{name}"

    def assert_not_scanned(self, name, response):
        """Check the 404 response of report/image for an image that is not indexed."""
        self.assertEqual(response.status, 404, response)
        message = f"{NOT_SCANNED}: '{self.full(name)}' has not been scanned. Try again later."
        self.assertIn(message, response.body.decode(errors="replace"))
        # The body has the API's usual error shape, with the hosted
        # registry's code in the detail.
        error = response.json()["errors"][0]
        self.assertEqual(error["code"], "NOT_FOUND")
        self.assertEqual(error["message"], message)
        self.assertEqual(error["detail"], {"code": NOT_SCANNED, "image": self.full(name)})

    @classmethod
    def peak_memory_kib(cls):
        """berthd's VmHWM (peak resident set size) in KiB, from /proc/PID/status."""
        for line in Path(f"/proc/{cls.berthd.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("/proc/PID/status has no VmHWM line")


class DebianInventory(VaTestCase):
    """The Debian bookworm fixture, indexed with no advisories imported."""

    def test_packages_match_dpkg_query(self):
        name = "va-debian/debian:bookworm"
        digest = layout_manifest_digest("debian", "bookworm")
        self.push_fixture("debian", "bookworm", name)
        summary, seconds = self.wait_indexed(name)
        # With no advisories imported, nothing can be checked.
        self.assertEqual(summary["status"], "WARN", summary)

        report = self.report(name)
        self.assertEqual(report["id"], self.full(name))
        self.assertEqual(report["digest"], digest)
        self.assertEqual(report["os_distribution"],
                         {"distribution_id": "debian", "version_id": "12", "version_code_name": "bookworm"})
        self.assertEqual(report["reason"], "no advisories for debian:12 are imported")
        self.assertEqual(report["vulnerabilities"], [])
        self.assertGreater(report["scan_time"], 0)

        row = self.inventory_row(digest)
        self.assertEqual(row["status"], "complete", row["reason"])
        self.assertEqual(row["package_format"], "dpkg")
        self.assertEqual(row["reason"], "")
        stored = self.inventory_packages(digest)
        expected = bookworm_dpkg_packages()
        print(f"\ndebian:bookworm indexed {seconds:.1f} s after the push "
              f"(worker: {self.worker_milliseconds(digest)} ms): {len(stored)} packages stored, "
              f"dpkg-query prints {len(expected)}")
        self.assertEqual(len(stored), len(expected))
        self.assertEqual(set(stored) - set(expected), set(), "packages stored but not printed by dpkg-query")
        self.assertEqual(set(expected) - set(stored), set(), "packages printed by dpkg-query but not stored")
        self.assertEqual(stored, sorted(stored), "the stored packages are not sorted by name and version")


class ImagesWithoutInventory(VaTestCase):
    """Images that have no packages Berth reads, and images pushed by digest alone."""

    def test_busybox_is_unsupported(self):
        name = "va-plain/busybox:latest"
        self.push_fixture("busybox", "latest", name)
        summary, seconds = self.wait_indexed(name)
        print(f"\nbusybox:latest indexed {seconds:.1f} s after the push")
        self.assertEqual(summary["status"], "UNSUPPORTED", summary)
        self.assertEqual(summary["issue_count"], 0)
        report = self.report(name)
        self.assertEqual(report["status"], "UNSUPPORTED")
        self.assertIn("no os-release file was found", report["reason"])
        self.assertIn("no supported package database was found", report["reason"])
        self.assertEqual(report["vulnerabilities"], [])

    def test_push_by_digest_is_not_indexed(self):
        repository = "va-plain/untagged"
        layer = gzip_tar([("etc/os-release", BOOKWORM_OS_RELEASE), ("var/lib/dpkg/status", DPKG_STATUS)])
        untagged = self.push_layers(repository, [layer], label="pushed by digest")
        # The worker takes the oldest queued image first, so once an image
        # pushed later is indexed, a queued untagged image would be too.
        later = self.push_layers(repository, [layer], "later", label="pushed later with a tag")
        self.wait_indexed(f"{repository}:later")
        time.sleep(IDLE_WORKER_SECONDS)

        by_digest = f"{repository}@{untagged}"
        self.assertEqual(self.scan_status(by_digest)["status"], "UNSCANNED")
        self.assert_not_scanned(by_digest, self.api("GET", f"/va/api/v4/report/image/{quote(by_digest)}"))
        self.assertIsNone(self.inventory_row(untagged))
        self.assertEqual(self.inventory_row(later)["status"], "complete")

        # Tagging it queues it, which shows the image itself is indexable.
        self.push_layers(repository, [layer], "tagged-now", label="pushed by digest")
        summary, _ = self.wait_indexed(f"{repository}:tagged-now")
        self.assertEqual(summary["status"], "WARN", summary)
        self.assertEqual(set(self.inventory_packages(untagged)), DPKG_STATUS_PACKAGES)


class IndexingDisabled(VaTestCase):
    """A berthd with va.enabled=false: pushed images stay queued until `berthd admin va-index`."""

    berthd_env = {"BERTH_VA_ENABLED": "false"}

    def test_va_index_indexes_queued_image(self):
        name = "va-off/debian:bookworm"
        digest = layout_manifest_digest("debian", "bookworm")
        self.push_fixture("debian", "bookworm", name)
        time.sleep(IDLE_WORKER_SECONDS)
        self.assertEqual(self.scan_status(name)["status"], "UNSCANNED")
        self.assert_not_scanned(name, self.api("GET", f"/va/api/v4/report/image/{quote(name)}"))
        self.assertEqual(self.inventory_row(digest)["state"], "queued")

        # berthd keeps running: the operator indexes the queue beside it.
        started = time.monotonic()
        output = self.admin("va-index")
        seconds = time.monotonic() - started
        print(f"\nberthd admin va-index took {seconds:.1f} s: {output.strip()}")
        self.assertEqual(output, "Indexed 1 image.\n")

        report = self.report(name)
        self.assertEqual(report["status"], "WARN", report)
        self.assertEqual(report["os_distribution"]["distribution_id"], "debian")
        self.assertEqual(sorted(self.inventory_packages(digest)), sorted(bookworm_dpkg_packages()))
        self.assertEqual(self.admin("va-index"), "Indexed 0 images.\n")


class RequeueIncomplete(VaTestCase):
    """An image indexed as incomplete under a small layer limit is indexed
    again, in full, after the operator raises the limit and requeues it."""

    berthd_env = {"BERTH_VA_ENABLED": "false", "BERTH_VA_MAX_LAYER_BYTES": str(1 << 20)}

    def test_requeue_after_raising_limit(self):
        name = "va-requeue/debian:bookworm"
        digest = layout_manifest_digest("debian", "bookworm")
        self.push_fixture("debian", "bookworm", name)
        self.assertEqual(self.admin("va-index"), "Indexed 1 image.\n")
        self.assertEqual(self.scan_status(name)["status"], "INCOMPLETE")
        self.assertEqual(self.admin("va-index"), "Indexed 0 images.\n")

        environment = self.berthd.environment()
        environment["BERTH_VA_MAX_LAYER_BYTES"] = str(8 << 30)
        result = subprocess.run(
            [str(BERTHD), "admin", "va-index", "--requeue", "incomplete", "--data", str(self.berthd.data_dir)],
            capture_output=True, text=True, timeout=600, env=environment)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "Queued 1 image again.\nIndexed 1 image.\n")

        # No advisories are imported, so a full inventory reports WARN.
        self.assertEqual(self.scan_status(name)["status"], "WARN")
        self.assertEqual(sorted(self.inventory_packages(digest)), sorted(bookworm_dpkg_packages()))


class AdvisoryReports(VaTestCase):
    """The fixture images assessed against the OSV fixture advisories.

    The test methods share one berthd. A method that adds exemptions
    deletes them before it ends.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.import_output = cls.admin("va-import", str(OSV_FIXTURES / "advisories"))
            cls.images = {"vuln/vulnerable:latest": ("vulnerable", "latest"),
                          "vuln/debian:bookworm": ("debian", "bookworm")}
            for optional in (("alpine", "3.19"), ("rpm", "9")):
                if (FIXTURES / optional[0] / "index.json").exists():
                    cls.images[f"vuln/{optional[0]}:{optional[1]}"] = optional
            # One image at a time, so that each wait is that image's indexing time.
            cls.index_seconds = {}
            for target, (layout, tag) in cls.images.items():
                cls.push_fixture(layout, tag, target)
                _, cls.index_seconds[target] = cls.wait_indexed(target)

            cls.admin("serviceid-create", "va-reader", "--account", "default")
            cls.admin("policy-add", "--account", "default", "--serviceid", "va-reader", "--role", "Reader",
                      "--namespace", "vuln")
            cls.reader_key = cls.admin("apikey-create", "--account", "default", "--serviceid", "va-reader",
                                       "--name", "va-reader").strip().splitlines()[-1]
            cls.admin("account-create", "va-other")
            cls.admin("user-create", "boss", "--account", "va-other")
            cls.admin("policy-add", "--account", "va-other", "--user", "boss", "--role", "Manager")
            cls.other_key = cls.admin("apikey-create", "--account", "va-other", "--user", "boss",
                                      "--name", "va-other").strip().splitlines()[-1]
        except BaseException:
            cls.tearDownClass()
            raise

    def test_import_counts_advisories(self):
        print()
        for name, seconds in self.index_seconds.items():
            digest = layout_manifest_digest(*self.images[name])
            print(f"{name}: indexed {seconds:.1f} s after the push (worker: {self.worker_milliseconds(digest)} ms)")
        # 8 records, of which DEBIAN-CVE-2005-2541 has no fixed version.
        self.assertIn("Imported 7 advisories", self.import_output)
        info = self.api("GET", "/api/v1/info")
        self.assertEqual(info.status, 200, info)
        advisories = info.json()["va"]["advisories"]
        self.assertEqual(advisories["count"], 7)
        self.assertEqual(set(advisories["ecosystems"]), {"alpine:3.19", "debian:12", "rhel:9"})
        self.assertRegex(advisories["imported_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def vulnerable_packages(self, vulnerability):
        """Map each security notice id of VULNERABILITY to its vulnerable packages."""
        return {notice["notice_id"]: notice["vulnerable_packages"] for notice in vulnerability["security_notices"]}

    def test_vulnerable_image_fails(self):
        name = "vuln/vulnerable:latest"
        digest = layout_manifest_digest("vulnerable", "latest")
        report = self.report(name)
        self.assertEqual(report["status"], "FAIL", report)
        self.assertEqual(report["id"], self.full(name))
        self.assertEqual(report["digest"], digest)
        vulnerabilities = {v["cve_id"]: v for v in report["vulnerabilities"]}
        # tar's advisory has no fixed version and linux's is never reported;
        # zlib's fixed version is older than bookworm's zlib1g.
        self.assertEqual(set(vulnerabilities), {CVE_EXPAT, CVE_EXPAT_SECOND})

        installed = dict(self.inventory_packages(digest))["libexpat1"]
        self.assertTrue(installed.startswith("2.2.10-2+deb11u"), installed)
        expat = vulnerabilities[CVE_EXPAT]
        self.assertFalse(expat["cve_exempt"])
        self.assertEqual(expat["exempt_status"], "active")
        notices = self.vulnerable_packages(expat)
        self.assertEqual(set(notices), {"DEBIAN-CVE-2022-40674", "DSA-5242-1"})
        self.assertEqual(notices["DEBIAN-CVE-2022-40674"], [{
            "package_name": "libexpat1", "installed_version": installed, "fix_version": "2.4.9-1",
            "description": "", "corrective_action": "Upgrade libexpat1 to at least 2.4.9-1"}])
        self.assertEqual([p["fix_version"] for p in notices["DSA-5242-1"]], ["2.5.0-1"])
        self.assertEqual(expat["security_notice_count"], 2)
        self.assertEqual(expat["total_security_notice_count"], 2)
        self.assertEqual(expat["exempt_security_notice_count"], 0)
        self.assertEqual(set(self.vulnerable_packages(vulnerabilities[CVE_EXPAT_SECOND])), {"DSA-5242-1"})

        summary = self.scan_status(name)
        self.assertEqual(summary["status"], "FAIL")
        self.assertEqual(summary["vulnerability_count"], 2)
        self.assertEqual(summary["exempt_vulnerability_count"], 0)
        self.assertEqual(summary["scan_time"], report["scan_time"])
        self.assertEqual(self.listed_security_status(name), {"Status": "FAIL", "IssueCount": 2, "ExemptionCount": 0})

    def test_plain_bookworm_is_ok(self):
        report = self.report("vuln/debian:bookworm")
        self.assertEqual(report["status"], "OK", report)
        self.assertEqual(report["vulnerabilities"], [])

    def listed_security_status(self, name, key=None):
        """The SecurityStatus of NAME in GET /api/v1/images."""
        repository = name.rsplit(":", 1)[0]
        response = self.api("GET", f"/api/v1/images?repository={quote(repository)}", key)
        self.assertEqual(response.status, 200, response)
        images = [image for image in response.json() if self.full(name) in image["RepoTags"]]
        self.assertEqual(len(images), 1, response.json())
        return images[0]["SecurityStatus"]

    def exempt(self, scope, issue_type, issue_id, key=None, method="POST"):
        """Create (or with METHOD, read or delete) the exemption of one issue in SCOPE, URL-encoded."""
        return self.api(method, f"/va/api/v4/exempt/image/{quote(scope)}/issue/{issue_type}/{issue_id}", key)

    def test_exemptions_change_status(self):
        name = "vuln/vulnerable:latest"
        created = self.exempt("vuln/vulnerable", "cve", CVE_EXPAT)
        self.assertEqual(created.status, 201, created)
        exemption = created.json()
        self.assertEqual(exemption["issue_type"], "cve")
        self.assertEqual(exemption["issue_id"], CVE_EXPAT)
        self.assertEqual(exemption["scope"], {"scope_type": "repository", "namespace": "vuln",
                                              "repository": "vulnerable", "tag": "", "digest": ""})
        self.assertEqual(self.exempt("vuln/vulnerable", "cve", CVE_EXPAT).status, 200)
        try:
            # One of the two CVEs is exempt, so the image still fails with one issue.
            report = self.report(name)
            vulnerabilities = {v["cve_id"]: v for v in report["vulnerabilities"]}
            self.assertTrue(vulnerabilities[CVE_EXPAT]["cve_exempt"])
            self.assertEqual(vulnerabilities[CVE_EXPAT]["exempt_status"], "exempt")
            self.assertEqual(vulnerabilities[CVE_EXPAT_SECOND]["exempt_status"], "active")
            self.assertEqual(report["status"], "FAIL")
            summary = self.scan_status(name)
            self.assertEqual((summary["vulnerability_count"], summary["exempt_vulnerability_count"]), (1, 1))
            self.assertEqual(self.listed_security_status(name),
                             {"Status": "FAIL", "IssueCount": 1, "ExemptionCount": 1})
            # The exemption is scoped to vuln/vulnerable.
            self.assertEqual(self.scan_status("vuln/debian:bookworm")["exempt_vulnerability_count"], 0)

            # An sn exemption of DSA-5242-1 exempts CVE-2022-43680, whose
            # only notice it is; with no active CVE left the image is OK.
            self.assertEqual(self.exempt("vuln/vulnerable:latest", "sn", "DSA-5242-1").status, 201)
            report = self.report(name)
            vulnerabilities = {v["cve_id"]: v for v in report["vulnerabilities"]}
            self.assertTrue(vulnerabilities[CVE_EXPAT_SECOND]["cve_exempt"])
            self.assertEqual(vulnerabilities[CVE_EXPAT_SECOND]["exempt_status"], "exempt")
            self.assertEqual(report["status"], "OK", report)
            self.assertEqual(self.scan_status(name)["vulnerability_count"], 0)
            self.assertEqual(self.listed_security_status(name),
                             {"Status": "OK", "IssueCount": 0, "ExemptionCount": 2})

            applied = self.api("GET", f"/va/api/v4/exemptions/image/{quote(name)}")
            self.assertEqual(applied.status, 200, applied)
            self.assertEqual(sorted(e["issue_id"] for e in applied.json()), [CVE_EXPAT, "DSA-5242-1"])

            # Without the cve exemption, one of CVE-2022-40674's two notices
            # is still exempt, so the CVE is partial and counts again.
            removed = self.exempt("vuln/vulnerable", "cve", CVE_EXPAT, method="DELETE")
            self.assertEqual(removed.status, 200, removed)
            self.assertEqual(removed.json(), {})
            self.assertEqual(self.exempt("vuln/vulnerable", "cve", CVE_EXPAT, method="DELETE").status, 404)
            report = self.report(name)
            vulnerabilities = {v["cve_id"]: v for v in report["vulnerabilities"]}
            self.assertFalse(vulnerabilities[CVE_EXPAT]["cve_exempt"])
            self.assertEqual(vulnerabilities[CVE_EXPAT]["exempt_status"], "partial")
            self.assertEqual(vulnerabilities[CVE_EXPAT]["exempt_security_notice_count"], 1)
            self.assertEqual(report["status"], "FAIL")
            self.assertEqual(self.scan_status(name)["vulnerability_count"], 1)
        finally:
            deleted = self.api("POST", "/va/api/v4/exemptions/deleteAll")
        self.assertEqual(deleted.status, 200, deleted)
        self.assertEqual(deleted.json(), {"number_of_exemptions_deleted": 1})
        self.assertEqual(self.api("GET", "/va/api/v4/exemptions/account").json(), [])
        self.assertEqual(self.report(name)["status"], "FAIL")
        self.assertEqual(self.api("POST", "/va/api/v4/exemptions/deleteAll").json(),
                         {"number_of_exemptions_deleted": 0})

    def test_reader_reads_but_cannot_exempt(self):
        name = "vuln/vulnerable:latest"
        self.assertEqual(self.report(name, self.reader_key)["status"], "FAIL")
        self.assertEqual(self.scan_status(name, self.reader_key)["status"], "FAIL")
        listed = self.api("GET", f"/va/api/v4/exemptions/image/{quote(name)}", self.reader_key)
        self.assertEqual(listed.status, 200, listed)

        denied = self.exempt("vuln/vulnerable", "cve", CVE_EXPAT, self.reader_key)
        self.assertEqual(denied.status, 403, denied)
        self.assertEqual(self.api("POST", "/va/api/v4/exemptions/deleteAll", self.reader_key).status, 403)
        self.assertEqual(self.api("GET", "/va/api/v4/exemptions/account").json(), [])
        self.assertFalse({v["cve_id"]: v for v in self.report(name)["vulnerabilities"]}[CVE_EXPAT]["cve_exempt"])

    def test_other_account_is_denied(self):
        name = "vuln/vulnerable:latest"
        for path in (f"/va/api/v4/report/image/{quote(name)}", f"/va/api/v4/report/image/status/{quote(name)}",
                     f"/va/api/v4/exemptions/image/{quote(name)}"):
            response = self.api("GET", path, self.other_key)
            self.assertIn(response.status, (403, 404), f"GET {path}: {response}")
            self.assertNotIn(CVE_EXPAT, response.body.decode(errors="replace"))
        created = self.exempt("vuln/vulnerable", "cve", CVE_EXPAT, self.other_key)
        self.assertIn(created.status, (403, 404), created)
        self.assertEqual(self.api("GET", "/va/api/v4/exemptions/account").json(), [])
        # The other account's own account-wide lists do not show this account's images.
        account = self.api("GET", "/va/api/v4/report/account", self.other_key)
        self.assertEqual(account.status, 200, account)
        self.assertEqual(account.json(), {"assessments": {}})

    def test_alpine_findings(self):
        name = "vuln/alpine:3.19"
        if name not in self.images:
            self.skipTest(f"the fixture layout {FIXTURES / 'alpine'} is missing")
        report = self.report(name)
        self.assertEqual(report["status"], "FAIL", report)
        self.assertEqual(report["os_distribution"]["distribution_id"], "alpine")
        self.assertRegex(report["os_distribution"]["version_id"], r"^3\.19(\.\d+)?$")
        self.assertEqual(self.inventory_row(layout_manifest_digest("alpine", "3.19"))["package_format"], "apk")
        found = {(v["cve_id"], p["package_name"], p["installed_version"], p["fix_version"])
                 for v in report["vulnerabilities"] for n in v["security_notices"] for p in n["vulnerable_packages"]}
        # The image's libcrypto3 and libssl3 are both built from openssl.
        self.assertEqual(found, {("CVE-2024-0727", "libcrypto3", "3.1.4-r1", "3.1.4-r5"),
                                 ("CVE-2024-0727", "libssl3", "3.1.4-r1", "3.1.4-r5"),
                                 ("CVE-2025-26519", "musl", "1.2.4-r2", "1.2.4-r3")})
        openssl = next(v for v in report["vulnerabilities"] if v["cve_id"] == "CVE-2024-0727")
        # The record has no summary, so the summary comes from its details.
        self.assertNotEqual(openssl["summary"], "", openssl)
        notice = openssl["security_notices"][0]
        self.assertEqual(notice["notice_id"], "ALPINE-CVE-2024-0727")
        self.assertEqual(notice["notice"], notice["summary"])

    def test_rpm_findings(self):
        name = "vuln/rpm:9"
        if name not in self.images:
            self.skipTest(f"the fixture layout {FIXTURES / 'rpm'} is missing")
        report = self.report(name)
        self.assertEqual(report["status"], "FAIL", report)
        self.assertEqual(report["os_distribution"]["distribution_id"], "rhel")
        self.assertEqual(report["os_distribution"]["version_id"], "9.3")
        self.assertEqual(self.inventory_row(layout_manifest_digest("rpm", "9"))["package_format"], "rpm")
        found = {(v["cve_id"], n["notice_id"], p["package_name"], p["installed_version"], p["fix_version"])
                 for v in report["vulnerabilities"] for n in v["security_notices"] for p in n["vulnerable_packages"]}
        self.assertEqual(found, {("CVE-2023-5678", "RHSA-2024:0310", "openssl-libs", "1:3.0.7-24.el9",
                                  "1:3.0.7-25.el9_3")})


class AdvisoryReimport(VaTestCase):
    """Advisories imported again while berthd runs: reports change, inventories stay.

    The import time has a resolution of one second, and each test starts
    its imports at the start of a new second where the order matters.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.admin("va-import", str(OSV_FIXTURES / "advisories"))
            cls.names = ["vuln/vulnerable:latest"]
            cls.push_fixture("vulnerable", "latest", "vuln/vulnerable:latest")
            if (FIXTURES / "alpine" / "index.json").exists():
                cls.names.append("vuln/alpine:3.19")
                cls.push_fixture("alpine", "3.19", "vuln/alpine:3.19")
            for name in cls.names:
                cls.wait_indexed(name)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def import_in_new_second(cls, directory):
        """Wait for the next second of the clock, then run `berthd admin va-import DIRECTORY`."""
        time.sleep(1.05 - time.time() % 1.0)
        return cls.admin("va-import", str(OSV_FIXTURES / directory))

    def feed(self):
        response = self.api("GET", "/api/v1/info")
        self.assertEqual(response.status, 200, response)
        return response.json()["va"]["advisories"]

    def test_fixed_nothing_reports_ok_without_rescan(self):
        name = "vuln/vulnerable:latest"
        digest = layout_manifest_digest("vulnerable", "latest")
        before_row = self.inventory_row(digest)
        before_report = self.report(name)
        self.assertEqual(before_report["status"], "FAIL")
        before_feed = self.feed()
        try:
            output = self.import_in_new_second("fixed-nothing")
            self.assertIn("Imported 4 advisories", output)
            report = self.report(name)
            self.assertEqual(report["status"], "OK", report)
            self.assertEqual(report["vulnerabilities"], [])
            self.assertEqual(report["scan_time"], before_report["scan_time"])
            after_row = self.inventory_row(digest)
            self.assertEqual(after_row["indexed_at"], before_row["indexed_at"])
            self.assertEqual(after_row["attempts"], before_row["attempts"])
            listed = self.api("GET", f"/api/v1/images?repository={quote('vuln/vulnerable')}").json()
            self.assertEqual(listed[0]["SecurityStatus"], {"Status": "OK", "IssueCount": 0, "ExemptionCount": 0})

            feed = self.feed()
            print(f"\nadvisories imported at {before_feed['imported_at']}, again at {feed['imported_at']}")
            self.assertGreater(feed["imported_at"], before_feed["imported_at"])
            self.assertEqual(feed["count"], 4)
            self.assertEqual(feed["ecosystems"], ["debian:12"])
            if "vuln/alpine:3.19" in self.names:
                alpine = self.report("vuln/alpine:3.19")
                self.assertEqual(alpine["status"], "WARN", alpine)
                self.assertEqual(alpine["reason"], "no advisories for alpine:3.19 are imported")
        finally:
            self.import_in_new_second("advisories")
        self.assertEqual(self.report(name)["status"], "FAIL")

    def test_imports_in_same_second(self):
        name = "vuln/vulnerable:latest"
        try:
            self.import_in_new_second("fixed-nothing")
            self.assertEqual(self.report(name)["status"], "OK")
            first = self.feed()["imported_at"]
            # The first import started just after a second began and an import
            # takes well under a second, so this one usually gets the same
            # import time. The printed times show whether it did.
            self.admin("va-import", str(OSV_FIXTURES / "advisories"))
            second = self.feed()["imported_at"]
            print(f"\nimports at {first} and {second}")
            self.assertEqual(self.feed()["count"], 7)
            self.assertEqual(self.report(name)["status"], "FAIL",
                             f"the report still uses the advisories imported before the last import at {second}")
        finally:
            self.import_in_new_second("advisories")


class MalformedLayers(VaTestCase):
    """Hostile layers pushed over the registry API to a berthd with va.max_layer_bytes = 256 MiB."""

    max_layer_bytes = 256 * MEBIBYTE
    berthd_env = {"BERTH_VA_MAX_LAYER_BYTES": str(max_layer_bytes)}
    # Allowed growth of berthd's peak resident set size over the malformed set.
    max_memory_growth_kib = 200 * 1024

    def assert_layer_named(self, report, layer_digest, *phrases):
        """Check that the stored inventory, berthd's log and the report name the layer and PHRASES.

        A report that leaves them out is recorded as a failure, and the test
        goes on, so that the later images and the memory figures still run.
        """
        stored = self.inventory_row(report["digest"])["reason"]
        self.assertIn(f"layer {layer_digest}", stored)
        for phrase in phrases:
            self.assertIn(phrase, stored)
        self.assertIn(layer_digest, self.berthd.log_text())
        with self.subTest("report reason", image=report["id"]):
            self.assertIn(f"layer {layer_digest}", report["reason"], f"stored reason: {stored}")
            for phrase in phrases:
                self.assertIn(phrase, report["reason"])

    def build_sparse_layer(self, directory, members):
        """Write a gzip tar with GNU tar --sparse of MEMBERS {path: 2 GiB sparse or bytes} and return its bytes."""
        source = directory / "sparse-source"
        shutil.rmtree(source, ignore_errors=True)
        for path, content in members.items():
            target = source / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                with open(target, "wb") as sparse:
                    sparse.truncate(2 * GIBIBYTE)
                    sparse.seek(GIBIBYTE)
                    sparse.write(b"data in the middle of a sparse file\n")
            else:
                target.write_bytes(content)
        archive = directory / "sparse.tar.gz"
        subprocess.run(["tar", "--sparse", "--format=gnu", "--owner=0", "--group=0", "-czf", str(archive),
                        "-C", str(source), *members], check=True, capture_output=True)
        with tarfile.open(archive, "r:gz") as listing:
            sparse_members = [member.name for member in listing if member.issparse()]
        self.assertEqual(len(sparse_members), 1, f"GNU tar wrote no sparse entry: {sparse_members}")
        data = archive.read_bytes()
        self.assertLess(len(data), MEBIBYTE)
        return data

    def test_malformed_layers_leave_worker_running(self):
        directory = self.workdir / "layers"
        directory.mkdir()
        self.push_fixture("debian", "bookworm", "va-bad/debian:bookworm")
        self.wait_indexed("va-bad/debian:bookworm")
        memory_before = self.peak_memory_kib()
        base = [("etc/os-release", BOOKWORM_OS_RELEASE), ("var/lib/dpkg/status", DPKG_STATUS)]
        results = {}

        # A tar whose entry leaves the root, beside a usable inventory.
        layer = gzip_tar([*base, ("../etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")])
        digest = self.push_layers("va-bad/traversal", [layer], "latest")
        results["traversal"] = digest, self.wait_indexed("va-bad/traversal:latest")[1]
        report = self.report("va-bad/traversal:latest")
        self.assertEqual(report["status"], "INCOMPLETE", report)
        self.assert_layer_named(report, sha256_digest(layer), '"../etc/passwd"', '".." component')
        self.assertEqual(report["os_distribution"]["distribution_id"], "debian")
        self.assertEqual(set(self.inventory_packages(digest)), DPKG_STATUS_PACKAGES)

        # A gzip bomb: 4 GiB of zeros in 64 MiB files, about 4 MiB compressed.
        bomb = directory / "bomb.tar.gz"
        started = time.monotonic()
        uncompressed = write_gzip_bomb(bomb, 64, 64 * MEBIBYTE, base)
        print(f"\ngzip bomb: {uncompressed} bytes in {bomb.stat().st_size} compressed, "
              f"written in {time.monotonic() - started:.1f} s")
        self.assertGreater(uncompressed, 4 * GIBIBYTE)
        self.assertLess(bomb.stat().st_size, 8 * MEBIBYTE)
        bomb_digest = sha256_digest(bomb.read_bytes())
        digest = self.push_layers("va-bad/bomb", [bomb], "latest")
        results["gzip bomb"] = digest, self.wait_indexed("va-bad/bomb:latest")[1]
        report = self.report("va-bad/bomb:latest")
        self.assertEqual(report["status"], "INCOMPLETE", report)
        self.assert_layer_named(report, bomb_digest, f"max_layer_bytes ({self.max_layer_bytes} bytes)")
        self.assertEqual(set(self.inventory_packages(digest)), DPKG_STATUS_PACKAGES)

        # A gzip stream cut in the middle of a file of random bytes. The
        # digest is that of the cut bytes, so the registry accepts it.
        whole = gzip_tar([*base, ("opt/random.bin", os.urandom(2 * MEBIBYTE))])
        truncated = whole[:len(whole) * 2 // 3]
        digest = self.push_layers("va-bad/truncated", [truncated], "latest")
        results["truncated gzip"] = digest, self.wait_indexed("va-bad/truncated:latest")[1]
        report = self.report("va-bad/truncated:latest")
        self.assertEqual(report["status"], "INCOMPLETE", report)
        self.assert_layer_named(report, sha256_digest(truncated), "stops after")
        self.assertEqual(set(self.inventory_packages(digest)), DPKG_STATUS_PACKAGES)

        # A 2 GiB sparse file beside a dpkg status and no os-release.
        layer = self.build_sparse_layer(directory, {"var/lib/dpkg/status": DPKG_STATUS, "srv/disk.img": None})
        digest = self.push_layers("va-bad/sparse", [layer], "latest")
        results["sparse file"] = digest, self.wait_indexed("va-bad/sparse:latest")[1]
        report = self.report("va-bad/sparse:latest")
        self.assertEqual(report["status"], "UNSUPPORTED", report)
        self.assertIn("no os-release file was found", report["reason"])
        self.assertEqual(set(self.inventory_packages(digest)), DPKG_STATUS_PACKAGES)

        # The dpkg status itself as a 2 GiB sparse file: over max_text_file_bytes.
        layer = self.build_sparse_layer(directory, {"etc/os-release": BOOKWORM_OS_RELEASE,
                                                    "var/lib/dpkg/status": None})
        digest = self.push_layers("va-bad/sparse-status", [layer], "latest")
        results["sparse dpkg status"] = digest, self.wait_indexed("va-bad/sparse-status:latest")[1]
        report = self.report("va-bad/sparse-status:latest")
        self.assertEqual(report["status"], "INCOMPLETE", report)
        self.assert_layer_named(report, sha256_digest(layer), '"var/lib/dpkg/status"', "max_text_file_bytes")

        memory_after = self.peak_memory_kib()
        # The worker still indexes a normal Debian image after the set.
        self.push_fixture("vulnerable", "latest", "va-bad/vulnerable:latest")
        summary, seconds = self.wait_indexed("va-bad/vulnerable:latest")
        results["vulnerable:latest after the set"] = layout_manifest_digest("vulnerable", "latest"), seconds
        self.assertEqual(summary["status"], "WARN", summary)
        self.assertEqual(self.inventory_row(layout_manifest_digest("vulnerable", "latest"))["status"], "complete")
        memory_final = self.peak_memory_kib()

        for case, (digest, seconds) in results.items():
            print(f"{case}: indexed {seconds:.1f} s after the push (worker: {self.worker_milliseconds(digest)} ms)")
        print(f"berthd VmHWM: {memory_before} KiB after debian:bookworm, {memory_after} KiB after the malformed set "
              f"(+{memory_after - memory_before} KiB), {memory_final} KiB after vulnerable:latest")
        self.assertLess(memory_after - memory_before, self.max_memory_growth_kib)
        self.assertIsNone(self.berthd.process.poll(), "berthd exited")


if __name__ == "__main__":
    unittest.main()
