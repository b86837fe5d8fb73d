"""The management API's image, settings, messages and info endpoints,
checked over HTTP against a running berthd.

skopeo pushes the busybox image and the two-platform index of the fixture
layouts into berthd. The tests list, inspect, tag and untag them through
/api/v1, compare the responses with the layouts' own manifests and configs,
and check the roles and account boundaries: a second account must not see
or change the first account's images."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse
from pathlib import Path

from harness import FIXTURES, Berthd, remove_manifest_row

DENIED_MESSAGE = "You are not authorized to access the specified resource."
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"



# /api/v1/info of a registry with no advisories imported yet.
NO_ADVISORIES = {"version": "v4", "advisories": {"imported_at": "", "count": 0, "ecosystems": []}}

# Statuses a busybox-based image may have while these tests run: the
# indexing worker may or may not have reached it.
BUSYBOX_STATUSES = {"UNSCANNED", "UNSUPPORTED"}


def vulnerability_counts(repo_tags):
    """repoTags of /api/v1/images/digests without each tag's "status", which
    depends on how far the indexing worker got; the status must be one of
    BUSYBOX_STATUSES."""
    counts = {}
    for repository, tags in repo_tags.items():
        counts[repository] = {}
        for tag, figures in tags.items():
            figures = dict(figures)
            status = figures.pop("status", None)
            if status not in BUSYBOX_STATUSES:
                raise AssertionError(f"{repository}:{tag} has the status {status!r}")
            counts[repository][tag] = figures
    return counts

class Layout:
    """A fixture OCI image layout, read directly from its files."""

    def __init__(self, name):
        self.path = FIXTURES / name
        if not (self.path / "index.json").exists():
            raise RuntimeError(f"fixture layout {self.path} is missing. Build it with tests/fixtures/build-images.")

    def blob(self, digest):
        algorithm, encoded = digest.split(":", 1)
        return (self.path / "blobs" / algorithm / encoded).read_bytes()

    def json(self, digest):
        return json.loads(self.blob(digest))

    def digest(self, tag):
        index = json.loads((self.path / "index.json").read_text())
        for descriptor in index["manifests"]:
            if descriptor.get("annotations", {}).get(REF_NAME) == tag:
                return descriptor["digest"]
        raise AssertionError(f"{self.path} has no tag {tag}")

    def image_size(self, digest):
        """Config and layer sizes of an image manifest, or the sum over an index's children."""
        manifest = self.json(digest)
        if "manifests" in manifest:
            return sum(self.image_size(child["digest"]) for child in manifest["manifests"])
        return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def quote(reference):
    return urllib.parse.quote(reference, safe="")


