"""A short run of the benchmark's load generator against berthd, so the
tool keeps working; bench/run is never part of the test suite."""

import json
import os
import subprocess
from pathlib import Path

from harness import ROOT, BerthdTestCase

LOADGEN = Path(os.environ.get("LOADGEN", ROOT / "build" / "berth-bench"))
# The environment variable that berth-bench reads when --user is not given.
USER_VARIABLE = "BERTHBENCH_USER"


class LoadGeneratorSmokeTest(BerthdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # berth-bench speaks only the distribution API, so the namespaces of
        # its repository names must exist first.
        for namespace in ("smoke", "smokelist", "absent"):
            cls.berthd.create_namespace(namespace)

    def loadgen(self, *args, user=None, environment=None):
        """Runs berth-bench against berthd with the `user` option (if any) and
        returns the CompletedProcess. Without `environment`, berth-bench runs
        in this process's environment minus BERTHBENCH_USER."""
        command = [str(LOADGEN), *args, "--url", self.berthd.url]
        if user is not None:
            command += ["--user", user]
        environment = environment or {key: value for key, value in os.environ.items() if key != USER_VARIABLE}
        return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)

    def run_loadgen(self, *args):
        """Runs berth-bench with the initial API key, expects success and returns its JSON result."""
        completed = self.loadgen(*args, user=f"iamapikey:{self.berthd.api_key}")
        self.assertEqual(completed.returncode, 0, completed.stderr + completed.stdout)
        return json.loads(completed.stdout.strip().splitlines()[-1])

    def test_push_pull_mixed_get_populate(self):
        common = ["--prefix", "smoke/image", "--images", "4", "--size", "256K", "--concurrency", "2"]
        pushed = self.run_loadgen("push", *common)
        self.assertEqual((pushed["operations"], pushed["errors"]), (4, 0))
        chunked = self.run_loadgen("push", "--prefix", "smoke/chunked", "--images", "2", "--size", "300K",
                                   "--chunk", "100K", "--concurrency", "1")
        self.assertEqual((chunked["operations"], chunked["errors"]), (2, 0))
        pulled = self.run_loadgen("pull", *common)
        self.assertEqual(pulled["errors"], 0)
        self.assertGreater(pulled["bytes"], 4 * 256 * 1024)
        mixed = self.run_loadgen("mixed", *common, "--operations", "8")
        self.assertEqual((mixed["operations"], mixed["errors"]), (8, 0))
        got = self.run_loadgen("get", "--path", "/v2/smoke/image-0/manifests/v1", "--concurrency", "2",
                               "--seconds", "0.3")
        self.assertEqual(got["errors"], 0)
        self.assertGreater(got["operations"], 0)
        head = self.run_loadgen("get", "--head", "--path", "/v2/smoke/image-0/manifests/v1", "--seconds", "0.3")
        self.assertEqual(head["errors"], 0)
        populated = self.run_loadgen("populate", "--prefix", "smokelist", "--repositories", "5", "--concurrency", "2")
        self.assertEqual(populated["errors"], 0)
        catalog = self.berthd.request("GET", "/v2/_catalog?n=1000").json()["repositories"]
        self.assertEqual(len([name for name in catalog if name.startswith("smokelist/")]), 5)
        tags = self.run_loadgen("populate", "--repository", "smokelist/tags", "--tags", "7")
        self.assertEqual(tags["errors"], 0)
        self.assertEqual(len(self.berthd.request("GET", "/v2/smokelist/tags/tags/list").json()["tags"]), 7)

    def test_single_blob_pushes_and_manifest_puts(self):
        blobs = self.run_loadgen("push-blobs", "--repository", "smoke/blobs", "--images", "3", "--size", "16K")
        self.assertEqual((blobs["operations"], blobs["errors"]), (3, 0))
        more = self.run_loadgen("push-blobs", "--repository", "smoke/blobs", "--images", "2", "--size", "16K",
                                "--start", "3", "--chunk", "8K")
        self.assertEqual((more["operations"], more["errors"]), (2, 0))
        manifests = self.run_loadgen("put-manifests", "--repository", "smoke/manifests", "--images", "4")
        self.assertEqual((manifests["operations"], manifests["errors"]), (4, 0))

        tags = self.berthd.request("GET", "/v2/smoke/manifests/tags/list").json()["tags"]
        self.assertEqual(sorted(tags), ["m100000", "m100001", "m100002", "m100003"])
        digests = {self.berthd.request("HEAD", f"/v2/smoke/manifests/manifests/{tag}", headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json"}).header("Docker-Content-Digest") for tag in tags}
        self.assertEqual(len(digests), 4, "each PUT must store a manifest of its own")

    def test_failures_are_counted(self):
        completed = self.loadgen("pull", "--prefix", "absent/image", "--images", "2",
                                 user=f"iamapikey:{self.berthd.api_key}")
        self.assertEqual(completed.returncode, 1)
        result = json.loads(completed.stdout)
        self.assertEqual(result["errors"], 2)
        self.assertIn("404", result["first_error"])

    def test_credentials_from_environment(self):
        self.run_loadgen("push", "--prefix", "smoke/environment", "--images", "1", "--size", "4K")
        pull = ["pull", "--prefix", "smoke/environment", "--images", "1", "--size", "4K"]

        environment = dict(os.environ, **{USER_VARIABLE: f"iamapikey:{self.berthd.api_key}"})
        completed = self.loadgen(*pull, environment=environment)
        self.assertEqual(completed.returncode, 0, completed.stderr + completed.stdout)
        self.assertEqual(json.loads(completed.stdout)["errors"], 0)

        # --user takes precedence over the variable.
        completed = self.loadgen(*pull, user="iamapikey:wrong-key", environment=environment)
        self.assertEqual(completed.returncode, 1, completed.stderr + completed.stdout)
        self.assertIn("401", json.loads(completed.stdout)["first_error"])

    def test_missing_credentials_get_401(self):
        completed = self.loadgen("pull", "--prefix", "smoke/image", "--images", "1")
        self.assertEqual(completed.returncode, 1, completed.stderr + completed.stdout)
        self.assertIn("401", json.loads(completed.stdout)["first_error"])
