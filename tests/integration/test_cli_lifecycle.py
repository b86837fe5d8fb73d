"""berth's plan, quota, trash and retention commands against a running berthd.

Each test class gets its own berthd and a berth configured as in
test_cli.py. Images are pushed over the registry API. Commands that ask
for confirmation run once without a terminal (they must fail and name
--force) and once on a pseudo-terminal that answers the question.
"""

import json
import os
import pty
import re
import socket
import subprocess
import time
import unittest

from harness import image_manifest, push_blob, push_image, sha256_digest
from test_cli import BERTH, CliTestCase, image_config

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
MEGABYTE = 1048576


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def push_untagged_manifest(server, name, layer_data, created):
    """Push an image manifest by digest only; returns its (digest, size)."""
    config = image_config(created)
    config_digest = push_blob(server, name, config)
    layer_digest = push_blob(server, name, layer_data)
    manifest = image_manifest(config_digest, len(config), [(layer_digest, len(layer_data))])
    digest = sha256_digest(manifest)
    response = server.request("PUT", f"/v2/{name}/manifests/{digest}", body=manifest,
                              headers={"Content-Type": MANIFEST_TYPE})
    assert response.status == 201, response
    return digest, len(manifest)


def push_index(server, name, tag, children):
    """Push an OCI index under `tag` that lists `children` [(digest, size, architecture)]; returns its digest."""
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [{"mediaType": MANIFEST_TYPE, "digest": digest, "size": size,
                       "platform": {"architecture": architecture, "os": "linux"}}
                      for digest, size, architecture in children],
    }, separators=(",", ":")).encode()
    response = server.request("PUT", f"/v2/{name}/manifests/{tag}", body=index, headers={"Content-Type": INDEX_TYPE})
    assert response.status == 201, response
    return sha256_digest(index)


class LifecycleTestCase(CliTestCase):
    def full(self, reference):
        """The reference with the registry's domain, as listings print it."""
        return f"{self.berthd.address}/{reference}"

    def berth_on_terminal(self, answer, *args):
        """Run berth with a pseudo-terminal as standard input and type `answer` and Enter."""
        controller, terminal = pty.openpty()
        try:
            process = subprocess.Popen([str(BERTH), *map(str, args)], stdin=terminal, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=self.env, text=True)
            os.close(terminal)
            terminal = None
            os.write(controller, answer.encode() + b"\n")
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if terminal is not None:
                os.close(terminal)
            os.close(controller)
        return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)

    def digests(self, restrict):
        """{REPOSITORY@DIGEST: [tags]} from berth image-digests."""
        listed = json.loads(self.berth_ok("image-digests", "--restrict", restrict, "-o", "json"))
        return {f"{repository}@{image['id']}": sorted(tags) for image in listed
                for repository, tags in image["repoTags"].items()}

    def trash(self, namespace):
        return json.loads(self.berth_ok("trash-list", "--restrict", namespace, "-o", "json"))

    def assert_ok_output(self, output, progress):
        self.assertTrue(output.startswith(progress + "\n\n"), output)
        self.assertTrue(output.endswith("\n\nOK\n"), output)


