"""Online garbage collection while 16 clients push, pull, mount and delete.

berthd runs with a 2 s grace period and its scheduler's gc job due every
second, although the scheduler looks for due jobs only every 5 s. At the
same time a loop runs `berthd admin gc` processes, which share the job's
lease with the scheduler. The clients push 500 images whose layers come
from a shared pool, so most blobs are shared between images and
repositories. Some images are deleted
and stay in the trash, others are deleted and their trash entries expired,
which turns their blobs into garbage while other clients may be pushing
images that use the same layers.

The checks at the end are deterministic: every image that was not deleted
pulls with the pushed manifest and blob bytes, the storage contains
exactly the blobs of live and trashed images after a final collection past the
grace period, and `berthd admin verify` finds nothing to report. How often
a push raced a collection varies from run to run and is only reported,
except for the probe pushes, which wait for the collection on purpose.

SlowCommitTest holds an upload between moving its data into place and
linking it until a collection has run, with an LD_PRELOAD library.
"""

import collections
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from urllib.parse import quote

from harness import BERTHD, Berthd, BerthdTestCase, embedded_only, image_manifest, push_blob, sha256_digest

GRACE_SECONDS = 2
CLIENTS = 16
IMAGE_COUNT = 500
REPOSITORY_COUNT = 8
NAMESPACE = "gcstress"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
# Matches lifecycle::kTrashRetentionSeconds (30 days), with a margin.
TRASH_AGE_SECONDS = 31 * 24 * 3600
# How long a probe waits for garbage collection to remove its unused blob.
PROBE_TIMEOUT_SECONDS = 60
SEED = 20261205



def counts_of(output):
    """The JSON counts that `berthd admin gc` or `job-run` prints on its
    first line, after "<job> finished in N s: "."""
    return json.JSONDecoder().raw_decode(output, output.index("{"))[0]

class Image:
    """One planned image: where it goes, what it contains, how it is pushed
    and whether it is deleted afterwards."""

    def __init__(self, index, repository, config, layers, mode, fate):
        self.index = index
        self.repository = repository
        self.tag = f"v{index}"
        self.config = config
        self.layers = layers  # [bytes]
        self.mode = mode  # "upload", "head", "mount" or "probe"
        self.fate = fate  # "keep", "trash" (deleted) or "expire" (deleted, trash entry expired)
        # Seconds between the HEADs and the manifest PUT of a "head" push,
        # as if the client uploaded other layers meanwhile.
        self.pause_before_put = 0.0
        self.manifest = image_manifest(sha256_digest(config), len(config),
                                       [(sha256_digest(layer), len(layer)) for layer in layers])
        self.digest = sha256_digest(self.manifest)

    def blobs(self):
        """{digest: bytes} of the config and the layers."""
        found = {sha256_digest(self.config): self.config}
        for layer in self.layers:
            found[sha256_digest(layer)] = layer
        return found


def plan_images():
    """The 500 images, the same on every run.

    Every image takes two layers of 24 common ones. Images whose trash
    entries expire also take one of 12 doomed layers, which only some
    "head" pushes share, so most doomed layers end as garbage. They also
    take the cycle layer of their client, which no other image uses. Each
    such push links that layer again after the previous image's expiry
    made it garbage, so a "head" push among them may find it just before a
    collection removes it. Probe images add a private layer that no other
    image uses.
    """
    rng = random.Random(SEED)
    common = [rng.randbytes(rng.randint(1024, 48 * 1024)) for _ in range(24)]
    doomed = [rng.randbytes(rng.randint(1024, 48 * 1024)) for _ in range(12)]
    cycle = [b"cycle layer of client %d\n" % client + rng.randbytes(8192) for client in range(CLIENTS)]
    images = []
    for index in range(IMAGE_COUNT):
        if index % 5 == 3:
            fate = "expire"
        elif index % 10 == 1:
            fate = "trash"
        else:
            fate = "keep"
        mode = ("upload", "head", "mount")[index % 3]
        if fate == "keep" and (32 <= index < 48 or 256 <= index < 272):
            mode = "probe"
        layers = rng.sample(common, 2)
        shares_doomed_layer = mode == "head" and index % 7 == 0
        if fate == "expire" or shares_doomed_layer:
            layers.append(rng.choice(doomed))
        if fate == "expire":
            layers.append(cycle[index % CLIENTS])
        if mode == "probe":
            layers.append(b"private layer of probe image %d\n" % index + rng.randbytes(4096))
        config = json.dumps({"architecture": "amd64", "os": "linux", "image": index}).encode()
        image = Image(index, f"{NAMESPACE}/app{index % REPOSITORY_COUNT}", config, layers, mode, fate)
        if mode == "head" and (fate == "expire" or shares_doomed_layer):
            # Widens the window in which a collection removes a layer that
            # the HEAD found.
            image.pause_before_put = 1.5
        images.append(image)
    return images