class ManagementImagesTest(unittest.TestCase):
    """One berthd with two accounts. The default account owns team1 and
    team2 with the pushed images; the account "otheracct" owns a public
    namespace with one image."""

    berthd_env = {}

    @classmethod
    def setUpClass(cls):
        if shutil.which("skopeo") is None:
            raise RuntimeError("skopeo not found on PATH. Install the test clients with scripts/bootstrap.")
        cls.workdir = Path(tempfile.mkdtemp(prefix="berth-test-"))
        try:
            cls.berthd = Berthd(cls.workdir / "data", env=cls.berthd_env).start()
            cls.set_up_data()
        except BaseException:
            if getattr(cls, "berthd", None) is not None:
                cls.berthd.stop()
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.berthd.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def set_up_data(cls):
        cls.domain = cls.berthd.address
        cls.key = cls.berthd.api_key
        cls.busybox = Layout("busybox")
        cls.multi = Layout("multi")
        for namespace in ("team1", "team2"):
            cls.berthd.create_namespace(namespace)
        cls.push(cls.busybox, "latest", "team1/app:v1")
        cls.push(cls.multi, "latest", "team1/multi:latest", copy_all=True)

        cls.admin("account-create", "otheracct")
        cls.admin("user-create", "boss", "--account", "otheracct")
        cls.admin("policy-add", "--account", "otheracct", "--user", "boss", "--role", "Manager")
        cls.other_key = cls.admin("apikey-create", "--account", "otheracct", "--user", "boss",
                                  "--name", "tests").strip().splitlines()[-1]
        cls.admin("namespace-add", "otherpub", "--account", "otheracct", "--public")
        cls.admin("namespace-add", "otherpriv", "--account", "otheracct")
        cls.push(cls.busybox, "latest", "otherpub/tool:1.0", key=cls.other_key)
        cls.push(cls.busybox, "latest", "otherpriv/secret:1.0", key=cls.other_key)

        # Writer alone may push, pull and delete, but not list or inspect.
        cls.admin("serviceid-create", "writer", "--account", "default")
        cls.admin("policy-add", "--account", "default", "--serviceid", "writer", "--role", "Writer")
        cls.writer_key = cls.admin("apikey-create", "--account", "default", "--serviceid", "writer",
                                   "--name", "writer").strip().splitlines()[-1]

    @classmethod
    def admin(cls, *args):
        result = cls.berthd.admin(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    @classmethod
    def push(cls, layout, tag, target, key=None, copy_all=False):
        options = ["--all"] if copy_all else []
        subprocess.run(["skopeo", "copy", "--quiet", *options, "--dest-tls-verify=false",
                        "--dest-creds", f"iamapikey:{key or cls.key}",
                        f"oci:{layout.path}:{tag}", f"docker://{cls.domain}/{target}"],
                       check=True, capture_output=True, timeout=600,
                       env=dict(os.environ, TMPDIR=str(cls.workdir)))

    def api(self, method, path, key=None, body=None, auth=True):
        headers = {}
        if auth:
            headers["Authorization"] = self.berthd.basic_auth(key or self.key)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self.berthd.request(method, path, body=data, headers=headers, auth=False)

    def full(self, name):
        return f"{self.domain}/{name}"

    def assert_error(self, response, status, code):
        self.assertEqual(response.status, status, response)
        self.assertEqual(response.error_codes()[0], code, response)

    # --- Registry and account ------------------------------------------------

    def test_info_without_credentials(self):
        response = self.api("GET", "/api/v1/info", auth=False)

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"region": "local", "domain": self.domain,
                                           "api_endpoint": f"http://{self.domain}/api", "version": "0.1.0",
                                           "va": NO_ADVISORIES})

    def test_account_of_caller(self):
        body = self.api("GET", "/api/v1/account").json()

        self.assertEqual(body["account"]["name"], "default")
        self.assertEqual(body["account"]["plan"], "lite")
        self.assertEqual(len(body["account"]["id"]), 32)
        self.assertEqual(body["identity"]["name"], "admin")
        self.assertEqual(body["identity"]["kind"], "user")
        self.assertTrue(body["identity"]["id"].startswith("User-"))
        self.assertEqual(self.api("GET", "/api/v1/account", auth=False).status, 401)

    def test_messages_without_config(self):
        response = self.api("GET", "/api/v1/messages", auth=False)

        self.assertEqual(response.status, 204, response)
        self.assertEqual(response.body, b"")

    # --- Listing by tag ------------------------------------------------------

    def test_list_images(self):
        response = self.api("GET", "/api/v1/images?repository=team1/app")

        self.assertEqual(response.status, 200, response)
        images = response.json()
        self.assertEqual([image["RepoTags"] for image in images], [[self.full("team1/app:v1")]])
        image = images[0]
        digest = self.busybox.digest("latest")
        config = self.busybox.json(self.busybox.json(digest)["config"]["digest"])
        self.assertEqual(image["Id"], digest)
        self.assertEqual(image["ParentId"], "")
        self.assertEqual(image["RepoDigests"], [self.full("team1/app@" + digest)])
        self.assertEqual(image["DigestTags"], {digest: ["v1"]})
        self.assertEqual(image["Size"], self.busybox.image_size(digest))
        self.assertEqual(image["VirtualSize"], image["Size"])
        self.assertEqual(image["Labels"], config.get("config", {}).get("Labels") or {})
        self.assertEqual(image["ManifestType"], "OCI Image Manifest v1")
        self.assertEqual(image["Vulnerable"], "")
        for field in ("VulnerabilityCount", "ConfigurationIssueCount", "IssueCount", "ExemptIssueCount"):
            self.assertEqual(image[field], 0, field)
        expected_created = subprocess.run(["date", "-u", "-d", config["created"], "+%s"], capture_output=True,
                                          text=True, check=True).stdout.strip()
        self.assertEqual(image["Created"], int(expected_created))

    def test_list_images_with_indexes(self):
        images = self.api("GET", "/api/v1/images?includeManifestLists=true"
                          "&repository=team1/app&repository=team1/multi").json()

        by_tag = {image["RepoTags"][0]: image for image in images}
        self.assertEqual(list(by_tag), [self.full("team1/app:v1"), self.full("team1/multi:latest")])
        index = by_tag[self.full("team1/multi:latest")]
        self.assertEqual(index["Id"], self.multi.digest("latest"))
        self.assertEqual(index["ManifestType"], "OCI Image Index v1")
        self.assertEqual(index["Size"], self.multi.image_size(self.multi.digest("latest")))
        self.assertEqual(index["Created"], 0)

    def test_list_images_filters(self):
        by_namespace = self.api("GET", "/api/v1/images?namespace=nosuchns").json()
        team1 = self.api("GET", "/api/v1/images?namespace=" + quote(self.full("team1"))).json()
        by_repository = self.api("GET", "/api/v1/images?includeManifestLists=true&repository="
                                 + quote(self.full("team1/multi"))).json()
        repeated = self.api("GET", "/api/v1/images?includeManifestLists=true"
                            "&repository=team1/app&repository=team1/multi").json()

        self.assertEqual(by_namespace, [])
        self.assertIn([self.full("team1/app:v1")], [image["RepoTags"] for image in team1])
        for image in team1:
            self.assertTrue(image["RepoTags"][0].startswith(self.full("team1/")), image)
        # Without includeManifestLists the tagged index is hidden.
        self.assertNotIn([self.full("team1/multi:latest")], [image["RepoTags"] for image in team1])
        self.assertEqual([image["RepoTags"] for image in by_repository], [[self.full("team1/multi:latest")]])
        self.assertEqual(len(repeated), 2)

    def test_list_images_bad_parameters(self):
        other_domain = self.api("GET", "/api/v1/images?repository=" + quote("us.icr.io/team1/app"))
        bad_bool = self.api("GET", "/api/v1/images?includeIBM=maybe")

        self.assert_error(other_domain, 400, "BAD_REQUEST")
        message = other_domain.json()["errors"][0]["message"]
        self.assertIn("us.icr.io", message)
        self.assertIn(self.domain, message)
        self.assert_error(bad_bool, 400, "BAD_REQUEST")

    def test_public_images_of_other_accounts(self):
        without = self.api("GET", "/api/v1/images").json()
        with_public = self.api("GET", "/api/v1/images?includeIBM=true").json()

        tags = [tag for image in with_public for tag in image["RepoTags"]]
        self.assertNotIn(self.full("otherpub/tool:1.0"), [tag for image in without for tag in image["RepoTags"]])
        self.assertIn(self.full("otherpub/tool:1.0"), tags)
        self.assertNotIn(self.full("otherpriv/secret:1.0"), tags)
        inspected = self.api("GET", f"/api/v1/images/{quote('otherpub/tool:1.0')}/json")
        self.assertEqual(inspected.status, 200, inspected)

    # --- Listing by digest ---------------------------------------------------

    def test_image_digests(self):
        response = self.api("POST", "/api/v1/images/digests",
                            body={"repositories": ["team1/app", self.full("team1/multi")]})

        self.assertEqual(response.status, 200, response)
        by_id = {image["id"]: image for image in response.json()}
        busybox = self.busybox.digest("latest")
        index = self.multi.digest("latest")
        children = [child["digest"] for child in self.multi.json(index)["manifests"]]
        self.assertIn(busybox, children)  # the index's amd64 entry is the busybox image
        # The untagged children of team1/multi's index are part of its image,
        # so only the index is listed there; busybox is listed by its own tag.
        self.assertEqual(set(by_id), {index, busybox})
        va = {"configurationIssueCount": 0, "exemptIssueCount": 0, "issueCount": 0,
              "vulnerabilityCount": 0, "vulnerable": False}
        self.assertEqual(vulnerability_counts(by_id[busybox]["repoTags"]), {self.full("team1/app"): {"v1": va}})
        self.assertEqual(by_id[busybox]["size"], self.busybox.image_size(busybox))
        self.assertEqual(vulnerability_counts(by_id[index]["repoTags"]), {self.full("team1/multi"): {"latest": va}})
        self.assertEqual(by_id[index]["manifestType"], "OCI Image Index v1")

    def test_image_digests_untagged_only(self):
        response = self.api("POST", "/api/v1/images/digests",
                            body={"exclude_tagged": True, "repositories": [self.full("team1/multi")]})

        # The children of the tagged index are not untagged images to clean up.
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), [])

    def test_image_digests_of_index_children(self):
        index = self.multi.digest("latest")
        arm64 = [child["digest"] for child in self.multi.json(index)["manifests"]
                 if child["digest"] != self.busybox.digest("latest")][0]
        # team2/kids contains the index and its children, and the arm64 child has
        # a tag of its own there; team2/loose contains the arm64 image untagged.
        for source, target in (("team1/multi:latest", "team2/kids:index"),
                               (f"team1/multi@{arm64}", "team2/kids:arm64"),
                               (f"team1/multi@{arm64}", "team2/loose:tmp")):
            tagged = self.api("POST", f"/api/v1/images/tags?fromimage={quote(source)}&toimage={quote(target)}")
            self.assertEqual(tagged.status, 201, tagged)
        self.assertEqual(self.api("DELETE", "/api/v1/tags/" + quote("team2/loose:tmp")).status, 200)
        repositories = ["team1/multi", "team2/kids", "team2/loose"]

        listed = self.api("POST", "/api/v1/images/digests", body={"repositories": repositories}).json()
        untagged = self.api("POST", "/api/v1/images/digests",
                            body={"exclude_tagged": True, "repositories": repositories}).json()
        by_tag = self.api("GET", "/api/v1/images?repository=team2/kids").json()

        by_id = {image["id"]: image for image in listed}
        va = {"configurationIssueCount": 0, "exemptIssueCount": 0, "issueCount": 0,
              "vulnerabilityCount": 0, "vulnerable": False}
        self.assertEqual(set(by_id), {index, arm64})
        self.assertEqual(vulnerability_counts(by_id[index]["repoTags"]), {self.full("team1/multi"): {"latest": va},
                                                                          self.full("team2/kids"): {"index": va}})
        self.assertEqual(vulnerability_counts(by_id[arm64]["repoTags"]), {self.full("team2/kids"): {"arm64": va},
                                                                          self.full("team2/loose"): {}})
        self.assertEqual(by_id[arm64]["size"], self.multi.image_size(arm64))
        self.assertGreater(by_id[arm64]["created"], 0)
        self.assertEqual([image["id"] for image in untagged], [arm64])
        self.assertEqual(untagged[0]["repoTags"], {self.full("team2/loose"): {}})
        self.assertEqual([image["RepoTags"] for image in by_tag], [[self.full("team2/kids:arm64")]])

    def test_image_digests_bad_body(self):
        self.assert_error(self.api("POST", "/api/v1/images/digests", body={"exclude_taged": True}),
                          400, "BAD_REQUEST")
        self.assert_error(self.api("POST", "/api/v1/images/digests", body={"repositories": "team1/app"}),
                          400, "BAD_REQUEST")
        self.assert_error(self.api("POST", "/api/v1/images/digests", body=b"[1]"), 400, "BAD_REQUEST")
        self.assertEqual(self.api("POST", "/api/v1/images/digests").status, 200)

    # --- Tagging -------------------------------------------------------------

    def test_tag_index_across_namespaces(self):
        source = self.full("team1/multi:latest")
        target = "team2/copied:v1"

        response = self.api("POST", f"/api/v1/images/tags?fromimage={quote(source)}&toimage={quote(target)}")

        self.assertEqual(response.status, 201, response)
        self.assertEqual(response.body, b"")
        index = self.multi.digest("latest")
        manifest = self.api("GET", "/v2/team2/copied/manifests/v1")
        self.assertEqual(manifest.status, 200, manifest)
        self.assertEqual(manifest.body, self.multi.blob(index))
        for child in self.multi.json(index)["manifests"]:
            copied = self.api("GET", f"/v2/team2/copied/manifests/{child['digest']}")
            self.assertEqual(copied.body, self.multi.blob(child["digest"]), child["digest"])
            image = self.multi.json(child["digest"])
            for blob in [image["config"], *image["layers"]]:
                head = self.api("HEAD", f"/v2/team2/copied/blobs/{blob['digest']}")
                self.assertEqual(head.status, 200, blob["digest"])
        tags = self.api("GET", "/v2/team2/copied/tags/list").json()
        self.assertEqual(tags["tags"], ["v1"])
        verify = self.berthd.admin("verify")
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        # skopeo pulls the copy with every platform.
        pulled = self.workdir / "pulled"
        subprocess.run(["skopeo", "copy", "--quiet", "--all", "--src-tls-verify=false",
                        "--src-creds", f"iamapikey:{self.key}", f"docker://{self.full(target)}",
                        f"oci:{pulled}:v1"], check=True, capture_output=True, timeout=600,
                       env=dict(os.environ, TMPDIR=str(self.workdir)))

    def test_tag_by_digest_in_same_repository(self):
        digest = self.busybox.digest("latest")

        response = self.api("POST", f"/api/v1/images/tags?fromimage={quote('team1/app@' + digest)}"
                            f"&toimage={quote('team1/app:by-digest')}")

        self.assertEqual(response.status, 201, response)
        tagged = self.api("GET", "/v2/team1/app/manifests/by-digest")
        self.assertEqual(tagged.header("Docker-Content-Digest"), digest)
        self.api("DELETE", f"/api/v1/tags/{quote('team1/app:by-digest')}")

    def test_tag_errors(self):
        def tag(source, target, key=None):
            return self.api("POST", f"/api/v1/images/tags?fromimage={quote(source)}&toimage={quote(target)}",
                            key=key)

        self.assert_error(tag("team1/app:v1", "team2/notag"), 400, "BAD_REQUEST")
        self.assert_error(tag("team1/app:v1", "team2/x@" + self.busybox.digest("latest")), 400, "BAD_REQUEST")
        self.assert_error(tag("team1/app:missing", "team2/x:v1"), 404, "MANIFEST_UNKNOWN")
        self.assert_error(tag("team1/app:v1", "nosuchns/x:v1"), 403, "DENIED")
        self.assert_error(tag("team1/app:v1", "example.com/team2/x:v1"), 400, "BAD_REQUEST")
        self.assert_error(self.api("POST", "/api/v1/images/tags?fromimage=team1/app:v1"), 400, "BAD_REQUEST")
        other = tag("team1/app:v1", "otherpriv/stolen:v1")
        self.assert_error(other, 403, "DENIED")
        self.assertEqual(other.json()["errors"][0]["message"], DENIED_MESSAGE)
        # The other account may pull from neither of the first account's namespaces.
        self.assert_error(tag("team1/app:v1", "otherpriv/copy:v1", key=self.other_key), 403, "DENIED")

    def test_tag_index_with_missing_child(self):
        self.push(self.multi, "latest", "team1/broken:latest", copy_all=True)
        index = self.multi.digest("latest")
        arm64 = [child["digest"] for child in self.multi.json(index)["manifests"]
                 if child["digest"] != self.busybox.digest("latest")][0]
        # The registry refuses to break the index, so the damage is made in
        # the database.
        refused = self.api("DELETE", f"/v2/team1/broken/manifests/{arm64}")
        self.assertEqual(refused.status, 409, refused)
        remove_manifest_row(self.berthd.data_dir, "team1/broken", arm64)

        response = self.api("POST", f"/api/v1/images/tags?fromimage={quote('team1/broken:latest')}"
                            f"&toimage={quote('team2/broken:v1')}")

        self.assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
        message = response.json()["errors"][0]["message"]
        self.assertTrue(message.startswith("CRI0304E The manifest list or OCI index that you are tagging "
                                           "references an image that doesn't exist"), message)
        self.assertIn(arm64, message)
        self.assertEqual(self.api("GET", "/v2/team2/broken/tags/list").status, 404)

    # --- Untagging -----------------------------------------------------------

    def test_untag(self):
        created = self.api("POST", f"/api/v1/images/tags?fromimage=team1/app:v1&toimage=team1/app:temporary")
        self.assertEqual(created.status, 201, created)

        response = self.api("DELETE", f"/api/v1/tags/{quote(self.full('team1/app:temporary'))}")

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"Untagged": self.full("team1/app:temporary")})
        self.assertEqual(self.api("GET", "/v2/team1/app/tags/list").json()["tags"], ["v1"])
        self.assert_error(self.api("DELETE", "/api/v1/tags/team1/app:temporary"), 404, "MANIFEST_UNKNOWN")
        # The manifest stays: v1 still points at it.
        self.assertEqual(self.api("GET", "/v2/team1/app/manifests/v1").status, 200)

    def test_untag_needs_a_tag(self):
        self.assert_error(self.api("DELETE", "/api/v1/tags/team1/app"), 400, "BAD_REQUEST")
        self.assert_error(self.api("DELETE", "/api/v1/tags/team1/app@" + self.busybox.digest("latest")),
                          400, "BAD_REQUEST")
        self.assert_error(self.api("DELETE", "/api/v1/tags/app:v1"), 400, "NAME_INVALID")

    # --- Inspection and manifests --------------------------------------------

    def test_inspect_image(self):
        response = self.api("GET", f"/api/v1/images/{quote(self.full('team1/app:v1'))}/json")

        self.assertEqual(response.status, 200, response)
        body = response.json()
        manifest = self.busybox.json(self.busybox.digest("latest"))
        config = self.busybox.json(manifest["config"]["digest"])
        self.assertEqual(body["Id"], manifest["config"]["digest"])
        self.assertEqual(body["Created"], config["created"])
        self.assertEqual(body["Architecture"], config["architecture"])
        self.assertEqual(body["Os"], config["os"])
        self.assertEqual(body["Config"]["Cmd"], config["config"]["Cmd"])
        self.assertEqual(body["Config"]["Env"], config["config"].get("Env", []))
        self.assertEqual(body["Config"]["Entrypoint"], [])
        self.assertEqual(body["Config"]["Labels"], {})
        self.assertEqual(body["RootFS"], {"Type": "layers", "Layers": config["rootfs"]["diff_ids"], "BaseLayer": ""})
        self.assertEqual(body["Size"], self.busybox.image_size(self.busybox.digest("latest")))
        self.assertEqual(body["ManifestType"], "OCI Image Manifest v1")
        for field in ("Parent", "Container", "Comment", "DockerVersion", "Author", "OsVersion"):
            self.assertEqual(body[field], "", field)
        self.assertEqual(body["ContainerConfig"], {})

    def test_inspect_index_uses_amd64(self):
        unencoded = self.api("GET", "/api/v1/images/team1/multi/json")

        self.assertEqual(unencoded.status, 200, unencoded)
        amd64 = self.busybox.json(self.busybox.digest("latest"))
        self.assertEqual(unencoded.json()["Id"], amd64["config"]["digest"])
        self.assertEqual(unencoded.json()["Architecture"], "amd64")

    def test_image_manifest(self):
        index = self.multi.digest("latest")

        response = self.api("GET", f"/api/v1/images/{quote('team1/multi@' + index)}/manifest")

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.header("Content-Type"), OCI_INDEX)
        self.assertEqual(response.body, self.multi.blob(index))
        missing = self.api("GET", "/api/v1/images/team1/app:nothing/manifest")
        self.assert_error(missing, 404, "MANIFEST_UNKNOWN")

    # --- Authorization -------------------------------------------------------

    def test_other_account_sees_nothing(self):
        images = self.api("GET", "/api/v1/images?includeManifestLists=true", key=self.other_key).json()
        digests = self.api("POST", "/api/v1/images/digests", key=self.other_key, body={}).json()

        self.assertEqual(sorted(tag for image in images for tag in image["RepoTags"]),
                         [self.full("otherpriv/secret:1.0"), self.full("otherpub/tool:1.0")])
        repositories = {name for image in digests for name in image["repoTags"]}
        self.assertEqual(repositories, {self.full("otherpriv/secret"), self.full("otherpub/tool")})
        restricted = self.api("GET", "/api/v1/images?namespace=team1", key=self.other_key).json()
        self.assertEqual(restricted, [])
        for method, path in (("GET", "/api/v1/images/team1/app:v1/json"),
                             ("GET", "/api/v1/images/team1/app:v1/manifest"),
                             ("DELETE", "/api/v1/tags/team1/app:v1")):
            response = self.api(method, path, key=self.other_key)
            self.assert_error(response, 403, "DENIED")
            self.assertEqual(response.json()["errors"][0]["message"], DENIED_MESSAGE, path)
        self.assertEqual(self.api("GET", "/v2/team1/app/tags/list").json()["tags"], ["v1"])

    def test_writer_cannot_list_or_inspect(self):
        listed = self.api("GET", "/api/v1/images", key=self.writer_key)
        inspected = self.api("GET", "/api/v1/images/team1/app:v1/json", key=self.writer_key)

        self.assertEqual(listed.json(), [])
        self.assert_error(inspected, 403, "DENIED")
        message = inspected.json()["errors"][0]["message"]
        self.assertIn("container-registry.image.inspect", message)
        self.assertIn("Reader or Manager", message)

    def test_missing_namespace_denied(self):
        response = self.api("GET", "/api/v1/images/nosuchns/app:v1/json")

        self.assert_error(response, 403, "DENIED")
        self.assertIn("nosuchns", response.json()["errors"][0]["message"])

    def test_credentials_required(self):
        for method, path in (("GET", "/api/v1/images"), ("POST", "/api/v1/images/digests"),
                             ("GET", "/api/v1/images/team1/app:v1/json"), ("GET", "/api/v1/settings"),
                             ("DELETE", "/api/v1/tags/team1/app:v1"),
                             ("POST", "/api/v1/images/tags?fromimage=team1/app:v1&toimage=team2/x:v1")):
            with self.subTest(path=path):
                self.assert_error(self.api(method, path, auth=False), 401, "UNAUTHORIZED")

    def test_wrong_methods(self):
        response = self.api("PUT", "/api/v1/images/team1/app:v1/json")
        self.assert_error(response, 405, "UNSUPPORTED")
        self.assertEqual(response.header("Allow"), "GET")
        self.assertEqual(self.api("GET", "/api/v1/images/tags").header("Allow"), "POST")
        self.assertEqual(self.api("DELETE", "/api/v1/settings").header("Allow"), "GET, PATCH")

    # --- Settings ------------------------------------------------------------

    def test_settings(self):
        self.assertEqual(self.api("GET", "/api/v1/settings", key=self.other_key).json(), {"platform_metrics": False})

        updated = self.api("PATCH", "/api/v1/settings", key=self.other_key, body={"platform_metrics": True})

        self.assertEqual(updated.status, 204, updated)
        self.assertEqual(self.api("GET", "/api/v1/settings", key=self.other_key).json(), {"platform_metrics": True})
        self.assertEqual(self.api("GET", "/api/v1/settings").json(), {"platform_metrics": False})
        self.assertEqual(self.api("PATCH", "/api/v1/settings", key=self.other_key, body={}).status, 204)
        self.assertEqual(self.api("GET", "/api/v1/settings", key=self.other_key).json(), {"platform_metrics": True})

    def test_settings_errors(self):
        self.assert_error(self.api("PATCH", "/api/v1/settings", body={"platform_metrics": "yes"}), 400, "BAD_REQUEST")
        self.assert_error(self.api("PATCH", "/api/v1/settings", body={"private_only": True}), 400, "BAD_REQUEST")
        self.assert_error(self.api("PATCH", "/api/v1/settings", body=b"true"), 400, "BAD_REQUEST")
        # Writer may read the settings, but only a Manager may change them.
        self.assertEqual(self.api("GET", "/api/v1/settings", key=self.writer_key).status, 200)
        self.assert_error(self.api("PATCH", "/api/v1/settings", key=self.writer_key,
                                   body={"platform_metrics": True}), 403, "DENIED")