class PlansAndQuotas(LifecycleTestCase):
    def test_plan_starts_on_lite(self):
        out = self.berth_ok("plan")
        self.assert_ok_output(out, f"Getting the registry plan for account 'default' in registry "
                                   f"'{self.berthd.address}'...")
        self.assertIn("You are on the 'lite' plan.", out)
        self.assertEqual(json.loads(self.berth_ok("plan", "-o", "json")), {"plan": "lite"})

    def test_quota_shows_lite_limits(self):
        out = self.berth_ok("quota")
        self.assert_ok_output(out, "Getting quotas and usage for the current month, for account 'default'...")
        self.assertEqual(self.table(out, header=True), ["QUOTA", "LIMIT", "USED"])
        rows = {row[0]: row[1:] for row in self.table(out)}
        self.assertEqual(rows["Pull traffic"][0], "5.12 GB")
        self.assertEqual(rows["Storage"][0], "512 MB")
        quota = json.loads(self.berth_ok("quota", "-o", "json"))
        self.assertEqual(set(quota), {"usage", "limit"})
        self.assertEqual(quota["limit"], {"traffic": 5120 * MEGABYTE, "store": 512 * MEGABYTE})
        self.assertEqual(set(quota["usage"]), {"traffic", "store"})

    def test_usage_counts_pushes_and_pulls(self):
        self.berth_ok("namespace-add", "usage")
        layer = b"u" * 200_000
        push_image(self.berthd, "usage/app", "v1", layer)
        before = json.loads(self.berth_ok("quota", "-o", "json"))["usage"]
        self.assertGreaterEqual(before["store"], len(layer))
        response = self.berthd.request("GET", f"/v2/usage/app/blobs/{sha256_digest(layer)}")
        self.assertEqual(response.status, 200, response)
        after = json.loads(self.berth_ok("quota", "-o", "json"))["usage"]
        self.assertGreaterEqual(after["traffic"] - before["traffic"], len(layer))

    def test_quota_set_checks_flags_first(self):
        self.assert_failed(self.berth("quota-set"), "Give --storage MB, --traffic MB or both")
        self.assert_failed(self.berth("quota-set", "--storage", "1.5"),
                           "--storage must be a whole number of megabytes (1 MB = 1048576 bytes)")
        self.assert_failed(self.berth("quota-set", "--traffic=-2"), "--traffic must be a whole number of megabytes")


class PlanUpgrade(LifecycleTestCase):
    """Changes the plan and quotas of the account, so it has a berthd of its own."""

    def test_quota_set_upgrade_and_no_downgrade(self):
        out = self.berth_ok("quota-set", "--storage", "100", "--traffic", "1000")
        self.assert_ok_output(out, "Setting quotas: 'storage: 100 , traffic: 1000'...")
        quota = json.loads(self.berth_ok("quota", "-o", "json"))
        self.assertEqual(quota["limit"], {"traffic": 1000 * MEGABYTE, "store": 100 * MEGABYTE})

        over = self.berth("quota-set", "--storage", "600")
        self.assert_failed(over, "above the lite plan's limit of 512 MB")
        self.assertIn("berth plan-upgrade", over.stderr)
        self.assert_failed(self.berth("quota-set", "--traffic=-1"), "above the lite plan's limit")

        out = self.berth_ok("plan-upgrade")
        self.assert_ok_output(out, f"Upgrading account to 'standard' plan in registry '{self.berthd.address}'...")
        self.assertIn("Your account is now on the 'standard' plan.", out)
        self.assertEqual(json.loads(self.berth_ok("plan", "-o", "json")), {"plan": "standard"})
        self.assertIn("already on the 'standard' plan", self.berth_ok("plan-upgrade", "standard"))
        self.assert_failed(self.berth("plan-upgrade", "lite"), "cannot be downgraded")
        self.assert_failed(self.berth("plan-upgrade", "gold"), "unknown plan 'gold'")

        self.berth_ok("quota-set", "--storage", "600")
        self.berth_ok("quota-set", "--storage=-1", "--traffic=-1")
        rows = {row[0]: row[1:] for row in self.table(self.berth_ok("quota"))}
        self.assertEqual(rows["Storage"][0], "Unlimited")
        self.assertEqual(rows["Pull traffic"][0], "Unlimited")
        self.assertEqual(json.loads(self.berth_ok("quota", "-o", "json"))["limit"], {"traffic": -1, "store": -1})


