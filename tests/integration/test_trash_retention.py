"""The trash and retention policies, over HTTP against a running berthd.

Images are built over the registry API from configs whose `created` date
each test chooses, so the retention ranking is known in advance. Tests
that need an old trash entry move its trashed_at back in <data>/berth.db.
Background jobs run through `berthd admin job-run`, as an operator would
start them. Tests that run garbage collection or the scheduled retention
job get a berthd of their own, because both act on the whole store.
"""

import json
import time
import unittest
import urllib.parse
from dataclasses import dataclass, field

from harness import BerthdTestCase, image_manifest, push_blob, sha256_digest
from test_cli import CliTestCase

DAY = 86400
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CRT0500E = "CRT0500E The tagged image already exists. You can restore this image by using the digest."


def rfc3339(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def quote(reference):
    return urllib.parse.quote(reference, safe="")


@dataclass
class Pushed:
    """A manifest pushed to one repository."""

    repository: str
    digest: str
    size: int
    blobs: list = field(default_factory=list)  # config and layer digests; empty for an index

    @property
    def by_digest(self):
        return f"{self.repository}@{self.digest}"


def push_dated(server, repository, created, tags=(), layers=None):
    """Push an image whose config has `created` (None leaves the field out)
    under each of `tags`, or by digest alone when `tags` is empty."""
    if layers is None:
        layers = [f"layer of {repository} {created} {' '.join(tags)}".encode()]
    # The diff IDs tie the config to the layers, so images with other layers get other configs.
    config = {"architecture": "amd64", "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer) for layer in layers]}}
    if created is not None:
        config["created"] = created
    config_data = json.dumps(config).encode()

    config_digest = push_blob(server, repository, config_data)
    layer_digests = [push_blob(server, repository, layer) for layer in layers]
    manifest = image_manifest(config_digest, len(config_data),
                              [(digest, len(layer)) for digest, layer in zip(layer_digests, layers)])
    digest = sha256_digest(manifest)
    for reference in list(tags) or [digest]:
        response = server.request("PUT", f"/v2/{repository}/manifests/{reference}", body=manifest,
                                  headers={"Content-Type": MANIFEST_TYPE})
        assert response.status == 201, response
    return Pushed(repository, digest, len(manifest), [config_digest, *layer_digests])


def push_index(server, repository, children, tags=()):
    """Push an OCI index that lists `children` (Pushed manifests of the same repository)."""
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [{"mediaType": MANIFEST_TYPE, "digest": child.digest, "size": child.size,
                       "platform": {"architecture": f"arch{number}", "os": "linux"}}
                      for number, child in enumerate(children)],
    }, separators=(",", ":")).encode()
    digest = sha256_digest(index)
    for reference in list(tags) or [digest]:
        response = server.request("PUT", f"/v2/{repository}/manifests/{reference}", body=index,
                                  headers={"Content-Type": INDEX_TYPE})
        assert response.status == 201, response
    return Pushed(repository, digest, len(index))