class ConfiguredRegistryTest(unittest.TestCase):
    """A berthd with region.name, region.domain and messages set."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = Path(tempfile.mkdtemp(prefix="berth-test-"))
        env = {"BERTH_REGION_NAME": "eu-test", "BERTH_REGION_DOMAIN": "registry.example.test:5000",
               "BERTH_MESSAGES": "Maintenance on Saturday \"10:00\" UTC"}
        try:
            cls.berthd = Berthd(cls.workdir / "data", env=env).start()
        except BaseException:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.berthd.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def test_messages_from_config(self):
        response = self.berthd.request("GET", "/api/v1/messages", auth=False)

        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.header("Content-Type"), "application/json")
        self.assertEqual(response.json(), "Maintenance on Saturday \"10:00\" UTC")

    def test_info_from_config(self):
        response = self.berthd.request("GET", "/api/v1/info", auth=False)

        self.assertEqual(response.json(), {"region": "eu-test", "domain": "registry.example.test:5000",
                                           "api_endpoint": "http://registry.example.test:5000/api",
                                           "version": "0.1.0", "va": NO_ADVISORIES})

    def test_configured_domain_in_references(self):
        self.berthd.create_namespace("team1")

        own = self.berthd.request("GET", "/api/v1/images/" + quote("registry.example.test:5000/team1/app:v1")
                                  + "/json")
        listen_address = self.berthd.request("GET", "/api/v1/images/" + quote(f"{self.berthd.address}/team1/app")
                                             + "/json")

        self.assertEqual(own.status, 404, own)
        self.assertEqual(listen_address.status, 400, listen_address)


if __name__ == "__main__":
    unittest.main()