class DeleteAndRestore(LifecycleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.berth_ok("namespace-add", "trash-ns")
            cls.berth_ok("namespace-add", "trash-empty")
        except BaseException:
            cls.tearDownClass()
            raise

    def test_rm_then_restore_by_tag(self):
        _, digest = push_image(self.berthd, "trash-ns/app", "v1", b"rm layer")
        out = self.berth_ok("image-rm", "trash-ns/app:v1")
        self.assertEqual(out, "Deleting image 'trash-ns/app:v1'...\n\n"
                              "Successfully deleted image 'trash-ns/app:v1'.\n\nOK\n")
        self.assertNotIn("trash-ns/app:v1", self.berth_ok("images", "-q", "--restrict", "trash-ns/app"))

        out = self.berth_ok("trash-list", "--restrict", "trash-ns")
        self.assert_ok_output(out, "Listing the contents of the trash...")
        self.assertEqual(self.table(out, header=True), ["Digest", "Days until expiry", "Tags"])
        rows = {row[0]: row[1:] for row in self.table(out)}
        self.assertEqual(rows[self.full(f"trash-ns/app@{digest}")], ["30", "v1"])
        listed = self.trash("trash-ns")
        self.assertEqual(listed[self.full(f"trash-ns/app@{digest}")], {"daysUntilExpiry": 30, "tags": ["v1"]})

        out = self.berth_ok("image-restore", "trash-ns/app:v1")
        self.assertEqual(out, "Restoring image 'trash-ns/app:v1'...\n\n"
                              "Successfully restored image 'trash-ns/app:v1'.\n\nOK\n")
        self.assertIn(self.full("trash-ns/app:v1"), self.berth_ok("images", "-q", "--restrict", "trash-ns/app"))

    def test_restore_by_digest_skips_tags_taken_since(self):
        _, old = push_image(self.berthd, "trash-ns/bird", "a", b"bird old")
        self.berth_ok("image-tag", "trash-ns/bird:a", "trash-ns/bird:b")
        self.berth_ok("image-rm", f"trash-ns/bird@{old}")
        self.assertEqual(self.trash("trash-ns")[self.full(f"trash-ns/bird@{old}")]["tags"], ["a", "b"])
        push_image(self.berthd, "trash-ns/bird", "b", b"bird new")

        out = self.berth_ok("image-restore", f"trash-ns/bird@{old}")
        self.assertIn(f"Successfully restored image 'trash-ns/bird@{old}'.\n", out)
        self.assertIn("Restored tags: a\n", out)
        self.assertIn("Tags not restored, because another image in the repository has them: b.", out)
        self.assertEqual(self.digests("trash-ns/bird")[self.full(f"trash-ns/bird@{old}")], ["a"])

    def test_restore_by_domain_and_digest(self):
        _, digest = push_image(self.berthd, "trash-ns/full", "v1", b"full name")
        self.berth_ok("image-rm", self.full("trash-ns/full:v1"))
        out = self.berth_ok("image-restore", self.full(f"trash-ns/full@{digest}"))
        self.assertIn("Restored tags: v1\n", out)

    def test_restore_taken_tag_fails_with_crt0500e(self):
        push_image(self.berthd, "trash-ns/taken", "t", b"taken old")
        self.berth_ok("image-rm", "trash-ns/taken:t")
        push_image(self.berthd, "trash-ns/taken", "t", b"taken new")
        result = self.berth("image-restore", "trash-ns/taken:t")
        self.assert_failed(result, "CRT0500E The tagged image already exists. You can restore this image by using "
                                   "the digest.")

    def test_restore_of_image_not_in_trash_fails(self):
        self.assert_failed(self.berth("image-restore", "trash-ns/never:v1"), "is not in the trash")

    def test_rm_continues_after_a_missing_image(self):
        push_image(self.berthd, "trash-ns/many", "one", b"many 1")
        push_image(self.berthd, "trash-ns/many", "three", b"many 3")
        result = self.berth("image-rm", "trash-ns/many:one", "trash-ns/many:nope", "trash-ns/many:three")
        self.assert_failed(result, "Could not delete 1 of 3 images:\n'trash-ns/many:nope': ")
        self.assertIn("Successfully deleted image 'trash-ns/many:three'.", result.stdout)
        self.assertEqual(self.berth_ok("images", "-q", "--restrict", "trash-ns/many"), "")

    def test_rm_of_an_index_child_names_the_index(self):
        amd64 = push_untagged_manifest(self.berthd, "trash-ns/multi", b"amd64 layer", "2024-01-01T00:00:00Z")
        arm64 = push_untagged_manifest(self.berthd, "trash-ns/multi", b"arm64 layer", "2024-01-01T00:00:00Z")
        index = push_index(self.berthd, "trash-ns/multi", "v1", [(*amd64, "amd64"), (*arm64, "arm64")])
        result = self.berth("image-rm", f"trash-ns/multi@{amd64[0]}")
        self.assert_failed(result, "Could not delete 1 of 1 images:")
        self.assertIn(index, result.stderr)

    def test_trash_list_of_empty_namespace(self):
        out = self.berth_ok("trash-list", "--restrict", "trash-empty")
        self.assertIn("The trash has no images from namespace 'trash-empty'.", out)
        self.assertEqual(self.trash("trash-empty"), {})
        self.assert_failed(self.berth("trash-list", "--restrict", "trash-ns/app"),
                           "--restrict takes a namespace for trash-list")


class PruneUntagged(LifecycleTestCase):
    def make_namespace_with_untagged(self, namespace):
        """Push robin:spring twice, which leaves the first image untagged; returns (untagged, tagged) digests."""
        self.berth_ok("namespace-add", namespace)
        _, first = push_image(self.berthd, f"{namespace}/robin", "spring", b"robin 1 " + namespace.encode())
        _, second = push_image(self.berthd, f"{namespace}/robin", "spring", b"robin 2 " + namespace.encode())
        return first, second

    def test_json_needs_force(self):
        result = self.berth("image-prune-untagged", "-o", "json")
        self.assert_failed(result, "--output json needs --force")
        self.assertEqual(result.stdout, "")

    def test_without_terminal_lists_and_names_force(self):
        untagged, tagged = self.make_namespace_with_untagged("prune-ask")
        result = self.berth("image-prune-untagged", "--restrict", "prune-ask", input="")
        self.assert_failed(result, "--force")
        self.assertTrue(result.stdout.startswith("Deleting untagged images in namespace 'prune-ask'...\n\n"),
                        result.stdout)
        self.assertEqual(self.table(result.stdout, header=True), ["Image", "Created", "Size"])
        self.assertEqual([row[0] for row in self.table(result.stdout)], [self.full(f"prune-ask/robin@{untagged}")])
        self.assertIn("\nFound 1 image to delete.\n", result.stdout)
        self.assertIn(self.full(f"prune-ask/robin@{untagged}"), self.digests("prune-ask"))

    def test_terminal_answer_decides(self):
        untagged, _ = self.make_namespace_with_untagged("prune-tty")
        declined = self.berth_on_terminal("n", "image-prune-untagged", "--restrict", "prune-tty")
        self.assertEqual(declined.returncode, 0, declined.stderr)
        self.assertIn("Are you sure you want to delete this image?", declined.stdout)
        self.assertTrue(declined.stdout.endswith("No images were deleted.\n\nOK\n"), declined.stdout)
        self.assertIn(self.full(f"prune-tty/robin@{untagged}"), self.digests("prune-tty"))

        accepted = self.berth_on_terminal("y", "image-prune-untagged", "--restrict", "prune-tty/robin")
        self.assertEqual(accepted.returncode, 0, accepted.stderr)
        self.assertIn("Deleting untagged images in repository 'prune-tty/robin'...", accepted.stdout)
        self.assertTrue(accepted.stdout.endswith("Successfully deleted 1 image.\n\nOK\n"), accepted.stdout)
        self.assertNotIn(self.full(f"prune-tty/robin@{untagged}"), self.digests("prune-tty"))

    def test_force_json_deletes_to_trash(self):
        untagged, tagged = self.make_namespace_with_untagged("prune-json")
        out = self.berth_ok("image-prune-untagged", "--restrict", "prune-json", "-f", "-o", "json")
        self.assertEqual(json.loads(out), [{"Digest": self.full(f"prune-json/robin@{untagged}"), "Status": "OK"}])
        self.assertEqual(self.digests("prune-json"), {self.full(f"prune-json/robin@{tagged}"): ["spring"]})
        self.assertIn(self.full(f"prune-json/robin@{untagged}"), self.trash("prune-json"))

    def test_force_prints_the_count(self):
        self.make_namespace_with_untagged("prune-force")
        out = self.berth_ok("image-prune-untagged", "--restrict", "prune-force", "-f")
        self.assertIn("\nFound 1 image to delete.\n\nSuccessfully deleted 1 image.\n\nOK\n", out)

    def test_nothing_to_prune_says_so_without_asking(self):
        self.berth_ok("namespace-add", "prune-clean")
        push_image(self.berthd, "prune-clean/app", "v1", b"clean")
        out = self.berth_ok("image-prune-untagged", "--restrict", "prune-clean")
        self.assert_ok_output(out, "Deleting untagged images in namespace 'prune-clean'...")
        self.assertIn("There are no untagged images to delete.", out)
        self.assertEqual(json.loads(self.berth_ok("image-prune-untagged", "--restrict", "prune-clean", "-f", "-o",
                                                  "json")), [])

    def test_tagged_copy_in_another_repository_stays(self):
        # The image is tagged in prune-copy/a and untagged in prune-copy/b.
        self.berth_ok("namespace-add", "prune-copy")
        _, shared = push_image(self.berthd, "prune-copy/a", "v1", b"shared")
        self.berth_ok("image-tag", "prune-copy/a:v1", "prune-copy/b:v1")
        push_image(self.berthd, "prune-copy/b", "v1", b"replacement")
        out = self.berth_ok("image-prune-untagged", "--restrict", "prune-copy", "-f", "-o", "json")
        self.assertEqual([item["Digest"] for item in json.loads(out)], [self.full(f"prune-copy/b@{shared}")])
        self.assertEqual(self.digests("prune-copy/a"), {self.full(f"prune-copy/a@{shared}"): ["v1"]})

    def test_index_children_are_not_pruned(self):
        self.berth_ok("namespace-add", "prune-index")
        amd64 = push_untagged_manifest(self.berthd, "prune-index/multi", b"p amd64", "2024-01-01T00:00:00Z")
        arm64 = push_untagged_manifest(self.berthd, "prune-index/multi", b"p arm64", "2024-01-01T00:00:00Z")
        push_index(self.berthd, "prune-index/multi", "v1", [(*amd64, "amd64"), (*arm64, "arm64")])
        out = self.berth_ok("image-prune-untagged", "--restrict", "prune-index", "-f", "-o", "json")
        self.assertEqual(json.loads(out), [])
        response = self.berthd.request("GET", f"/v2/prune-index/multi/manifests/{amd64[0]}",
                                       headers={"Accept": MANIFEST_TYPE})
        self.assertEqual(response.status, 200, response)

    def test_restrict_to_unknown_namespace_fails(self):
        self.assert_failed(self.berth("image-prune-untagged", "--restrict", "nosuchns", "-f"),
                           "You have no namespace 'nosuchns'")


class Retention(LifecycleTestCase):
    def make_repository(self, namespace, dates, repository="app"):
        """Push one image per date, tagged v1, v2... in order; returns their digests."""
        self.berth_ok("namespace-add", namespace)
        digests = []
        for number, created in enumerate(dates, start=1):
            _, digest = push_image(self.berthd, f"{namespace}/{repository}", f"v{number}",
                                   f"{namespace} {number}".encode(), image_config(created))
            digests.append(digest)
        return digests

    def test_run_without_terminal_lists_and_names_force(self):
        v1, v2, v3 = self.make_repository("ret-ask", ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z",
                                                      "2022-01-01T00:00:00Z"])
        result = self.berth("retention-run", "--images", "1", "ret-ask", input="")
        self.assert_failed(result, "--force")
        self.assertTrue(result.stdout.startswith(f"Retrieving images to delete from namespace 'ret-ask' in registry "
                                                 f"'{self.berthd.address}'...\n\n"), result.stdout)
        self.assertEqual(self.table(result.stdout, header=True), ["Image", "Tags"])
        rows = {row[0]: row[1] for row in self.table(result.stdout)}
        self.assertEqual(rows, {self.full(f"ret-ask/app@{v1}"): "v1", self.full(f"ret-ask/app@{v2}"): "v2"})
        self.assertIn("\nFound 2 images to delete.\n", result.stdout)
        self.assertEqual(len(self.digests("ret-ask")), 3)

    def test_run_with_force_deletes_the_oldest(self):
        v1, v2, v3 = self.make_repository("ret-run", ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z",
                                                      "2022-01-01T00:00:00Z"])
        out = self.berth_ok("retention-run", "--images", "1", "-f", "ret-run")
        self.assertIn("\nFound 2 images to delete.\n\nDeleting 2 images...\n\nSuccessfully deleted 2 images.\n\nOK\n",
                      out)
        self.assertEqual(self.digests("ret-run"), {self.full(f"ret-run/app@{v3}"): ["v3"]})
        self.assertEqual(set(self.trash("ret-run")), {self.full(f"ret-run/app@{v1}"), self.full(f"ret-run/app@{v2}")})

    def test_run_json_and_terminal(self):
        v1, v2 = self.make_repository("ret-json", ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"])
        declined = self.berth_on_terminal("n", "retention-run", "--images", "1", "ret-json")
        self.assertEqual(declined.returncode, 0, declined.stderr)
        self.assertTrue(declined.stdout.endswith("No images were deleted.\n\nOK\n"), declined.stdout)
        out = self.berth_ok("retention-run", "--images", "1", "-f", "-o", "json", "ret-json")
        self.assertEqual(json.loads(out), [{"Digest": self.full(f"ret-json/app@{v1}"), "Status": "OK"}])

    def test_run_with_nothing_to_delete_does_not_ask(self):
        self.make_repository("ret-none", ["2020-01-01T00:00:00Z"])
        out = self.berth_ok("retention-run", "--images", "5", "ret-none")
        self.assertIn("There are no images to delete.", out)
        self.assertTrue(out.endswith("\n\nOK\n"), out)
        self.assertEqual(json.loads(self.berth_ok("retention-run", "--images", "5", "-f", "-o", "json", "ret-none")),
                         [])

    def test_retain_untagged_keeps_untagged_images(self):
        self.berth_ok("namespace-add", "ret-untagged")
        untagged, _ = push_untagged_manifest(self.berthd, "ret-untagged/app", b"untagged", "2019-01-01T00:00:00Z")
        _, old = push_image(self.berthd, "ret-untagged/app", "old", b"old", image_config("2020-01-01T00:00:00Z"))
        _, new = push_image(self.berthd, "ret-untagged/app", "new", b"new", image_config("2021-01-01T00:00:00Z"))
        ranked = self.berth("retention-run", "--images", "1", "ret-untagged", input="")
        self.assertEqual({row[0] for row in self.table(ranked.stdout)},
                         {self.full(f"ret-untagged/app@{untagged}"), self.full(f"ret-untagged/app@{old}")})
        retained = self.berth("retention-run", "--images", "1", "--retain-untagged", "ret-untagged", input="")
        self.assertEqual([row[0] for row in self.table(retained.stdout)], [self.full(f"ret-untagged/app@{old}")])

    def test_policy_set_list_and_reset(self):
        v1, v2 = self.make_repository("ret-policy", ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"])
        out = self.berth_ok("retention-policy-set", "--images", "1", "-f", "ret-policy")
        self.assertIn("\nFound 1 image to delete.\n\nDeleting 1 image...\n\nSuccessfully deleted 1 image.\n", out)
        self.assertIn("A scheduled retention policy is set that keeps 1 image in each repository in ret-policy and "
                      "retain-untagged is set to false.\n\nOK\n", out)
        self.assertEqual(self.digests("ret-policy"), {self.full(f"ret-policy/app@{v2}"): ["v2"]})

        out = self.berth_ok("retention-policy-list")
        self.assert_ok_output(out, f"Listing image retention policies for account 'default' in registry "
                                   f"'{self.berthd.address}'...")
        self.assertEqual(self.table(out, header=True),
                         ["Namespace", "Images to retain", "Retain all untagged", "Deletion threshold (days)"])
        rows = {row[0]: row[1:] for row in self.table(out)}
        self.assertEqual(rows["ret-policy"], ["1", "false", "None"])
        policies = json.loads(self.berth_ok("retention-policy-list", "-o", "json"))
        self.assertEqual(policies["ret-policy"]["images_per_repo"], 1)
        self.assertFalse(policies["ret-policy"]["retain_untagged"])

        out = self.berth_ok("retention-policy-set", "--images", "All", "ret-policy")
        self.assertEqual(out, "Setting the retention policy for namespace 'ret-policy'...\n\n"
                              "The retention policy to keep all images in ret-policy is set.\n\nOK\n")
        rows = {row[0]: row[1:] for row in self.table(self.berth_ok("retention-policy-list"))}
        self.assertEqual(rows["ret-policy"], ["All", "false", "None"])

    def test_policy_set_with_threshold_keeps_recent_images(self):
        old, recent = self.make_repository("ret-days", ["2020-01-01T00:00:00Z", now_rfc3339()])
        out = self.berth_ok("retention-policy-set", "--images", "0", "--deletion-threshold-days", "90",
                            "--retain-untagged", "-f", "ret-days")
        self.assertIn("A scheduled retention policy is set that keeps 0 images in each repository in ret-days, "
                      "with a deletion threshold of 90 days, and retain-untagged is set to true.", out)
        self.assertEqual(self.digests("ret-days"), {self.full(f"ret-days/app@{recent}"): ["v2"]})
        rows = {row[0]: row[1:] for row in self.table(self.berth_ok("retention-policy-list"))}
        self.assertEqual(rows["ret-days"], ["0", "true", "90"])

    def test_policy_set_with_nothing_to_delete(self):
        self.make_repository("ret-quiet", ["2020-01-01T00:00:00Z"])
        out = self.berth_ok("retention-policy-set", "--images", "3", "ret-quiet")
        self.assertIn("There are no images to delete now.\n", out)
        self.assertIn("keeps 3 images in each repository in ret-quiet", out)

    def test_policy_set_declined_on_terminal_changes_nothing(self):
        self.make_repository("ret-no", ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"])
        declined = self.berth_on_terminal("n", "retention-policy-set", "--images", "1", "ret-no")
        self.assertEqual(declined.returncode, 0, declined.stderr)
        self.assertIn("Are you sure you want to delete this image and set the policy?", declined.stdout)
        self.assertTrue(declined.stdout.endswith("The retention policy was not set, and no images were deleted.\n\n"
                                                 "OK\n"), declined.stdout)
        self.assertEqual(len(self.digests("ret-no")), 2)
        rows = {row[0]: row[1:] for row in self.table(self.berth_ok("retention-policy-list"))}
        self.assertEqual(rows["ret-no"][0], "All")

    def test_flags_are_checked_before_any_request(self):
        # A region on a loopback port that is bound but not listening, so a
        # request would fail with "Could not reach".
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        self.berth_ok("region-add", "closed", "--domain", f"127.0.0.1:{closed.getsockname()[1]}")
        self.addCleanup(closed.close)
        self.addCleanup(self.berth_ok, "region-rm", "closed")
        env = dict(self.env, BERTH_REGION="closed")
        cases = [
            (("retention-run", "--images", "-1", "ns"), "--images must be the number of images to keep"),
            (("retention-run", "--images", "ten", "ns"), "'ten' is not valid"),
            (("retention-run", "--images", "All", "ns"), "--images All keeps every image"),
            (("retention-policy-set", "--images", "1.5", "ns"), "0 or more, or All"),
            (("retention-run", "--images", "1", "--deletion-threshold-days", "0", "ns"),
             "--deletion-threshold-days must be a whole number of days greater than 0"),
            (("retention-policy-set", "--images", "1", "--deletion-threshold-days", "x", "ns"), "'x' is not valid"),
            (("retention-run", "--images", "1", "-o", "json", "ns"), "--output json needs --force"),
            (("retention-run", "ns"), "--images is required"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                result = self.berth(*args, env=env)
                self.assert_failed(result, message)
                self.assertNotIn("Could not reach", result.stderr)
                self.assertEqual(result.stdout, "")


class LifecycleHelp(LifecycleTestCase):
    def test_help_groups_the_commands(self):
        top = self.berth_ok("--help")
        groups = re.findall(r"^(\S.*) \(docs/cli-lifecycle\.md\):$", top, re.MULTILINE)
        self.assertEqual(groups, ["Deleting images and the trash", "Retention", "Plans and quotas"])
        for command in ("image-rm", "image-restore", "image-prune-untagged", "trash-list", "retention-policy-list",
                        "retention-policy-set", "retention-run", "plan", "plan-upgrade", "quota", "quota-set"):
            self.assertRegex(top, rf"\n  {command} ")

    def test_help_lists_the_flags(self):
        flags = {
            "retention-run": ("--images", "--retain-untagged", "--deletion-threshold-days", "--force", "--output"),
            "retention-policy-set": ("--images", "--retain-untagged", "--deletion-threshold-days", "--force"),
            "image-prune-untagged": ("--force", "--restrict", "--output"),
            "trash-list": ("--restrict", "--output"),
            "quota-set": ("--storage", "--traffic", "1048576 bytes"),
        }
        for command, expected in flags.items():
            help_text = self.berth_ok(command, "--help")
            for flag in expected:
                with self.subTest(command=command, flag=flag):
                    self.assertIn(flag, help_text)


if __name__ == "__main__":
    unittest.main()