class LifecycleApi:
    """Requests to the management API and the registry of the class's berthd.

    The berthd runs no background jobs of its own, so that each job runs
    exactly when a test starts it."""

    berthd_env = {"BERTH_JOBS_ENABLED": "false"}

    def api(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        return self.berthd.request(method, path, body=data, headers=headers)

    def api_json(self, method, path, body=None, status=200):
        response = self.api(method, path, body)
        self.assertEqual(response.status, status, response)
        return response.json()

    def full(self, name):
        """The name with the registry's domain, as the API writes it."""
        return f"{self.berthd.address}/{name}"

    def trash(self, namespace):
        return self.api_json("GET", f"/api/v1/trash?namespace={namespace}")

    def manifest_status(self, repository, reference):
        response = self.berthd.request("GET", f"/v2/{repository}/manifests/{reference}",
                                       headers={"Accept": f"{MANIFEST_TYPE}, {INDEX_TYPE}"})
        return response.status

    def assert_live(self, repository, *references):
        for reference in references:
            self.assertEqual(self.manifest_status(repository, reference), 200, f"{repository} {reference}")

    def assert_gone(self, repository, *references):
        for reference in references:
            self.assertEqual(self.manifest_status(repository, reference), 404, f"{repository} {reference}")

    def tag_target(self, repository, tag):
        response = self.berthd.request("HEAD", f"/v2/{repository}/manifests/{tag}",
                                       headers={"Accept": f"{MANIFEST_TYPE}, {INDEX_TYPE}"})
        self.assertEqual(response.status, 200, f"{repository}:{tag} {response}")
        return response.header("Docker-Content-Digest")

    def delete_image(self, reference):
        return self.api("DELETE", f"/api/v1/images/{quote(reference)}")

    def restore_tags(self, reference):
        return self.api("POST", f"/api/v1/trash/{quote(reference)}/restoretags")

    def restore(self, reference):
        return self.api("POST", f"/api/v1/trash/{quote(reference)}/restore")

    def analyze(self, namespace, policy):
        body = self.api_json("POST", "/api/v1/retentions/analyze", dict(policy, namespace=namespace))
        return {repository: sorted(references) for repository, references in body.items()}

    def set_policy(self, namespace, policy):
        return self.api_json("POST", "/api/v1/retentions", dict(policy, namespace=namespace), status=201)["deleted"]

    def move_trashed_at_back(self, image, seconds):
        """Make the trash entry of `image` (a Pushed) look `seconds` older."""
        changed = self.berthd.update(
            "UPDATE trash SET trashed_at = trashed_at - ? WHERE digest = ? AND repository_id = "
            "(SELECT id FROM repositories WHERE name = ?)", (seconds, image.digest, image.repository))
        self.assertEqual(changed, 1, f"no trash entry for {image.by_digest}")

    def admin(self, *args, env=None):
        """Run `berthd admin ARGS` on the class's store; returns its standard output."""
        result = self.berthd.admin(*args, env=env)
        self.assertEqual(result.returncode, 0, f"berthd admin {' '.join(args)}:\n{result.stdout}{result.stderr}")
        return result.stdout

    def run_job(self, name):
        """Run a background job now; returns the JSON result it prints."""
        output = self.admin("job-run", name)
        self.assertTrue(output.startswith(f"{name} finished in "), output)
        return json.loads(output.split(": ", 1)[1])


class Trash(LifecycleApi, BerthdTestCase):
    """Deleting to the trash and restoring, one repository per test in namespace trashbin."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.berthd.create_namespace("trashbin")

    def test_registry_delete_by_digest_trashes_all_tags(self):
        image = push_dated(self.berthd, "trashbin/reg-digest", "2024-01-01T00:00:00Z", ["a", "b"])

        response = self.berthd.request("DELETE", f"/v2/trashbin/reg-digest/manifests/{image.digest}")

        self.assertEqual(response.status, 202, response)
        self.assert_gone("trashbin/reg-digest", image.digest, "a", "b")
        self.assertEqual(self.trash("trashbin")[self.full(image.by_digest)],
                         {"daysUntilExpiry": 30, "tags": ["a", "b"]})

    def test_registry_delete_by_tag_keeps_manifest(self):
        image = push_dated(self.berthd, "trashbin/reg-tag", "2024-01-01T00:00:00Z", ["a", "b"])

        response = self.berthd.request("DELETE", "/v2/trashbin/reg-tag/manifests/a")

        self.assertEqual(response.status, 202, response)
        self.assert_gone("trashbin/reg-tag", "a")
        self.assert_live("trashbin/reg-tag", "b", image.digest)
        self.assertNotIn(self.full(image.by_digest), self.trash("trashbin"))

    def test_api_tag_delete_trashes_whole_image(self):
        # The same content in two repositories is the same digest in each.
        created = "2024-01-01T00:00:00Z"
        deleted_copy = push_dated(self.berthd, "trashbin/api-deleted", created, ["x", "y"], [b"shared layer"])
        other_copy = push_dated(self.berthd, "trashbin/api-copy", created, ["x", "y"], [b"shared layer"])
        self.assertEqual(deleted_copy.digest, other_copy.digest)

        response = self.delete_image("trashbin/api-deleted:x")

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"Untagged": self.full("trashbin/api-deleted:x")})
        self.assert_gone("trashbin/api-deleted", "x", "y", deleted_copy.digest)
        self.assert_live("trashbin/api-copy", "x", "y", other_copy.digest)
        trash = self.trash("trashbin")
        self.assertEqual(trash[self.full(deleted_copy.by_digest)]["tags"], ["x", "y"])
        self.assertNotIn(self.full(other_copy.by_digest), trash)

    def test_api_delete_without_tag_means_latest(self):
        latest = push_dated(self.berthd, "trashbin/api-latest", "2024-01-01T00:00:00Z", ["latest"])
        other = push_dated(self.berthd, "trashbin/api-latest", "2024-02-01T00:00:00Z", ["v2"])

        response = self.delete_image(self.full("trashbin/api-latest"))

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"Untagged": self.full("trashbin/api-latest:latest")})
        self.assert_gone("trashbin/api-latest", latest.digest)
        self.assert_live("trashbin/api-latest", other.digest)

    def test_api_delete_of_missing_image_is_404(self):
        push_dated(self.berthd, "trashbin/api-missing", "2024-01-01T00:00:00Z", ["v1"])
        missing = "sha256:" + "0" * 64

        for reference in ("trashbin/api-missing:nope", f"trashbin/api-missing@{missing}", "trashbin/no-such-repo:v1"):
            with self.subTest(reference=reference):
                self.assertEqual(self.delete_image(reference).status, 404)

    def test_bulkdelete_reports_success_and_errors(self):
        first = push_dated(self.berthd, "trashbin/bulk", "2024-01-01T00:00:00Z", ["one"])
        second = push_dated(self.berthd, "trashbin/bulk", "2024-02-01T00:00:00Z", ["two", "deux"])
        missing = "trashbin/bulk@sha256:" + "1" * 64
        # References are reported as given, with or without the domain.
        references = [first.by_digest, self.full(second.by_digest), missing]

        body = self.api_json("POST", "/api/v1/images/bulkdelete", references)

        self.assertEqual(body["success"], [first.by_digest, self.full(second.by_digest)])
        self.assertEqual(list(body["error"]), [missing])
        self.assertEqual(body["error"][missing]["code"], "MANIFEST_UNKNOWN")
        self.assertIn("does not exist", body["error"][missing]["message"])
        self.assert_gone("trashbin/bulk", first.digest, second.digest, "one", "two", "deux")
        trash = self.trash("trashbin")
        self.assertEqual(trash[self.full(first.by_digest)]["tags"], ["one"])
        self.assertEqual(trash[self.full(second.by_digest)]["tags"], ["deux", "two"])

    def test_trashed_image_not_pullable_or_listed(self):
        image = push_dated(self.berthd, "trashbin/hidden", "2024-01-01T00:00:00Z", ["v1"])
        listed = self.api_json("GET", "/api/v1/images?repository=trashbin/hidden")
        self.assertEqual([entry["Id"] for entry in listed], [image.digest])

        self.assertEqual(self.delete_image("trashbin/hidden:v1").status, 200)

        for method in ("GET", "HEAD"):
            for reference in ("v1", image.digest):
                with self.subTest(method=method, reference=reference):
                    response = self.berthd.request(method, f"/v2/trashbin/hidden/manifests/{reference}",
                                                   headers={"Accept": MANIFEST_TYPE})
                    self.assertEqual(response.status, 404, response)
        self.assertEqual(self.api_json("GET", "/api/v1/images?repository=trashbin/hidden"), [])
        digests = self.api_json("POST", "/api/v1/images/digests", {"repositories": ["trashbin/hidden"]})
        self.assertEqual(digests, [])

    def test_restore_by_digest_restores_all_tags(self):
        image = push_dated(self.berthd, "trashbin/whole", "2024-01-01T00:00:00Z", ["a", "b"])
        self.assertEqual(self.delete_image(image.by_digest).status, 200)

        response = self.restore_tags(self.full(image.by_digest))

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"successful": ["a", "b"], "unsuccessful": []})
        self.assertEqual(self.tag_target("trashbin/whole", "a"), image.digest)
        self.assertEqual(self.tag_target("trashbin/whole", "b"), image.digest)
        for blob in image.blobs:
            blob_response = self.berthd.request("GET", f"/v2/trashbin/whole/blobs/{blob}")
            self.assertEqual(blob_response.status, 200, blob_response)
        self.assertNotIn(self.full(image.by_digest), self.trash("trashbin"))

    def test_restore_by_digest_skips_live_tag(self):
        old = push_dated(self.berthd, "trashbin/skip", "2024-01-01T00:00:00Z", ["a", "b"])
        self.assertEqual(self.delete_image("trashbin/skip:a").status, 200)
        new = push_dated(self.berthd, "trashbin/skip", "2024-02-01T00:00:00Z", ["b"])

        response = self.restore_tags(self.full(old.by_digest))

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"successful": ["a"], "unsuccessful": ["b"]})
        self.assertEqual(self.tag_target("trashbin/skip", "a"), old.digest)
        self.assertEqual(self.tag_target("trashbin/skip", "b"), new.digest)
        self.assert_live("trashbin/skip", old.digest)
        self.assertEqual(self.trash("trashbin")[self.full(old.by_digest)], {"daysUntilExpiry": 30, "tags": ["b"]})

    def test_restore_by_tag_leaves_other_tags(self):
        image = push_dated(self.berthd, "trashbin/one-tag", "2024-01-01T00:00:00Z", ["a", "b"])
        self.assertEqual(self.delete_image("trashbin/one-tag:b").status, 200)

        response = self.restore(self.full("trashbin/one-tag:a"))

        self.assertEqual(response.status, 200, response)
        self.assertEqual(self.tag_target("trashbin/one-tag", "a"), image.digest)
        self.assert_gone("trashbin/one-tag", "b")
        self.assertEqual(self.trash("trashbin")[self.full(image.by_digest)]["tags"], ["b"])

        self.assertEqual(self.restore("trashbin/one-tag:b").status, 200)
        self.assertEqual(self.tag_target("trashbin/one-tag", "b"), image.digest)
        self.assertNotIn(self.full(image.by_digest), self.trash("trashbin"))

    def test_restore_by_tag_conflicts_with_live_tag(self):
        old = push_dated(self.berthd, "trashbin/taken", "2024-01-01T00:00:00Z", ["t"])
        self.assertEqual(self.delete_image("trashbin/taken:t").status, 200)
        new = push_dated(self.berthd, "trashbin/taken", "2024-02-01T00:00:00Z", ["t"])

        response = self.restore("trashbin/taken:t")

        self.assertEqual(response.status, 409, response)
        self.assertEqual(response.json()["errors"][0]["message"], CRT0500E)
        self.assertEqual(self.tag_target("trashbin/taken", "t"), new.digest)
        self.assert_gone("trashbin/taken", old.digest)
        self.assertEqual(self.trash("trashbin")[self.full(old.by_digest)]["tags"], ["t"])

    def test_restore_not_in_trash_is_404(self):
        live = push_dated(self.berthd, "trashbin/absent", "2024-01-01T00:00:00Z", ["live"])
        trashed = push_dated(self.berthd, "trashbin/absent", "2024-02-01T00:00:00Z", ["gone"])
        self.assertEqual(self.delete_image("trashbin/absent:gone").status, 200)
        self.assertEqual(self.restore_tags(trashed.by_digest).status, 200)

        cases = {
            "restoretags of a digest restored already": self.restore_tags(trashed.by_digest),
            "restoretags of a live digest": self.restore_tags(live.by_digest),
            "restoretags of an unknown digest": self.restore_tags("trashbin/absent@sha256:" + "2" * 64),
            "restore of a tag restored already": self.restore("trashbin/absent:gone"),
            "restore of a live tag never trashed": self.restore("trashbin/absent:live"),
            "restore in an unknown repository": self.restore("trashbin/never:v1"),
        }
        for case, response in cases.items():
            with self.subTest(case):
                self.assertEqual(response.status, 404, response)

    def test_index_trash_takes_untagged_children(self):
        repository = "trashbin/multi"
        first = push_dated(self.berthd, repository, "2024-01-01T00:00:00Z")
        second = push_dated(self.berthd, repository, "2024-01-02T00:00:00Z")
        tagged = push_dated(self.berthd, repository, "2024-01-03T00:00:00Z", ["solo"])
        shared = push_dated(self.berthd, repository, "2024-01-04T00:00:00Z")
        index = push_index(self.berthd, repository, [first, second, tagged, shared], ["v1"])
        # Another live index keeps `shared`.
        other = push_index(self.berthd, repository, [shared], ["other"])

        self.assertEqual(self.delete_image(f"{repository}:v1").status, 200)

        self.assert_gone(repository, "v1", index.digest, first.digest, second.digest)
        self.assert_live(repository, "solo", tagged.digest, shared.digest, "other")
        trash = {name: entry for name, entry in self.trash("trashbin").items()
                 if name.startswith(self.full(repository + "@"))}
        # The children are part of the index's entry and not listed apart.
        self.assertEqual(trash, {self.full(index.by_digest): {"daysUntilExpiry": 30, "tags": ["v1"]}})

        response = self.restore_tags(index.by_digest)

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"successful": ["v1"], "unsuccessful": []})
        self.assertEqual(self.tag_target(repository, "v1"), index.digest)
        self.assert_live(repository, first.digest, second.digest, tagged.digest, shared.digest, other.digest)
        self.assertNotIn(self.full(index.by_digest), self.trash("trashbin"))

    def test_index_child_delete_conflicts(self):
        repository = "trashbin/parent"
        child = push_dated(self.berthd, repository, "2024-01-01T00:00:00Z", ["child"])
        index = push_index(self.berthd, repository, [child], ["v1"])

        api = self.delete_image(child.by_digest)
        self.assertEqual(api.status, 409, api)
        self.assertIn(index.digest, api.json()["errors"][0]["message"])
        by_tag = self.delete_image(f"{repository}:child")
        self.assertEqual(by_tag.status, 409, by_tag)
        registry = self.berthd.request("DELETE", f"/v2/{repository}/manifests/{child.digest}")
        self.assertEqual(registry.status, 409, registry)
        self.assertIn(index.digest, registry.json()["errors"][0]["message"])
        bulk = self.api_json("POST", "/api/v1/images/bulkdelete", [child.by_digest])
        self.assertEqual(bulk["success"], [])
        self.assertEqual(bulk["error"][child.by_digest]["code"], "CONFLICT")

        self.assert_live(repository, "child", child.digest, "v1")
        self.assertNotIn(self.full(child.by_digest), self.trash("trashbin"))

    def test_days_until_expiry_rounds_up(self):
        image = push_dated(self.berthd, "trashbin/days", "2024-01-01T00:00:00Z", ["v1"])
        self.assertEqual(self.delete_image("trashbin/days:v1").status, 200)
        name = self.full(image.by_digest)
        self.assertEqual(self.trash("trashbin")[name]["daysUntilExpiry"], 30)

        # 29.5 days ago: half a day is left, which counts as one day.
        self.move_trashed_at_back(image, 29 * DAY + DAY // 2)
        self.assertEqual(self.trash("trashbin")[name]["daysUntilExpiry"], 1)

        # 29.5 + 0.25 days ago: six hours are left.
        self.move_trashed_at_back(image, DAY // 4)
        self.assertEqual(self.trash("trashbin")[name]["daysUntilExpiry"], 1)

    def test_trash_namespace_filter(self):
        self.berthd.create_namespace("trashbin2")
        trashed = push_dated(self.berthd, "trashbin2/filter", "2024-01-01T00:00:00Z", ["v1"])
        self.assertEqual(self.delete_image("trashbin2/filter:v1").status, 200)

        self.assertEqual(list(self.trash("trashbin2")), [self.full(trashed.by_digest)])
        self.assertEqual(list(self.trash(quote(self.full("trashbin2")))), [self.full(trashed.by_digest)])
        self.assertNotIn(self.full(trashed.by_digest), self.trash("trashbin"))
        self.assertIn(self.full(trashed.by_digest), self.api_json("GET", "/api/v1/trash"))


class TrashExpiry(LifecycleApi, BerthdTestCase):
    """Expiry and garbage collection, on a berthd of their own."""

    def blob_exists(self, digest):
        return self.berthd.blob_stored(digest)

    def test_expiry_then_gc_frees_blobs(self):
        self.berthd.create_namespace("expiry")
        expired = push_dated(self.berthd, "expiry/expired", "2024-01-01T00:00:00Z", ["v1"],
                             [b"only expired", b"shared"])
        live = push_dated(self.berthd, "expiry/live", "2024-01-01T00:00:00Z", ["v1"], [b"shared"])
        young = push_dated(self.berthd, "expiry/young", "2024-01-01T00:00:00Z", ["v1"], [b"young layer"])
        config, only_expired, shared = expired.blobs
        for blob in (*expired.blobs, *live.blobs, *young.blobs):
            self.assertTrue(self.blob_exists(blob), f"blob {blob} is not stored")
        self.assertEqual(self.delete_image("expiry/expired:v1").status, 200)
        self.assertEqual(self.delete_image("expiry/young:v1").status, 200)
        # The blobs must be older than the collection time, which has whole seconds.
        time.sleep(1.1)
        no_grace = {"BERTH_GC_GRACE_SECONDS": "0"}

        # Trashed images keep their blobs.
        self.admin("gc", env=no_grace)
        for blob in (*expired.blobs, *young.blobs):
            self.assertTrue(self.blob_exists(blob), f"gc removed {blob} of a trashed image")
        self.assertEqual(self.run_job("trash-expiry")["entries_removed"], 0)

        self.move_trashed_at_back(expired, 31 * DAY)
        self.move_trashed_at_back(young, 29 * DAY)
        self.assertEqual(self.run_job("trash-expiry")["entries_removed"], 1)

        trash = self.trash("expiry")
        self.assertNotIn(self.full(expired.by_digest), trash)
        self.assertEqual(trash[self.full(young.by_digest)]["daysUntilExpiry"], 1)
        self.assertEqual(self.restore_tags(expired.by_digest).status, 404)
        self.assertEqual(self.restore("expiry/expired:v1").status, 404)

        self.admin("gc", env=no_grace)
        self.assertFalse(self.blob_exists(config), "the config of the expired image is still stored")
        self.assertFalse(self.blob_exists(only_expired), "the layer of the expired image is still stored")
        self.assertTrue(self.blob_exists(shared), "gc removed a layer that a live image uses")
        for blob in (*live.blobs, *young.blobs):
            self.assertTrue(self.blob_exists(blob), f"gc removed {blob}, which a live or trashed image uses")
        for blob in live.blobs:
            response = self.berthd.request("GET", f"/v2/expiry/live/blobs/{blob}")
            self.assertEqual(response.status, 200, response)


def retention_fixture(server, namespace, now):
    """Push the retention test images into NAMESPACE/app and NAMESPACE/web; returns {name: Pushed}."""
    app, web = f"{namespace}/app", f"{namespace}/web"
    images = {
        # Never eligible: no date, constant build dates and dates before 2013-01-19T00:13:39Z.
        "nodate": push_dated(server, app, None, ["nodate"]),
        "epoch": push_dated(server, app, "1970-01-01T00:00:00Z", ["epoch"]),
        "cnb": push_dated(server, app, "1980-01-01T00:00:01Z", ["cnb"]),
        "pre2013": push_dated(server, app, "2013-01-19T00:13:38Z", ["pre2013"]),

        # Eligible, oldest first.
        "cutoff": push_dated(server, app, "2013-01-19T00:13:39Z", ["cutoff"]),
        "u1": push_dated(server, app, "2019-06-01T00:00:00Z"),
        "t1": push_dated(server, app, "2020-01-01T00:00:00Z", ["one"]),
        "t2": push_dated(server, app, "2021-01-01T00:00:00Z", ["two", "deux"]),
        "t3": push_dated(server, app, "2022-01-01T00:00:00Z", ["three"]),
        "u2": push_dated(server, app, "2023-01-01T00:00:00Z"),
        "recent": push_dated(server, app, rfc3339(now - 2 * DAY), ["recent"]),
        # Two tags but one image, which the expected lists below rely on.
        "fresh": push_dated(server, app, rfc3339(now - 3600), ["fresh", "latest"]),

        "w1": push_dated(server, web, "2020-05-01T00:00:00Z", ["a"]),
        "w2": push_dated(server, web, "2021-05-01T00:00:00Z", ["b"]),
    }
    # Indexes and their children, tagged or not, which would be eligible
    # by date, are never counted or deleted. The inner index is untagged.
    images["child1"] = push_dated(server, app, "2018-01-01T00:00:00Z")
    images["child2"] = push_dated(server, app, "2018-01-02T00:00:00Z")
    images["tagged_child"] = push_dated(server, app, "2018-01-03T00:00:00Z", ["arm"])
    images["index"] = push_index(server, app, [images["child1"], images["child2"], images["tagged_child"]],
                                 ["multi"])
    images["deep_child"] = push_dated(server, app, "2018-02-01T00:00:00Z", ["deep"])
    images["inner_index"] = push_index(server, app, [images["deep_child"]])
    images["outer_index"] = push_index(server, app, [images["inner_index"]], ["bundle"])
    return images


INELIGIBLE = ["nodate", "epoch", "cnb", "pre2013", "index", "child1", "child2", "tagged_child", "deep_child",
              "inner_index", "outer_index"]

# (policy without namespace, images deleted from app, images deleted from web)
RETENTION_CASES = [
    ({"images_per_repo": 0}, ["cutoff", "u1", "t1", "t2", "t3", "u2", "recent", "fresh"], ["w1", "w2"]),
    ({"images_per_repo": 1}, ["cutoff", "u1", "t1", "t2", "t3", "u2", "recent"], ["w1"]),
    ({"images_per_repo": 2}, ["cutoff", "u1", "t1", "t2", "t3", "u2"], []),
    ({"images_per_repo": 3}, ["cutoff", "u1", "t1", "t2", "t3"], []),
    ({"images_per_repo": 20}, [], []),
    ({"images_per_repo": 0, "retain_untagged": True}, ["cutoff", "t1", "t2", "t3", "recent", "fresh"], ["w1", "w2"]),
    ({"images_per_repo": 1, "retain_untagged": True}, ["cutoff", "t1", "t2", "t3", "recent"], ["w1"]),
    ({"images_per_repo": 2, "retain_untagged": True}, ["cutoff", "t1", "t2", "t3"], []),
    ({"images_per_repo": 0, "deletion_threshold_days": 7}, ["cutoff", "u1", "t1", "t2", "t3", "u2"], ["w1", "w2"]),
    ({"images_per_repo": 1, "deletion_threshold_days": 7}, ["cutoff", "u1", "t1", "t2", "t3", "u2"], ["w1"]),
    ({"images_per_repo": 0, "deletion_threshold_days": 1}, ["cutoff", "u1", "t1", "t2", "t3", "u2", "recent"],
     ["w1", "w2"]),
    ({"images_per_repo": 0, "retain_untagged": True, "deletion_threshold_days": 7}, ["cutoff", "t1", "t2", "t3"],
     ["w1", "w2"]),
    ({"images_per_repo": -1}, [], []),
]


class RetentionTestCase(LifecycleApi, BerthdTestCase):
    def deleted_names(self, images, namespace, analyzed):
        """An analyze response with fixture names for its keys and references,
        such as {"app": ["t1", "u1"]}, so that failures name the images.
        Names that do not have the expected form stay as they are."""
        by_reference = {self.full(image.by_digest): name for name, image in images.items()}
        named = {}
        for repository, references in analyzed.items():
            short = repository.removeprefix(self.full(namespace + "/"))
            named[short] = sorted(by_reference.get(reference, reference) for reference in references)
        return named

    @staticmethod
    def expected_names(app_names, web_names):
        expected = {"app": sorted(app_names), "web": sorted(web_names)}
        return {repository: names for repository, names in expected.items() if names}


class Retention(RetentionTestCase):
    """Retention policies on three namespaces that hold the same fixture.
    Namespace plan is only analyzed, and apply and nopolicy get policies set."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = int(time.time())
        cls.images = {}
        for namespace in ("plan", "apply", "nopolicy"):
            cls.berthd.create_namespace(namespace)
            cls.images[namespace] = retention_fixture(cls.berthd, namespace, cls.now)

    def test_analyze_lists_exact_deletions(self):
        for policy, app_names, web_names in RETENTION_CASES:
            with self.subTest(policy=policy):
                analyzed = self.analyze("plan", policy)
                self.assertEqual(self.deleted_names(self.images["plan"], "plan", analyzed),
                                 self.expected_names(app_names, web_names))
        # Analysis changes nothing.
        self.assertEqual(self.trash("plan"), {})
        self.assertEqual(self.api_json("GET", "/api/v1/retentions/plan")["images_per_repo"], -1)

    def test_set_trashes_what_analyze_listed(self):
        images = self.images["apply"]
        policy = {"images_per_repo": 1, "retain_untagged": True, "deletion_threshold_days": 7}
        analyzed = self.analyze("apply", policy)
        self.assertEqual(self.deleted_names(images, "apply", analyzed),
                         self.expected_names(["cutoff", "t1", "t2", "t3"], ["w1"]))

        deleted = self.set_policy("apply", policy)

        self.assertEqual(sorted(deleted), sorted(sum(analyzed.values(), [])))
        trash = self.trash("apply")
        self.assertEqual(sorted(trash), sorted(deleted))
        self.assertEqual(trash[self.full(images["t2"].by_digest)], {"daysUntilExpiry": 30, "tags": ["deux", "two"]})
        self.assertEqual(trash[self.full(images["w1"].by_digest)], {"daysUntilExpiry": 30, "tags": ["a"]})
        for name in ("cutoff", "t1", "t2", "t3", "w1"):
            self.assert_gone(images[name].repository, images[name].digest)
        for name in ("u1", "u2", "recent", "fresh", "w2", *INELIGIBLE):
            self.assert_live(images[name].repository, images[name].digest)
        # The other namespaces keep their images.
        self.assert_live("plan/app", self.images["plan"]["t1"].digest)

        stored = self.api_json("GET", "/api/v1/retentions/apply")
        account = self.api_json("GET", "/api/v1/account")["account"]["id"]
        self.assertEqual(stored, {"namespace": "apply", "account": account, "images_per_repo": 1,
                                  "retain_untagged": True, "deletion_threshold_days": 7})
        self.assertEqual(self.api_json("GET", "/api/v1/retentions")["apply"], stored)
        # Nothing is left to delete under the same policy.
        self.assertEqual(self.analyze("apply", policy), {})
        self.assertEqual(self.set_policy("apply", policy), [])

    def test_minus_one_removes_policy(self):
        images = self.images["nopolicy"]
        deleted = self.set_policy("nopolicy", {"images_per_repo": 2})
        self.assertEqual(sorted(deleted), sorted(self.full(images[name].by_digest)
                                                 for name in ("cutoff", "u1", "t1", "t2", "t3", "u2")))
        self.assertEqual(self.api_json("GET", "/api/v1/retentions/nopolicy")["images_per_repo"], 2)

        self.assertEqual(self.set_policy("nopolicy", {"images_per_repo": -1}), [])

        policy = self.api_json("GET", "/api/v1/retentions/nopolicy")
        self.assertEqual(policy["images_per_repo"], -1)
        self.assertFalse(policy["retain_untagged"])
        self.assertEqual(self.api_json("GET", "/api/v1/retentions")["nopolicy"]["images_per_repo"], -1)
        rows = self.berthd.query("SELECT count(*) FROM retention_policies WHERE namespace_name = 'nopolicy'")
        self.assertEqual(rows[0][0], 0)

    def test_policies_listed_for_every_namespace(self):
        policies = self.api_json("GET", "/api/v1/retentions")
        self.assertTrue({"plan", "apply", "nopolicy"} <= set(policies), policies)
        account = self.api_json("GET", "/api/v1/account")["account"]["id"]
        self.assertEqual(policies["plan"]["namespace"], "plan")
        self.assertEqual(policies["plan"]["account"], account)
        self.assertEqual(policies["plan"]["images_per_repo"], -1)
        self.assertFalse(policies["plan"]["retain_untagged"])
        self.assertEqual(self.api_json("GET", "/api/v1/retentions/plan"), policies["plan"])

    def test_invalid_policies_are_rejected(self):
        cases = [
            ({"namespace": "plan", "images_per_repo": -2}, 400),
            ({"namespace": "plan"}, 400),
            ({"images_per_repo": 1}, 400),
            ({"namespace": "plan", "images_per_repo": "1"}, 400),
            ({"namespace": "plan", "images_per_repo": 1, "deletion_threshold_days": -1}, 400),
            ({"namespace": "plan", "images_per_repo": 1, "retain_untagged": "yes"}, 400),
        ]
        for body, status in cases:
            for path in ("/api/v1/retentions/analyze", "/api/v1/retentions"):
                with self.subTest(path=path, body=body):
                    self.assertEqual(self.api(method="POST", path=path, body=body).status, status)
        self.assertEqual(self.trash("plan"), {})
        self.assertEqual(self.api_json("GET", "/api/v1/retentions/plan")["images_per_repo"], -1)


class ScheduledRetention(RetentionTestCase):
    """The retention job, on a berthd of its own, because it applies every stored policy."""

    def test_job_applies_stored_policies(self):
        now = int(time.time())
        self.berthd.create_namespace("daily")
        self.berthd.create_namespace("manual")
        images = retention_fixture(self.berthd, "daily", now)
        manual = retention_fixture(self.berthd, "manual", now)
        self.set_policy("daily", {"images_per_repo": 2})
        self.assertEqual(len(self.trash("daily")), 6)

        # Newer images push recent and fresh out of the two kept in app.
        newer = push_dated(self.berthd, "daily/app", rfc3339(now - 60), ["newer"])
        newest = push_dated(self.berthd, "daily/app", rfc3339(now - 30), ["newest"])
        untagged = images["untagged_web"] = push_dated(self.berthd, "daily/web", "2019-01-01T00:00:00Z")
        self.assertEqual(self.deleted_names(images, "daily", self.analyze("daily", {"images_per_repo": 2})),
                         self.expected_names(["recent", "fresh"], ["untagged_web"]))

        self.assertEqual(self.run_job("retention"), {"images_trashed": 3})

        trash = self.trash("daily")
        self.assertEqual(len(trash), 9)
        for image in (images["recent"], images["fresh"], untagged):
            self.assertIn(self.full(image.by_digest), trash)
        self.assertEqual(trash[self.full(images["fresh"].by_digest)]["tags"], ["fresh", "latest"])
        self.assert_gone("daily/app", "recent", "fresh", images["recent"].digest, images["fresh"].digest)
        listed = self.api_json("POST", "/api/v1/images/digests", {"repositories": ["daily/app", "daily/web"]})
        live = {image["id"] for image in listed}
        self.assertEqual(live, {newer.digest, newest.digest, images["w1"].digest, images["w2"].digest,
                                *(images[name].digest for name in ("nodate", "epoch", "cnb", "pre2013", "index",
                                                                   "tagged_child", "deep_child", "outer_index"))})
        # A namespace without a policy keeps everything.
        self.assertEqual(self.trash("manual"), {})
        self.assert_live("manual/app", manual["cutoff"].digest)

    def test_job_trash_reaches_running_server(self):
        # berthd keeps what it read for cache.max_age_seconds (5 by default),
        # so a trash by another process shows within that time.
        now = int(time.time())
        self.berthd.create_namespace("cached")
        older = push_dated(self.berthd, "cached/app", rfc3339(now - 2 * DAY), ["older"])
        self.assertEqual(self.set_policy("cached", {"images_per_repo": 1}), [])
        self.assert_live("cached/app", "older", older.digest)
        push_dated(self.berthd, "cached/app", rfc3339(now - DAY), ["newer"])

        self.run_job("retention")

        self.assertIn(self.full(older.by_digest), self.trash("cached"))
        deadline = time.monotonic() + 10
        while (self.berthd.request("GET", "/v2/cached/app/manifests/older").status != 404
               and time.monotonic() < deadline):
            time.sleep(0.5)
        self.assert_gone("cached/app", "older", older.digest)


class InProcessRetention(RetentionTestCase):
    """berthd's own scheduler applies stored policies, here every second
    instead of daily. The scheduler looks for due jobs every 5 seconds."""

    berthd_env = {"BERTH_RETENTION_INTERVAL_SECONDS": "1"}

    def test_scheduler_applies_stored_policy(self):
        now = int(time.time())
        self.berthd.create_namespace("ticker")
        older = push_dated(self.berthd, "ticker/app", rfc3339(now - 2 * DAY), ["older"])
        self.assertEqual(self.set_policy("ticker", {"images_per_repo": 1}), [])
        self.assert_live("ticker/app", "older", older.digest)

        newer = push_dated(self.berthd, "ticker/app", rfc3339(now - DAY), ["newer"])

        deadline = time.monotonic() + 30
        while self.full(older.by_digest) not in self.trash("ticker") and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertEqual(self.trash("ticker"), {self.full(older.by_digest): {"daysUntilExpiry": 30, "tags": ["older"]}})
        self.assert_gone("ticker/app", "older", older.digest)
        self.assert_live("ticker/app", "newer", newer.digest)


class CliTrashAndRetention(LifecycleApi, CliTestCase):
    """A few checks through the real berth binary that test_cli_lifecycle.py
    does not make: indexes in the trash and retention on the full fixture."""

    def test_index_rm_and_restore(self):
        self.berth_ok("namespace-add", "cli-bin")
        amd64 = push_dated(self.berthd, "cli-bin/multi", "2024-01-01T00:00:00Z")
        arm64 = push_dated(self.berthd, "cli-bin/multi", "2024-01-02T00:00:00Z")
        index = push_index(self.berthd, "cli-bin/multi", [amd64, arm64], ["v1", "stable"])

        self.berth_ok("image-rm", "cli-bin/multi:v1")

        self.assert_gone("cli-bin/multi", index.digest, amd64.digest, arm64.digest, "stable")
        listed = json.loads(self.berth_ok("trash-list", "--restrict", "cli-bin", "-o", "json"))
        self.assertEqual(listed, {self.full(index.by_digest): {"daysUntilExpiry": 30, "tags": ["stable", "v1"]}})

        out = self.berth_ok("image-restore", index.by_digest)

        self.assertIn("Restored tags: stable, v1\n", out)
        self.assertEqual(self.tag_target("cli-bin/multi", "stable"), index.digest)
        self.assert_live("cli-bin/multi", amd64.digest, arm64.digest)
        self.assertEqual(json.loads(self.berth_ok("trash-list", "--restrict", "cli-bin", "-o", "json")), {})

    def test_retention_commands_match_analyze(self):
        now = int(time.time())
        self.berth_ok("namespace-add", "cli-run")
        self.berth_ok("namespace-add", "cli-set")
        run_images = retention_fixture(self.berthd, "cli-run", now)
        set_images = retention_fixture(self.berthd, "cli-set", now)

        policy = {"images_per_repo": 1, "retain_untagged": True}
        expected = self.analyze("cli-run", policy)
        out = self.berth_ok("retention-run", "--images", "1", "--retain-untagged", "-f", "-o", "json", "cli-run")
        self.assertEqual(sorted(item["Digest"] for item in json.loads(out)), sorted(sum(expected.values(), [])))
        self.assertEqual({item["Status"] for item in json.loads(out)}, {"OK"})
        self.assertEqual(sorted(self.trash("cli-run")), sorted(sum(expected.values(), [])))
        self.assert_live("cli-run/app", *(run_images[name].digest for name in INELIGIBLE))

        expected = self.analyze("cli-set", policy)
        self.berth_ok("retention-policy-set", "--images", "1", "--retain-untagged", "-f", "cli-set")
        self.assertEqual(sorted(self.trash("cli-set")), sorted(sum(expected.values(), [])))
        self.assert_live("cli-set/app", *(set_images[name].digest for name in INELIGIBLE))
        stored = self.api_json("GET", "/api/v1/retentions/cli-set")
        self.assertEqual((stored["images_per_repo"], stored["retain_untagged"]), (1, True))


if __name__ == "__main__":
    unittest.main()