class PushFailed(Exception):
    pass


def collected_while_stored(response):
    """Whether berthd rejected an upload because garbage collection removed
    the blob between recording and linking it."""
    return response.status == 400 and response.error_codes() == ["BLOB_UPLOAD_INVALID"]


class GcStressTest(BerthdTestCase):
    berthd_env = {"BERTH_GC_GRACE_SECONDS": str(GRACE_SECONDS), "BERTH_GC_INTERVAL_SECONDS": "1"}

    def setUp(self):
        self.berthd.create_namespace(NAMESPACE)
        self.counts = collections.Counter()
        self.lock = threading.Lock()
        self.errors = []
        # Layer digest -> repositories where an image with that layer was
        # pushed: the sources of cross-repository mounts. Deleted images stay
        # sources, so some mounts ask for blobs that are garbage by then.
        self.layer_homes = collections.defaultdict(set)
        self.pushed_keepers = []  # images with fate "keep" that were pushed
        self.pending_expiry = []  # (repository, manifest digest) deleted and due to expire
        self.stopping = threading.Event()
        self.slowest_upload = 0.0

    # --- Counting and errors --------------------------------------------------

    def count(self, name, amount=1):
        with self.lock:
            self.counts[name] += amount

    def guarded(self, name, work):
        """Runs `work` and stores any exception with `name` for the final assert."""
        try:
            work()
        except Exception as error:  # reported by assert_no_errors with its thread's name
            with self.lock:
                self.errors.append(f"{name}: {error!r}")

    def assert_no_errors(self):
        self.assertEqual(self.errors, [])

    # --- Blob and manifest requests -------------------------------------------

    def upload(self, repository, data, monolithic):
        """Uploads a blob with one POST ?digest= or with POST then PUT. Repeats
        the upload while berthd rejects it because garbage collection removed
        the blob before the upload linked it (storing took longer than the
        grace period)."""
        digest = sha256_digest(data)
        for _ in range(5):
            begun = time.monotonic()
            if monolithic:
                done = self.berthd.request("POST", f"/v2/{repository}/blobs/uploads/?digest={digest}", body=data,
                                           headers={"Content-Type": "application/octet-stream"})
            else:
                started = self.berthd.request("POST", f"/v2/{repository}/blobs/uploads/")
                if started.status != 202:
                    raise PushFailed(f"starting an upload to {repository} returned {started}")
                done = self.finish_upload(started.header("Location"), digest, data)
            with self.lock:
                self.slowest_upload = max(self.slowest_upload, time.monotonic() - begun)
            if done.status == 201:
                self.count("blob uploads")
                return
            if not collected_while_stored(done):
                raise PushFailed(f"uploading {digest} to {repository} returned {done}")
            self.count("uploads repeated because gc removed the blob while it was stored")
        raise PushFailed(f"uploading {digest} to {repository} was rejected with BLOB_UPLOAD_INVALID 5 times")

    def finish_upload(self, location, digest, data):
        separator = "&" if "?" in location else "?"
        return self.berthd.request("PUT", f"{location}{separator}digest={digest}", body=data,
                                   headers={"Content-Type": "application/octet-stream"})

    def blob_exists(self, repository, digest):
        response = self.berthd.request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if response.status not in (200, 404):
            raise PushFailed(f"HEAD of blob {digest} in {repository} returned {response}")
        return response.status == 200

    def mount_or_upload(self, image, data):
        """Mounts a layer from another repository that has it, or uploads
        it through the session that a rejected mount opens."""
        digest = sha256_digest(data)
        with self.lock:
            sources = sorted(self.layer_homes[digest] - {image.repository})
        if not sources:
            self.count("mounts without a source")
            self.upload(image.repository, data, monolithic=True)
            return
        source = sources[image.index % len(sources)]
        response = self.berthd.request("POST", f"/v2/{image.repository}/blobs/uploads/?mount={digest}&from={source}")
        if response.status == 201:
            self.count("mounts")
            return
        if response.status != 202:
            raise PushFailed(f"mounting {digest} from {source} into {image.repository} returned {response}")
        # The blob went (collected, or its source link is gone): upload it.
        self.count("mounts answered with an upload")
        done = self.finish_upload(response.header("Location"), digest, data)
        if collected_while_stored(done):
            self.count("uploads repeated because gc removed the blob while it was stored")
            self.upload(image.repository, data, monolithic=True)
            return
        if done.status != 201:
            raise PushFailed(f"uploading {digest} after a rejected mount returned {done}")
        self.count("blob uploads")

    def put_manifest(self, image):
        return self.berthd.request("PUT", f"/v2/{image.repository}/manifests/{image.tag}", body=image.manifest,
                                   headers={"Content-Type": MANIFEST_TYPE})

    def missing_blobs(self, image, response):
        """The digests a MANIFEST_BLOB_UNKNOWN response names; raises on any other response."""
        if response.status != 400 or set(response.error_codes()) != {"MANIFEST_BLOB_UNKNOWN"}:
            raise PushFailed(f"PUT of manifest {image.repository}:{image.tag} returned {response}")
        missing = [entry["detail"]["digest"] for entry in response.json()["errors"]]
        unknown = set(missing) - set(image.blobs())
        if unknown:
            raise PushFailed(f"{image.repository}:{image.tag} was rejected for blobs it does not use: {unknown}")
        return missing

    def put_manifest_until_stored(self, image):
        """PUTs the manifest; after each MANIFEST_BLOB_UNKNOWN re-uploads the
        named blobs (garbage collection removed them after the client saw
        them) and tries again."""
        blobs = image.blobs()
        for _ in range(10):
            response = self.put_manifest(image)
            if response.status == 201:
                self.count("manifest pushes")
                return
            for digest in self.missing_blobs(image, response):
                self.upload(image.repository, blobs[digest], monolithic=False)
            self.count("manifest retries after MANIFEST_BLOB_UNKNOWN")
        raise PushFailed(f"{image.repository}:{image.tag} was still rejected after 10 re-uploads")

    # --- Pushing, pulling and deleting ----------------------------------------

    def push(self, image):
        if image.mode == "probe":
            self.push_probe(image)
            return
        config_digest = sha256_digest(image.config)
        for digest, data in image.blobs().items():
            if image.mode == "head" or (image.mode == "mount" and digest == config_digest):
                if self.blob_exists(image.repository, digest):
                    self.count("uploads skipped after HEAD")
                else:
                    self.upload(image.repository, data, monolithic=image.index % 2 == 0)
            elif image.mode == "mount":
                self.mount_or_upload(image, data)
            else:
                self.upload(image.repository, data, monolithic=image.index % 2 == 0)
        time.sleep(image.pause_before_put)
        self.put_manifest_until_stored(image)

    def push_probe(self, image):
        """Uploads the private layer, finds it with HEAD, waits until garbage
        collection removes it (nothing references it and the grace period
        passes), then pushes the image as a client that trusted the HEAD.
        The PUT must fail with MANIFEST_BLOB_UNKNOWN for that layer."""
        private = image.layers[-1]
        private_digest = sha256_digest(private)
        for _ in range(5):
            self.upload(image.repository, private, monolithic=True)
            if self.blob_exists(image.repository, private_digest):
                break
            # The HEAD came more than the grace period after the upload.
            self.count("probe uploads collected before their HEAD")
        else:
            raise PushFailed(f"probe blob {private_digest} was collected before its HEAD 5 times")
        deadline = time.monotonic() + PROBE_TIMEOUT_SECONDS
        while self.blob_exists(image.repository, private_digest):
            if time.monotonic() > deadline:
                raise PushFailed(f"garbage collection left unreferenced blob {private_digest} for "
                                 f"{PROBE_TIMEOUT_SECONDS} s, far past the grace period of {GRACE_SECONDS} s")
            time.sleep(0.2)

        for digest, data in image.blobs().items():
            if digest == private_digest:
                continue  # the client believes it is there
            if self.blob_exists(image.repository, digest):
                self.count("uploads skipped after HEAD")
            else:
                self.upload(image.repository, data, monolithic=True)
        rejected = self.put_manifest(image)
        if rejected.status == 201:
            raise PushFailed(f"probe {image.repository}:{image.tag} was stored although blob {private_digest} "
                             f"was collected")
        if private_digest not in self.missing_blobs(image, rejected):
            raise PushFailed(f"probe {image.repository}:{image.tag} was rejected without naming {private_digest}: "
                             f"{rejected}")
        self.count("probes rejected with MANIFEST_BLOB_UNKNOWN")
        for digest in self.missing_blobs(image, rejected):
            self.upload(image.repository, image.blobs()[digest], monolithic=False)
        self.put_manifest_until_stored(image)

    def pull(self, image):
        """Pulls by tag and checks the manifest bytes and the sha256 of every blob byte."""
        response = self.berthd.request("GET", f"/v2/{image.repository}/manifests/{image.tag}",
                                       headers={"Accept": MANIFEST_TYPE})
        if response.status != 200:
            raise AssertionError(f"pulling {image.repository}:{image.tag} returned {response}")
        if response.body != image.manifest or response.header("Docker-Content-Digest") != image.digest:
            raise AssertionError(f"{image.repository}:{image.tag} pulled a different manifest: {response}")
        for digest, data in image.blobs().items():
            blob = self.berthd.request("GET", f"/v2/{image.repository}/blobs/{digest}")
            if blob.status != 200:
                raise AssertionError(f"blob {digest} of {image.repository}:{image.tag} returned {blob}")
            if sha256_digest(blob.body) != digest or len(blob.body) != len(data):
                raise AssertionError(f"blob {digest} of {image.repository}:{image.tag} pulled "
                                     f"{len(blob.body)} bytes with digest {sha256_digest(blob.body)}")
        self.count("pulls")

    def delete(self, image):
        reference = quote(f"{image.repository}:{image.tag}")
        response = self.berthd.request("DELETE", f"/api/v1/images/{reference}")
        if response.status != 200:
            raise AssertionError(f"deleting {image.repository}:{image.tag} returned {response}")
        self.count("deletes")

    def run_client(self, client, images):
        rng = random.Random(SEED + client)
        for image in images:
            self.push(image)
            self.pull(image)
            with self.lock:
                for layer in image.layers:
                    self.layer_homes[sha256_digest(layer)].add(image.repository)
                earlier = list(self.pushed_keepers)
                if image.fate == "keep":
                    self.pushed_keepers.append(image)
            if earlier:
                self.pull(rng.choice(earlier))
            if image.fate != "keep":
                self.delete(image)
            if image.fate == "expire":
                with self.lock:
                    self.pending_expiry.append((image.repository, image.digest))

    # --- Background jobs -----------------------------------------------------

    def admin(self, *args):
        """Runs a berthd admin command, retrying while another process holds
        the job's lease; returns the JSON counts of the finished run."""
        for _ in range(600):
            result = self.berthd.admin(*args)
            if result.returncode == 0:
                return counts_of(result.stdout)
            if "is running on another node or process now" not in result.stderr:
                raise AssertionError(f"berthd admin {' '.join(args)} failed with exit {result.returncode}: "
                                     f"{result.stdout}{result.stderr}")
            self.count(f"admin {args[-1]} runs that found the lease held")
            time.sleep(0.1)
        raise AssertionError(f"berthd admin {' '.join(args)} found the lease held 600 times")

    def scheduler_gc_results(self):
        """The counts of every gc run of berthd's own scheduler, from its log."""
        return [json.loads(match) for match in
                re.findall(r"job_finished job=gc seconds=\d+ result=(\{.*\})", self.berthd.log_text())]

    def run_gc_loop(self):
        """Waits for the scheduler's first gc run, so that both kinds of run
        happen during the pushes, then runs `berthd admin gc` (every fourth
        time with --dry-run) until the clients finish."""
        deadline = time.monotonic() + 60
        while not self.scheduler_gc_results():
            if time.monotonic() > deadline:
                raise AssertionError("berthd's scheduler ran no gc within 60 s with gc.interval_seconds=1")
            time.sleep(0.2)
        runs = 0
        # Keeps going after the clients finish until one collection (not a
        # dry run) has finished.
        while not (self.stopping.is_set() and self.counts["admin gc runs"] > 0):
            if runs % 4 == 3:
                result = self.berthd.admin("gc", "--dry-run")
                if result.returncode != 0 or "Would remove " not in result.stdout:
                    raise AssertionError(f"berthd admin gc --dry-run failed: {result.stdout}{result.stderr}")
                self.count("admin gc dry runs")
            else:
                result = self.berthd.admin("gc")
                if result.returncode == 0:
                    counts = counts_of(result.stdout)
                    self.count("admin gc runs")
                    self.count("blobs removed by admin gc", counts["blobs_removed"])
                elif "is running on another node or process now" in result.stderr:
                    self.count("admin gc runs that found the lease held")
                else:
                    raise AssertionError(f"berthd admin gc failed with exit {result.returncode}: "
                                         f"{result.stdout}{result.stderr}")
            runs += 1
            # Leaves berthd's scheduler room to take the lease.
            time.sleep(1)

    def expire_pending(self):
        """Moves the trash entries of deleted "expire" images 31 days back
        and runs the trash-expiry job on them."""
        with self.lock:
            batch, self.pending_expiry = self.pending_expiry, []
        if not batch:
            return
        for repository, digest in batch:
            changed = self.berthd.update(
                "UPDATE trash SET trashed_at = trashed_at - ? WHERE digest = ? AND "
                "repository_id = (SELECT id FROM repositories WHERE name = ?)",
                (TRASH_AGE_SECONDS, digest, repository))
            if changed != 1:
                raise AssertionError(f"{repository}@{digest} is not in the trash after its delete")
        counts = self.admin("job-run", "trash-expiry")
        self.count("trash entries expired by admin job-run", counts["entries_removed"])

    def run_expiry_loop(self):
        while not self.stopping.is_set():
            self.expire_pending()
            time.sleep(1)
        self.expire_pending()

    # --- Final state ----------------------------------------------------------

    def pull_all(self, images):
        queue = list(images)

        def worker(name):
            while True:
                with self.lock:
                    if not queue:
                        return
                    image = queue.pop()
                self.guarded(name, lambda: self.pull(image))

        threads = [threading.Thread(target=worker, args=(f"final puller {n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def report(self, garbage, started):
        scheduler_runs = self.scheduler_gc_results()
        lines = [f"{name}: {value}" for name, value in sorted(self.counts.items())]
        lines.append(f"gc runs of berthd's scheduler: {len(scheduler_runs)}")
        lines.append("gc runs of berthd's scheduler that found the lease held: "
                     f"{self.berthd.log_text().count('job_skipped job=gc reason=lease_held_elsewhere')}")
        lines.append(f"blobs removed by berthd's scheduler: {sum(run['blobs_removed'] for run in scheduler_runs)}")
        lines.append(f"garbage blobs of expired images (all removed): {len(garbage)}")
        lines.append(f"slowest blob upload: {self.slowest_upload:.2f} s")
        lines.append(f"seconds: {time.monotonic() - started:.1f}")
        print("\ngc stress counts:\n  " + "\n  ".join(lines), file=sys.stderr)

    # --- The test -------------------------------------------------------------

    def test_gc_keeps_live_blobs_and_removes_garbage(self):
        started = time.monotonic()
        images = plan_images()
        per_client = [images[client::CLIENTS] for client in range(CLIENTS)]

        gc_loop = threading.Thread(target=self.guarded, args=("admin gc loop", self.run_gc_loop))
        expiry_loop = threading.Thread(target=self.guarded, args=("trash expiry loop", self.run_expiry_loop))
        clients = [threading.Thread(target=self.guarded,
                                    args=(f"client {n}", lambda n=n: self.run_client(n, per_client[n])))
                   for n in range(CLIENTS)]
        for thread in [gc_loop, expiry_loop, *clients]:
            thread.start()
        for thread in clients:
            thread.join()
        self.stopping.set()
        gc_loop.join()
        expiry_loop.join()
        self.assert_no_errors()

        # A collection that starts more than the grace period after the last
        # push, delete and expiry removes every blob unused since then.
        last_change = int(time.time())
        while int(time.time()) <= last_change + GRACE_SECONDS:
            time.sleep(0.2)
        final = self.admin("gc")
        self.count("blobs removed by the final admin gc", final["blobs_removed"])

        live = [image for image in images if image.fate == "keep"]
        trashed = [image for image in images if image.fate == "trash"]
        expired = [image for image in images if image.fate == "expire"]
        kept_blobs = set()
        for image in live + trashed:
            kept_blobs.update(image.blobs())
        garbage = set()
        for image in expired:
            garbage.update(set(image.blobs()) - kept_blobs)

        self.pull_all(live)
        self.assert_no_errors()
        self.assertEqual(self.counts["manifest pushes"], len(images))
        self.assertEqual(self.counts["deletes"], len(trashed) + len(expired))
        probes = sum(1 for image in images if image.mode == "probe")
        self.assertEqual(self.counts["probes rejected with MANIFEST_BLOB_UNKNOWN"], probes)
        self.assertGreater(len(self.scheduler_gc_results()), 0)
        self.assertGreater(self.counts["admin gc runs"], 0)

        files = self.berthd.stored_blobs()
        self.assertEqual(files & garbage, set(), "blobs of expired images are still stored")
        self.assertEqual(kept_blobs - files, set(), "blobs of live or trashed images are missing")
        self.assertEqual(files - kept_blobs, set(), "blobs that no image uses are still stored")
        records = {digest for (digest,) in self.berthd.query("SELECT digest FROM blobs")}
        self.assertEqual(records, kept_blobs)
        in_trash = set(self.berthd.query(
            "SELECT r.name, t.digest FROM trash t JOIN repositories r ON r.id = t.repository_id"))
        self.assertEqual(in_trash, {(image.repository, image.digest) for image in trashed})
        self.assertEqual(self.berthd.stored_uploads(), [])

        verify = self.berthd.admin("verify", "--deep")
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn("store is clean\n", verify.stdout)
        self.assertNotIn("notice:", verify.stdout)
        self.assertNotIn("error:", verify.stdout)

        self.report(garbage, started)


# An LD_PRELOAD library for berthd: fsync on a directory waits while the
# file named by GC_TEST_HOLD_FLAG exists (at most 60 s). Committing an
# upload fsyncs the blob's directory after the rename and before the link,
# so holding that fsync keeps an upload between the two steps.
HOLD_FSYNC_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync(int fd) {
  static int (*real_fsync)(int);
  if (!real_fsync) real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  const char* flag = getenv("GC_TEST_HOLD_FLAG");
  struct stat info;
  if (flag && fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    for (int i = 0; i < 1200 && access(flag, F_OK) == 0; ++i) usleep(50000);
  }
  return real_fsync(fd);
}
"""


def blobs_with_prefix(prefix, count):
    """`count` distinct blobs whose sha256 hex digests start with `prefix`."""
    found = []
    number = 0
    while len(found) < count:
        data = b"blob %d" % number
        if hashlib.sha256(data).hexdigest().startswith(prefix):
            found.append(data)
        number += 1
    return found


@embedded_only("holds the filesystem driver's directory fsync, which S3 storage does not make")
class SlowCommitTest(unittest.TestCase):
    """Uploads whose link comes after the grace period, because the fsync
    between moving the data into place and linking it is held, while a
    collection runs."""

    @classmethod
    def setUpClass(cls):
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise unittest.SkipTest("no C compiler on the PATH to build the fsync library")
        cls.workdir = Path(tempfile.mkdtemp(prefix="berth-test-"))
        try:
            source = cls.workdir / "hold_fsync.c"
            source.write_text(HOLD_FSYNC_SOURCE)
            library = cls.workdir / "hold_fsync.so"
            subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source), "-ldl"], check=True)
            cls.flag = cls.workdir / "hold-directory-fsync"
            cls.berthd = Berthd(cls.workdir / "data", env={
                "BERTH_GC_GRACE_SECONDS": str(GRACE_SECONDS), "BERTH_GC_INTERVAL_SECONDS": "0",
                "LD_PRELOAD": str(library), "GC_TEST_HOLD_FLAG": str(cls.flag)}).start()
        except Exception:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.flag.unlink(missing_ok=True)
        cls.berthd.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def admin_gc(self):
        """Runs `berthd admin gc` without the fsync library; returns its counts."""
        environment = {key: value for key, value in self.berthd.environment().items() if key != "LD_PRELOAD"}
        result = subprocess.run([str(BERTHD), "admin", "gc", "--data", str(self.berthd.data_dir)],
                                capture_output=True, text=True, timeout=120, env=environment)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return counts_of(result.stdout)

    def test_upload_collected_before_link_is_rejected(self):
        berthd = self.berthd
        berthd.create_namespace("slowdisk")
        repository = "slowdisk/app"
        # The first blob creates the directory that the two others share, so
        # their commits fsync only that directory, after the rename.
        first = b"first blob"
        push_blob(berthd, repository, first)
        whole, chunked = blobs_with_prefix(sha256_digest(first)[7:9], 2)
        session = berthd.request("POST", f"/v2/{repository}/blobs/uploads/")
        self.assertEqual(session.status, 202, session)

        self.flag.touch()
        responses = {}

        def upload_whole():
            responses["whole"] = berthd.request(
                "POST", f"/v2/{repository}/blobs/uploads/?digest={sha256_digest(whole)}", body=whole)

        def finish_chunked():
            responses["chunked"] = berthd.request(
                "PUT", f"{session.header('Location')}?digest={sha256_digest(chunked)}", body=chunked)

        uploads = [threading.Thread(target=upload_whole), threading.Thread(target=finish_chunked)]
        for thread in uploads:
            thread.start()
        paths = [berthd.data_dir / "blobs" / "sha256" / sha256_digest(data)[7:9] / sha256_digest(data)[7:]
                 for data in (whole, chunked)]
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in paths):
            self.assertLess(time.monotonic(), deadline, "the uploads did not move their data into place")
            time.sleep(0.05)
        in_place = int(time.time())
        while int(time.time()) <= in_place + GRACE_SECONDS:
            time.sleep(0.1)
        counts = self.admin_gc()
        self.flag.unlink()
        for thread in uploads:
            thread.join()

        # Both blobs and the first one were unused for the grace period.
        self.assertEqual(counts["blobs_removed"], 3, counts)
        for name, data in (("whole", whole), ("chunked", chunked)):
            response = responses[name]
            self.assertEqual(response.status, 400, response)
            self.assertEqual(response.error_codes(), ["BLOB_UPLOAD_INVALID"])
            head = berthd.request("HEAD", f"/v2/{repository}/blobs/{sha256_digest(data)}")
            self.assertEqual(head.status, 404, head)

        # The client uploads again, and the image pushes and pulls.
        for data in (whole, chunked):
            push_blob(berthd, repository, data)
        manifest = image_manifest(sha256_digest(whole), len(whole), [(sha256_digest(chunked), len(chunked))])
        stored = berthd.request("PUT", f"/v2/{repository}/manifests/latest", body=manifest,
                                headers={"Content-Type": MANIFEST_TYPE})
        self.assertEqual(stored.status, 201, stored)
        for data in (whole, chunked):
            pulled = berthd.request("GET", f"/v2/{repository}/blobs/{sha256_digest(data)}")
            self.assertEqual(pulled.body, data)
        verify = berthd.admin("verify")
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertNotIn("error:", verify.stdout)


if __name__ == "__main__":
    unittest.main()
