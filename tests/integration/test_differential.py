"""Differential tests: berthd against Debian's docker-registry 2.8.2 (CNCF distribution 2.8).

Each test sends the same request sequence to a fresh berthd and a fresh docker-registry, both on
127.0.0.1, and asserts that both return the same status codes, error codes and required headers.
Values that may legitimately differ are compared by format only: upload UUIDs, and absolute versus
relative Location URLs (Locations are compared by path once scheme and host are stripped).

Where distribution 2.8 breaks the OCI Distribution Spec 1.1, or deliberately differs from Berth,
SPEC_EXCEPTIONS lists the case, the rule and what distribution does. For those cases the tests pin
distribution's documented behaviour and assert that berthd follows the rule.

Every berthd error response is also checked for the spec's error format: Content-Type
application/json and a body {"errors": [{"code": ...}, ...]} whose codes are from SPEC_ERROR_CODES.
"""

import http.client
import json
import re
import shutil
import tempfile
import unittest
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from harness import Berthd, DockerRegistry, image_manifest, push_blob, sha256_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

# The Accept header of current docker, containerd, podman and crane: all four manifest types.
ACCEPT_MANIFESTS = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

# Error codes of the OCI Distribution Spec 1.1 ("The code field MUST be one of the following"), plus
# the two schema-1 era codes that its section "Legacy Docker support error codes" states that clients MAY
# encounter (TAG_INVALID, MANIFEST_UNVERIFIED).
SPEC_ERROR_CODES = frozenset({
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN",
    "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
    "TAG_INVALID", "MANIFEST_UNVERIFIED",
})

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class SpecException:
    """A case where docker-registry 2.8.2 and berthd are expected to respond differently."""

    case: str
    rule: str
    distribution: str


# Every expected difference between the two servers. The tests name the key they rely on, assert
# the distribution behaviour described here, and assert that berthd follows `rule`.
SPEC_EXCEPTIONS = {
    "chunk-out-of-order": SpecException(
        case="PATCH of a chunk whose Content-Range does not start at the current upload size",
        rule="Chunks MUST be uploaded in order, and an out-of-order chunk MUST get 416 Range Not Satisfiable.",
        distribution="ignores Content-Range, appends the bytes and returns 202. The v1.1.1 conformance "
                     "suite fails it for this."),
    "chunk-resent-to-old-location": SpecException(
        case="the first chunk sent again to the Location of the POST after it was accepted",
        rule="A chunk that does not start at the current upload size is out of order, so the status is 416.",
        distribution="returns 404 BLOB_UPLOAD_INVALID, because the signed _state parameter in the old "
                     "Location no longer matches the upload."),
    "single-post-upload": SpecException(
        case="POST /v2/<name>/blobs/uploads/?digest=<digest> with the whole blob as the body",
        rule="Registries MAY support single-POST uploads and then MUST respond with 201 and a Location. "
             "A registry without support SHOULD respond with 202 and a Location. Berth supports it.",
        distribution="returns 202 with an upload Location and discards the body, so the blob stays 404."),
    "single-post-digest-mismatch": SpecException(
        case="single-POST upload whose ?digest= does not match the body",
        rule="The digest MUST match the blob's digest. A mismatch is 400 DIGEST_INVALID.",
        distribution="returns 202 without reading the body, because it does not support single POST."),
    "unknown-upload-id": SpecException(
        case="GET, PATCH or PUT on an upload id that the registry never issued",
        rule="404 with BLOB_UPLOAD_UNKNOWN (blob upload unknown to registry).",
        distribution="returns 404 but with BLOB_UPLOAD_INVALID, because its upload URLs need a signed "
                     "_state query parameter."),
    "blob-range-unsatisfiable": SpecException(
        case="GET blob with Range: bytes=<start beyond the end>-<end>",
        rule="RFC 9110 section 15.5.17 requires 416 with Content-Range: bytes */<size>. A JSON error body "
             "MUST use a spec error code.",
        distribution="returns 416 with Content-Range bytes */<size>, but with the Content-Length of the "
                     "whole blob and a shorter text/plain body, so only its status line and headers "
                     "can be read."),
    "manifest-without-accept": SpecException(
        case="GET of an OCI image manifest with no Accept header, or with Accept: */*",
        rule="RFC 9110 section 12.5.1: a request without Accept accepts any media type, and */* matches "
             "every type, so the stored manifest is returned.",
        distribution="returns 404 MANIFEST_UNKNOWN \"OCI manifest found, but accept header does not "
                     "support OCI manifests\"."),
    "manifest-invalid-tag": SpecException(
        case="PUT /v2/<name>/manifests/<reference> where the reference is neither a digest nor a valid "
             "tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})",
        rule="The reference MUST be a digest or a tag. Berth rejects the push with 400 and TAG_INVALID "
             "(a legacy code the spec lists) or MANIFEST_INVALID.",
        distribution="does not route the path and returns 404 with the text/plain body "
                     "\"404 page not found\"."),
    "manifest-without-content-type": SpecException(
        case="PUT of an OCI image manifest with a mediaType field but no Content-Type header",
        rule="Clients SHOULD send Content-Type, and every manifest SHOULD carry mediaType. Berth "
             "identifies the manifest by its mediaType field when the header is missing.",
        distribution="returns 400 MANIFEST_INVALID."),
    "manifest-too-large": SpecException(
        case="PUT of a manifest larger than 4 MiB (the limit of both servers)",
        rule="A registry that limits the manifest size SHOULD respond with 413 Payload Too Large.",
        distribution="returns 400 MANIFEST_INVALID (\"http: request body too large\")."),
    "manifest-delete-by-tag": SpecException(
        case="DELETE /v2/<name>/manifests/<tag>",
        rule="On success the status is 202 and later GETs of the tag return 404. Only a registry with tag "
             "deletion disabled may respond with 400 or 405, and the conformance suite requires "
             "UNSUPPORTED with a 400.",
        distribution="returns 400 DIGEST_INVALID and keeps the tag."),
    "manifest-malformed-digest": SpecException(
        case="GET or HEAD /v2/<name>/manifests/sha256:totallywrong",
        rule="400 with a spec error code, or 404. The v1.1.1 conformance suite fails a 500.",
        distribution="returns 500 with the code UNKNOWN."),
    "tags-pagination": SpecException(
        case="GET /v2/<name>/tags/list with n and last",
        rule="Return exactly n tags, starting after last, unless fewer remain or a Link header points to "
             "the next page. n=0 returns an empty list without Link. Berth sends "
             "Link: </v2/<name>/tags/list?last=<tag>&n=<n>>; rel=\"next\" while more tags remain.",
        distribution="ignores n and last and always returns every tag, without a Link header."),
    "pagination-invalid-n": SpecException(
        case="GET /v2/<name>/tags/list?n=x or /v2/_catalog?n=x, where n is not an integer",
        rule="n is an integer. The spec names no status for an invalid n, but a JSON error body MUST use "
             "one of the spec's error codes. Berth rejects it with 400.",
        distribution="ignores the invalid n and returns 200 with the whole list."),
    "tags-order": SpecException(
        case="GET /v2/<name>/tags/list of a repository with several tags",
        rule="The tags MUST be in lexical or ASCII order.",
        distribution="returns the tags in filesystem order, for example [b, c, e, a, d]."),
    "tags-empty-list": SpecException(
        case="GET /v2/<name>/tags/list after every tag of the repository was deleted",
        rule="The body is {\"name\": <name>, \"tags\": [...]}, so an empty tag list is the JSON array [].",
        distribution="returns \"tags\": null."),
    "referrers-api": SpecException(
        case="GET /v2/<name>/referrers/<digest>",
        rule="A registry that supports the referrers API MUST respond with 200 and an image index "
             "(Content-Type application/vnd.oci.image.index.v1+json) and never with 404. A malformed "
             "digest gets 400.",
        distribution="has no referrers API and returns 404 with a text/plain body."),
    "oci-subject-header": SpecException(
        case="PUT of a manifest or index that has a subject field",
        rule="A registry that supports the referrers API MUST send OCI-Subject: <subject digest>.",
        distribution="returns 201 without OCI-Subject."),
    "repository-name-invalid": SpecException(
        case="a request on a repository name that does not match the spec's name grammar, such as UPPER",
        rule="Names MUST match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*. "
             "Berth rejects other names with 400 NAME_INVALID.",
        distribution="does not route the path and returns 404 with a text/plain body."),
    "base-wrong-method": SpecException(
        case="POST /v2/",
        rule="The spec defines only GET for /v2/. RFC 9110 section 15.5.6: a method that the resource "
             "does not support gets 405 with an Allow header.",
        distribution="returns 200 {} for any method."),
}


@dataclass(frozen=True)
class RouteCase:
    """A request on a path or with a method that the registry API does not define."""

    method: str
    path: str
    berthd_status: int
    distribution_status: int
    distribution_content_type: str


# Unknown paths and methods, where {repo} is replaced by the test's repository. Both servers must
# respond with an error. distribution sends most of them as text/plain, berthd always as OCI error JSON.
ROUTE_CASES = [
    RouteCase("GET", "/v2/{repo}/nope", 404, 404, "text/plain"),
    RouteCase("GET", "/v3/", 404, 404, "text/plain"),
    RouteCase("PATCH", "/v2/{repo}/manifests/latest", 405, 405, "text/plain"),
    RouteCase("POST", "/v2/{repo}/manifests/latest", 405, 405, "text/plain"),
    RouteCase("PUT", "/v2/{repo}/blobs/" + sha256_digest(b"route"), 405, 405, "text/plain"),
    RouteCase("POST", "/v2/{repo}/blobs/" + sha256_digest(b"route"), 405, 405, "text/plain"),
    RouteCase("DELETE", "/v2/{repo}/tags/list", 405, 405, "text/plain"),
    RouteCase("PUT", "/v2/_catalog", 405, 405, "text/plain"),
    # distribution routes every method on the upload collection to its upload-status handler.
    RouteCase("GET", "/v2/{repo}/blobs/uploads/", 405, 404, "application/json"),
    RouteCase("PUT", "/v2/{repo}/blobs/uploads/", 405, 404, "application/json"),
]


class Pair(NamedTuple):
    """One value per server, such as a request path or a response."""

    berthd: object
    registry: object


def media_type(content_type):
    """Return the media type of a Content-Type value without its parameters."""
    return (content_type or "").split(";", 1)[0].strip()


def split_location(server, location):
    """Return the path and query of a Location header, checking that an absolute URL names `server`."""
    parts = urllib.parse.urlsplit(location)
    if parts.scheme or parts.netloc:
        if f"{parts.scheme}://{parts.netloc}" != server.url:
            raise AssertionError(f"Location {location!r} points away from the server at {server.url}")
    return parts.path, parts.query


def with_query(path_and_query, parameter):
    """Append `parameter` ("digest=...") to an upload URL that may already have a query."""
    separator = "&" if "?" in path_and_query else "?"
    return f"{path_and_query}{separator}{parameter}"


def fetch_head_only(server, method, path, headers):
    """Send one request and return (status, lower-cased headers) without reading the body.

    docker-registry responds to an unsatisfiable blob Range with a body shorter than its Content-Length,
    which the harness' full read reports as IncompleteRead.
    """
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()


class DifferentialTest(unittest.TestCase):
    """Replays each request sequence against berthd and docker-registry and compares the responses."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = Path(tempfile.mkdtemp(prefix="berth-differential-"))
        cls.registry = DockerRegistry(cls.workdir / "registry").start()
        try:
            cls.berthd = Berthd(cls.workdir / "berthd-data").start()
        except Exception:
            cls.registry.stop()
            raise
        cls.servers = Pair(cls.berthd, cls.registry)

    @classmethod
    def tearDownClass(cls):
        cls.berthd.stop()
        cls.registry.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    # ---------------------------------------------------------------- sending

    def with_credentials(self, headers):
        """Return `headers` with berthd's Basic credentials added, unless they carry an Authorization."""
        headers = dict(headers or {})
        headers.setdefault("Authorization", self.berthd.basic_auth())
        return headers

    def send(self, method, path, body=None, headers=None):
        """Send one request to both servers. `path` is a string or a Pair of per-server paths.

        Both servers get the same headers, berthd's credentials included, because docker-registry
        runs without authentication and ignores the Authorization header.
        """
        paths = path if isinstance(path, Pair) else Pair(path, path)
        headers = self.with_credentials(headers)
        berthd_response = self.send_to_berthd(method, paths.berthd, body, headers)
        registry_response = self.registry.request(method, paths.registry, body, headers)
        return Pair(berthd_response, registry_response)

    def send_to_berthd(self, method, path, body=None, headers=None):
        """Send one request to berthd only and check the headers every berthd response needs.

        The namespace of the repository is created first, on berthd only, because docker-registry
        has no namespaces.
        """
        self.berthd.ensure_namespace_for(path)
        response = self.berthd.request(method, path, body, self.with_credentials(headers))
        self.check_berthd_response(method, path, response)
        return response

    def check_berthd_response(self, method, path, response):
        """Check the headers and error body that every berthd response must have."""
        request = f"{method} {path}"
        with self.subTest(check="berthd Docker-Distribution-API-Version", request=request):
            self.assertEqual(response.header("Docker-Distribution-API-Version"), "registry/2.0", response)
        if response.status < 400:
            return
        with self.subTest(check="berthd error Content-Type", request=request):
            self.assertEqual(response.header("Content-Type"), "application/json", response)
        if method == "HEAD":
            return
        with self.subTest(check="berthd error body", request=request):
            try:
                document = response.json()
            except ValueError:
                self.fail(f"berthd error body is not JSON: {response!r}")
            self.assertIsInstance(document, dict, response)
            self.assertIsInstance(document.get("errors"), list, response)
            self.assertTrue(document["errors"], f"berthd error body has an empty errors array: {response!r}")
            for entry in document["errors"]:
                self.assertIsInstance(entry, dict, response)
                code = entry.get("code")
                self.assertTrue(code in SPEC_ERROR_CODES,
                                f"berthd error code {code!r} is not one of the spec's error codes: {response!r}")
                if "message" in entry:
                    self.assertIsInstance(entry["message"], str, response)

    # ---------------------------------------------------------------- assertions

    def assert_status(self, responses, status, codes=None):
        """Assert that both servers returned `status` and, when given, exactly these error codes."""
        for name, response in zip(Pair._fields, responses):
            self.assertEqual(response.status, status, f"{name}: {response!r}")
            if codes is not None:
                self.assertEqual(response.error_codes(), list(codes), f"{name}: {response!r}")

    def assert_headers(self, responses, expected):
        """Assert that both servers sent each header and that it fully matches the regex."""
        for name, response in zip(Pair._fields, responses):
            for header, pattern in expected.items():
                value = response.header(header)
                self.assertIsNotNone(value, f"{name} sent no {header}: {response!r}")
                self.assertRegex(value, f"^(?:{pattern})$", f"{name} {header}: {response!r}")

    def assert_location_path(self, responses, pattern):
        """Assert that both Location paths fully match `pattern` and return the per-server path+query."""
        targets = []
        for name, server, response in zip(Pair._fields, self.servers, responses):
            location = response.header("Location")
            self.assertTrue(location, f"{name} sent no Location: {response!r}")
            path, query = split_location(server, location)
            self.assertRegex(path, f"^(?:{pattern})$", f"{name} Location: {response!r}")
            targets.append(path + ("?" + query if query else ""))
        return Pair(*targets)

    def assert_exception(self, key, responses, berthd_status, distribution_status):
        """Assert the statuses of a SPEC_EXCEPTIONS case: distribution as documented, berthd per the rule."""
        exception = SPEC_EXCEPTIONS[key]
        self.assertEqual(responses.registry.status, distribution_status,
                         f"docker-registry no longer behaves as SPEC_EXCEPTIONS[{key!r}] describes "
                         f"({exception.distribution}): {responses.registry!r}")
        allowed = berthd_status if isinstance(berthd_status, tuple) else (berthd_status,)
        self.assertIn(responses.berthd.status, allowed,
                      f"berthd breaks the rule of SPEC_EXCEPTIONS[{key!r}] ({exception.rule}): "
                      f"{responses.berthd!r}")

    def assert_upload_session(self, responses, repo, size=None):
        """Assert the headers of a 202 from POST or PATCH on an upload and return the next upload URLs."""
        targets = self.assert_location_path(responses, rf"/v2/{repo}/blobs/uploads/[^/]+")
        self.assert_headers(responses, {"Docker-Upload-UUID": UUID_PATTERN})
        for name, target, response in zip(Pair._fields, targets, responses):
            session_id = target.split("?", 1)[0].rsplit("/", 1)[1]
            self.assertEqual(session_id, response.header("Docker-Upload-UUID"),
                             f"{name}: the Location does not end with the Docker-Upload-UUID: {response!r}")
        if size is not None:
            self.assert_headers(responses, {"Range": f"0-{size - 1}"})
        return targets

    def assert_blob_created(self, responses, repo, digest):
        """Assert the 201 that ends a blob upload or mount."""
        self.assert_status(responses, 201)
        self.assert_location_path(responses, re.escape(f"/v2/{repo}/blobs/{digest}"))
        self.assert_headers(responses, {"Docker-Content-Digest": re.escape(digest)})

    def assert_blob_stored(self, repo, digest, data):
        """Assert that both servers serve the blob with its length, digest and bytes."""
        pulled = self.send("GET", f"/v2/{repo}/blobs/{digest}")
        self.assert_status(pulled, 200)
        self.assert_headers(pulled, {"Content-Length": str(len(data)), "Docker-Content-Digest": re.escape(digest)})
        for name, response in zip(Pair._fields, pulled):
            self.assertEqual(response.body, data, f"{name} returned other bytes for {digest}")

    def assert_blob_missing(self, repo, digest):
        missing = self.send("GET", f"/v2/{repo}/blobs/{digest}")
        self.assert_status(missing, 404, ["BLOB_UNKNOWN"])

    def assert_head_matches_get(self, path, headers=None):
        """Assert that HEAD returns the GET headers (except per-response ones) and no body."""
        got = self.send("GET", path, headers=headers)
        head = self.send("HEAD", path, headers=headers)
        per_response = {"date", "x-request-id", "connection", "keep-alive"}
        for name, get_response, head_response in zip(Pair._fields, got, head):
            self.assertEqual(head_response.status, get_response.status, f"{name}: {head_response!r}")
            self.assertEqual(head_response.body, b"", f"{name} HEAD returned a body: {head_response!r}")
            for header, value in get_response.headers.items():
                if header in per_response:
                    continue
                self.assertEqual(head_response.header(header), value,
                                 f"{name} HEAD {path}: {header} differs from GET ({get_response!r})")
        return got

    # ---------------------------------------------------------------- helpers

    def start_upload(self, repo):
        started = self.send("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        self.assert_status(started, 202)
        return self.assert_upload_session(started, repo)

    def push_blob_to_both(self, repo, data):
        for server in self.servers:
            push_blob(server, repo, data)
        return sha256_digest(data)

    def put_manifest(self, repo, reference, body, content_type):
        """PUT a manifest on both servers and assert the 201 and its headers."""
        digest = sha256_digest(body)
        pushed = self.send("PUT", f"/v2/{repo}/manifests/{reference}", body=body,
                           headers={"Content-Type": content_type})
        self.assert_status(pushed, 201)
        self.assert_location_path(pushed, re.escape(f"/v2/{repo}/manifests/{digest}"))
        self.assert_headers(pushed, {"Docker-Content-Digest": re.escape(digest)})
        return pushed

    def push_image_to_both(self, repo, tag, layer=b"layer"):
        """Push a config, one layer and an OCI manifest under `tag`, and return (manifest bytes, digest)."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "repo": repo}).encode()
        config_digest = self.push_blob_to_both(repo, config)
        layer_digest = self.push_blob_to_both(repo, layer)
        manifest = image_manifest(config_digest, len(config), [(layer_digest, len(layer))])
        self.put_manifest(repo, tag, manifest, OCI_MANIFEST)
        return manifest, sha256_digest(manifest)

    def tags(self, repo, query=""):
        listed = self.send("GET", f"/v2/{repo}/tags/list{query}")
        self.assert_status(listed, 200)
        for name, response in zip(Pair._fields, listed):
            self.assertEqual(media_type(response.header("Content-Type")), "application/json", f"{name}: {response!r}")
            self.assertEqual(response.json()["name"], repo, f"{name}: {response!r}")
        return listed

    # ================================================================ base

    def test_base_endpoint(self):
        base = self.send("GET", "/v2/")
        self.assert_status(base, 200)
        self.assert_headers(base, {"Docker-Distribution-API-Version": re.escape("registry/2.0")})
        for name, response in zip(Pair._fields, base):
            self.assertEqual(media_type(response.header("Content-Type")), "application/json", f"{name}: {response!r}")
            self.assertEqual(response.json(), {}, f"{name}: {response!r}")

        head = self.send("HEAD", "/v2/")
        self.assert_status(head, 200)
        self.assert_headers(head, {"Docker-Distribution-API-Version": re.escape("registry/2.0")})

    # ================================================================ blob uploads

    def test_monolithic_upload(self):
        repo = "diff/monolithic"
        data = b"monolithic upload body"
        digest = sha256_digest(data)

        targets = self.start_upload(repo)
        done = self.send("PUT", Pair(*(with_query(target, f"digest={digest}") for target in targets)),
                         body=data, headers={"Content-Type": "application/octet-stream"})
        self.assert_blob_created(done, repo, digest)
        self.assertEqual(done.berthd.header("Content-Length"), "0", done.berthd)
        self.assert_blob_stored(repo, digest, data)

        # skopeo and the conformance suite send the digest URL-encoded.
        encoded_data = b"digest sent URL-encoded"
        encoded_digest = sha256_digest(encoded_data)
        quoted = urllib.parse.quote(encoded_digest, safe="")
        targets = self.start_upload(repo)
        done = self.send("PUT", Pair(*(with_query(target, f"digest={quoted}") for target in targets)),
                         body=encoded_data, headers={"Content-Type": "application/octet-stream"})
        self.assert_blob_created(done, repo, encoded_digest)
        self.assert_blob_stored(repo, encoded_digest, encoded_data)

    def test_streamed_upload(self):
        repo = "diff/streamed"
        first, second = b"streamed part one, ", b"streamed part two"
        data = first + second
        digest = sha256_digest(data)

        targets = self.start_upload(repo)
        patched = self.send("PATCH", targets, body=first, headers={"Content-Type": "application/octet-stream"})
        self.assert_status(patched, 202)
        targets = self.assert_upload_session(patched, repo, size=len(first))

        # docker streams layers with chunked Transfer-Encoding and no Content-Length.
        patched = self.send("PATCH", targets, body=second,
                            headers={"Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked"})
        self.assert_status(patched, 202)
        targets = self.assert_upload_session(patched, repo, size=len(data))

        status = self.send("GET", targets)
        self.assert_status(status, 204)
        self.assert_location_path(status, rf"/v2/{repo}/blobs/uploads/[^/]+")
        self.assert_headers(status, {"Range": f"0-{len(data) - 1}"})

        done = self.send("PUT", Pair(*(with_query(target, f"digest={digest}") for target in targets)),
                         body=b"", headers={"Content-Length": "0"})
        self.assert_blob_created(done, repo, digest)
        self.assert_blob_stored(repo, digest, data)

    def test_chunked_upload_in_order(self):
        repo = "diff/chunked"
        started = self.send("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        self.assert_status(started, 202)
        targets = self.assert_upload_session(started, repo)

        # Like the conformance suite, honour the largest OCI-Chunk-Min-Length either server advertises.
        advertised = [int(response.header("OCI-Chunk-Min-Length", "0")) for response in started]
        chunk_size = max([22, *advertised])
        data = bytes(index % 251 for index in range(2 * chunk_size + 20))
        digest = sha256_digest(data)
        first, second, last = data[:chunk_size], data[chunk_size:2 * chunk_size], data[2 * chunk_size:]

        patched = self.send("PATCH", targets, body=first,
                            headers={"Content-Type": "application/octet-stream",
                                     "Content-Range": f"0-{chunk_size - 1}"})
        self.assert_status(patched, 202)
        targets = self.assert_upload_session(patched, repo, size=chunk_size)

        status = self.send("GET", targets)
        self.assert_status(status, 204)
        targets = self.assert_location_path(status, rf"/v2/{repo}/blobs/uploads/[^/]+")
        self.assert_headers(status, {"Range": f"0-{chunk_size - 1}"})

        patched = self.send("PATCH", targets, body=second,
                            headers={"Content-Type": "application/octet-stream",
                                     "Content-Range": f"{chunk_size}-{2 * chunk_size - 1}"})
        self.assert_status(patched, 202)
        targets = self.assert_upload_session(patched, repo, size=2 * chunk_size)

        # The final chunk may travel in the closing PUT.
        done = self.send("PUT", Pair(*(with_query(target, f"digest={digest}") for target in targets)),
                         body=last, headers={"Content-Type": "application/octet-stream",
                                             "Content-Range": f"{2 * chunk_size}-{len(data) - 1}"})
        self.assert_blob_created(done, repo, digest)
        self.assert_blob_stored(repo, digest, data)

    def test_chunk_out_of_order(self):
        repo = "diff/out-of-order"
        data = b"0123456789" * 4 + b"ab"

        targets = self.start_upload(repo)
        skipped = self.send("PATCH", targets, body=data[22:],
                            headers={"Content-Type": "application/octet-stream", "Content-Range": "22-41"})
        self.assert_exception("chunk-out-of-order", skipped, berthd_status=416, distribution_status=202)
        self.assertTrue(skipped.berthd.header("Location"), f"a 416 needs the Location to resume: {skipped.berthd!r}")

        # A fresh session: the first chunk in order, then the same chunk again to the POST's Location.
        post_targets = self.start_upload(repo)
        patched = self.send("PATCH", post_targets, body=data[:22],
                            headers={"Content-Type": "application/octet-stream", "Content-Range": "0-21"})
        self.assert_status(patched, 202)
        self.assert_upload_session(patched, repo, size=22)
        resent = self.send("PATCH", post_targets, body=data[:22],
                           headers={"Content-Type": "application/octet-stream", "Content-Range": "0-21"})
        self.assert_exception("chunk-resent-to-old-location", resent, berthd_status=416, distribution_status=404)
        self.assertEqual(resent.berthd.header("Range"), "0-21", resent.berthd)

        # berthd's session still works after the 416: the upload resumes at byte 22.
        status = self.send_to_berthd("GET", post_targets.berthd)
        self.assertEqual(status.status, 204, status)
        self.assertEqual(status.header("Range"), "0-21", status)

    def test_upload_cancel(self):
        repo = "diff/cancel"
        targets = self.start_upload(repo)
        patched = self.send("PATCH", targets, body=b"to be cancelled")
        self.assert_status(patched, 202)
        targets = self.assert_upload_session(patched, repo, size=15)

        cancelled = self.send("DELETE", targets)
        self.assert_status(cancelled, 204)

        for method, body in (("GET", None), ("PATCH", b"more"), ("PUT", b"")):
            with self.subTest(method=method):
                paths = targets if method != "PUT" else Pair(
                    *(with_query(target, f"digest={sha256_digest(b'to be cancelled')}") for target in targets))
                stale = self.send(method, paths, body=body)
                self.assert_status(stale, 404, ["BLOB_UPLOAD_UNKNOWN"])

    def test_upload_digest_mismatch(self):
        repo = "diff/mismatch"
        data = b"the uploaded bytes"
        claimed = sha256_digest(b"other bytes")

        targets = self.start_upload(repo)
        rejected = self.send("PUT", Pair(*(with_query(target, f"digest={claimed}") for target in targets)),
                             body=data, headers={"Content-Type": "application/octet-stream"})
        self.assert_status(rejected, 400, ["DIGEST_INVALID"])
        self.assert_blob_missing(repo, claimed)
        self.assert_blob_missing(repo, sha256_digest(data))

    def test_upload_digest_missing_or_malformed(self):
        repo = "diff/bad-digest"
        cases = {
            "missing": None,
            "short hex": "sha256:zzz",
            "unsupported algorithm": "md5:" + "a" * 32,
            "upper-case hex": "sha256:" + "A" * 64,
        }
        for case, digest in cases.items():
            with self.subTest(case=case):
                targets = self.start_upload(repo)
                paths = targets if digest is None else Pair(
                    *(with_query(target, f"digest={digest}") for target in targets))
                rejected = self.send("PUT", paths, body=b"content",
                                     headers={"Content-Type": "application/octet-stream"})
                self.assert_status(rejected, 400, ["DIGEST_INVALID"])

    def test_upload_unknown_id(self):
        repo = "diff/unknown-upload"
        self.push_blob_to_both(repo, b"makes the repository exist")
        path = f"/v2/{repo}/blobs/uploads/12345678-1234-4234-8234-123456789abc"
        for method, target, body in (("GET", path, None), ("PATCH", path, b"chunk"),
                                     ("PUT", with_query(path, f"digest={sha256_digest(b'')}"), b"")):
            with self.subTest(method=method):
                unknown = self.send(method, target, body=body)
                self.assert_status(unknown, 404)
                self.assertEqual(unknown.berthd.error_codes(), ["BLOB_UPLOAD_UNKNOWN"], unknown.berthd)
                self.assertEqual(unknown.registry.error_codes(), ["BLOB_UPLOAD_INVALID"],
                                 f"docker-registry no longer behaves as SPEC_EXCEPTIONS['unknown-upload-id'] "
                                 f"describes: {unknown.registry!r}")

    def test_mount_from_repository(self):
        source, target = "diff/mount-source", "diff/mount-target"
        data = b"blob to mount"
        digest = self.push_blob_to_both(source, data)

        mounted = self.send("POST", f"/v2/{target}/blobs/uploads/?mount={digest}&from={source}")
        self.assert_blob_created(mounted, target, digest)
        head = self.send("HEAD", f"/v2/{target}/blobs/{digest}")
        self.assert_status(head, 200)
        self.assert_headers(head, {"Content-Length": str(len(data)), "Docker-Content-Digest": re.escape(digest)})
        self.assert_blob_stored(target, digest, data)

    def test_mount_falls_back_to_upload(self):
        source, target = "diff/fallback-source", "diff/fallback-target"
        known = self.push_blob_to_both(source, b"known blob")
        unknown = sha256_digest(b"never pushed")
        cases = {
            "without from": f"?mount={known}",
            "unknown blob": f"?mount={unknown}&from={source}",
            "unknown source repository": f"?mount={known}&from=diff/no-such-repository",
        }
        for case, query in cases.items():
            with self.subTest(case=case):
                started = self.send("POST", f"/v2/{target}/blobs/uploads/{query}")
                self.assert_status(started, 202)
                targets = self.assert_upload_session(started, target)

                data = f"uploaded after a mount fallback: {case}".encode()
                digest = sha256_digest(data)
                done = self.send("PUT", Pair(*(with_query(path, f"digest={digest}") for path in targets)),
                                 body=data, headers={"Content-Type": "application/octet-stream"})
                self.assert_blob_created(done, target, digest)
                self.assert_blob_stored(target, digest, data)

    def test_single_post_upload(self):
        repo = "diff/single-post"
        data = b"single POST body"
        digest = sha256_digest(data)

        posted = self.send("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", body=data,
                           headers={"Content-Type": "application/octet-stream"})
        self.assert_exception("single-post-upload", posted, berthd_status=201, distribution_status=202)
        self.assertTrue(posted.registry.header("Location"), posted.registry)
        path, _ = split_location(self.berthd, posted.berthd.header("Location") or "")
        self.assertEqual(path, f"/v2/{repo}/blobs/{digest}", posted.berthd)
        self.assertEqual(posted.berthd.header("Docker-Content-Digest"), digest, posted.berthd)

        pulled = self.send("GET", f"/v2/{repo}/blobs/{digest}")
        self.assertEqual(pulled.berthd.status, 200, pulled.berthd)
        self.assertEqual(pulled.berthd.body, data, pulled.berthd)
        self.assertEqual(pulled.registry.status, 404, pulled.registry)

        wrong = sha256_digest(b"not the body")
        mismatched = self.send("POST", f"/v2/{repo}/blobs/uploads/?digest={wrong}", body=data,
                               headers={"Content-Type": "application/octet-stream"})
        self.assert_exception("single-post-digest-mismatch", mismatched, berthd_status=400, distribution_status=202)
        self.assertEqual(mismatched.berthd.error_codes(), ["DIGEST_INVALID"], mismatched.berthd)
        self.assertEqual(self.send_to_berthd("GET", f"/v2/{repo}/blobs/{wrong}").status, 404)

    # ================================================================ blobs

    def test_blob_pull(self):
        repo = "diff/blob-pull"
        data = b"blob pulled by HEAD and GET"
        digest = self.push_blob_to_both(repo, data)

        got = self.assert_head_matches_get(f"/v2/{repo}/blobs/{digest}")
        self.assert_status(got, 200)
        self.assert_headers(got, {"Content-Length": str(len(data)),
                                  "Docker-Content-Digest": re.escape(digest),
                                  "Content-Type": re.escape("application/octet-stream")})

        # The empty blob must round-trip with Content-Length: 0.
        empty_digest = self.push_blob_to_both(repo, b"")
        got = self.assert_head_matches_get(f"/v2/{repo}/blobs/{empty_digest}")
        self.assert_status(got, 200)
        self.assert_headers(got, {"Content-Length": "0", "Docker-Content-Digest": re.escape(empty_digest)})

        missing = sha256_digest(b"missing blob")
        self.assert_status(self.send("GET", f"/v2/{repo}/blobs/{missing}"), 404, ["BLOB_UNKNOWN"])
        self.assert_status(self.send("HEAD", f"/v2/{repo}/blobs/{missing}"), 404)

        for malformed in ("sha256:abc", "sha256:" + "A" * 64, "md5:" + "a" * 32):
            with self.subTest(digest=malformed):
                self.assert_status(self.send("GET", f"/v2/{repo}/blobs/{malformed}"), 400, ["DIGEST_INVALID"])
                self.assert_status(self.send("HEAD", f"/v2/{repo}/blobs/{malformed}"), 400)

    def test_blob_range(self):
        repo = "diff/blob-range"
        data = bytes(range(48, 90))  # 42 bytes
        digest = self.push_blob_to_both(repo, data)
        path = f"/v2/{repo}/blobs/{digest}"

        for header, first, last in (("bytes=2-5", 2, 5), ("bytes=40-", 40, 41), ("bytes=-3", 39, 41),
                                    ("bytes=30-100", 30, 41)):
            with self.subTest(range=header):
                partial = self.send("GET", path, headers={"Range": header})
                self.assert_status(partial, 206)
                self.assert_headers(partial, {"Content-Range": re.escape(f"bytes {first}-{last}/{len(data)}"),
                                              "Content-Length": str(last - first + 1)})
                for name, response in zip(Pair._fields, partial):
                    self.assertEqual(response.body, data[first:last + 1], f"{name}: {response!r}")

        # See SPEC_EXCEPTIONS["blob-range-unsatisfiable"]: only distribution's headers are readable.
        beyond = self.with_credentials({"Range": "bytes=50-60"})
        unsatisfiable = self.send_to_berthd("GET", path, headers=beyond)
        registry_status, registry_headers = fetch_head_only(self.registry, "GET", path, beyond)
        self.assertEqual(registry_status, 416, registry_headers)
        self.assertEqual(registry_headers.get("content-range"), f"bytes */{len(data)}", registry_headers)
        self.assertEqual(unsatisfiable.status, 416, unsatisfiable)
        self.assertEqual(unsatisfiable.header("Content-Range"), f"bytes */{len(data)}", unsatisfiable)

    def test_blob_delete(self):
        repo = "diff/blob-delete"
        data = b"blob to delete"
        digest = self.push_blob_to_both(repo, data)

        deleted = self.send("DELETE", f"/v2/{repo}/blobs/{digest}")
        self.assert_status(deleted, 202)
        self.assert_blob_missing(repo, digest)
        self.assert_status(self.send("HEAD", f"/v2/{repo}/blobs/{digest}"), 404)
        self.assert_status(self.send("DELETE", f"/v2/{repo}/blobs/{digest}"), 404, ["BLOB_UNKNOWN"])
        self.assert_status(self.send("DELETE", f"/v2/{repo}/blobs/sha256:nothex"), 400, ["DIGEST_INVALID"])

    # ================================================================ manifests

    def test_manifest_types_round_trip(self):
        repo = "diff/manifest-types"
        config = b'{"architecture":"amd64","os":"linux"}'
        layer = b"manifest layer"
        config_digest = self.push_blob_to_both(repo, config)
        layer_digest = self.push_blob_to_both(repo, layer)

        oci_manifest = image_manifest(config_digest, len(config), [(layer_digest, len(layer))])
        docker_manifest = image_manifest(config_digest, len(config), [(layer_digest, len(layer))],
                                         media_type=DOCKER_MANIFEST, config_type=DOCKER_CONFIG)
        platform = {"architecture": "amd64", "os": "linux"}
        oci_index = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256_digest(oci_manifest),
                           "size": len(oci_manifest), "platform": platform}],
        }).encode()
        docker_list = json.dumps({
            "schemaVersion": 2, "mediaType": DOCKER_LIST,
            "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": sha256_digest(docker_manifest),
                           "size": len(docker_manifest), "platform": platform}],
        }, indent=3).encode()

        # Entries are (tag, bytes, media type). Children go first and by digest, as clients push them.
        manifests = [("oci", oci_manifest, OCI_MANIFEST), ("docker", docker_manifest, DOCKER_MANIFEST),
                     ("oci-index", oci_index, OCI_INDEX), ("docker-list", docker_list, DOCKER_LIST)]
        for tag, body, content_type in manifests:
            with self.subTest(media_type=content_type):
                digest = sha256_digest(body)
                self.put_manifest(repo, digest, body, content_type)
                self.put_manifest(repo, tag, body, content_type)
                for reference in (tag, digest):
                    got = self.assert_head_matches_get(f"/v2/{repo}/manifests/{reference}",
                                                       headers={"Accept": ACCEPT_MANIFESTS})
                    self.assert_status(got, 200)
                    self.assert_headers(got, {"Content-Type": re.escape(content_type),
                                              "Content-Length": str(len(body)),
                                              "Docker-Content-Digest": re.escape(digest)})
                    for name, response in zip(Pair._fields, got):
                        self.assertEqual(response.body, body, f"{name} changed the bytes of {reference}")

                    # containerd and docker revalidate cached manifests with If-None-Match.
                    cached = self.send("GET", f"/v2/{repo}/manifests/{reference}",
                                       headers={"Accept": ACCEPT_MANIFESTS, "If-None-Match": f'"{digest}"'})
                    self.assert_status(cached, 304)
                    for name, response in zip(Pair._fields, cached):
                        self.assertEqual(response.body, b"", f"{name}: {response!r}")

        # The registry ignores Content-Type parameters on PUT and never returns any.
        self.put_manifest(repo, "with-charset", oci_manifest, OCI_MANIFEST + "; charset=utf-8")
        got = self.assert_head_matches_get(f"/v2/{repo}/manifests/with-charset", headers={"Accept": ACCEPT_MANIFESTS})
        self.assert_status(got, 200)
        self.assert_headers(got, {"Content-Type": re.escape(OCI_MANIFEST)})

        listed = self.tags(repo)
        for name, response in zip(Pair._fields, listed):
            self.assertEqual(set(response.json()["tags"]), {tag for tag, _, _ in manifests} | {"with-charset"},
                             f"{name}: {response!r}")

    def test_manifest_push_errors(self):
        repo = "diff/manifest-errors"
        config = b'{"architecture":"arm64","os":"linux"}'
        config_digest = self.push_blob_to_both(repo, config)
        valid = image_manifest(config_digest, len(config), [])

        missing_layer = image_manifest(config_digest, len(config), [(sha256_digest(b"never pushed"), 12)])
        rejected = self.send("PUT", f"/v2/{repo}/manifests/missing-layer", body=missing_layer,
                             headers={"Content-Type": OCI_MANIFEST})
        self.assert_status(rejected, 400, ["MANIFEST_BLOB_UNKNOWN"])

        rejected = self.send("PUT", f"/v2/{repo}/manifests/broken", body=b'{"schemaVersion": 2, ',
                             headers={"Content-Type": OCI_MANIFEST})
        self.assert_status(rejected, 400, ["MANIFEST_INVALID"])

        schema1 = json.dumps({"schemaVersion": 1, "name": repo, "tag": "schema1", "architecture": "amd64",
                              "fsLayers": [{"blobSum": config_digest}],
                              "history": [{"v1Compatibility": "{}"}]}).encode()
        for content_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
            with self.subTest(media_type=content_type):
                rejected = self.send("PUT", f"/v2/{repo}/manifests/schema1", body=schema1,
                                     headers={"Content-Type": content_type})
                self.assert_status(rejected, 400, ["MANIFEST_INVALID"])

        no_content_type = self.send("PUT", f"/v2/{repo}/manifests/no-content-type", body=valid)
        self.assert_exception("manifest-without-content-type", no_content_type, berthd_status=201,
                              distribution_status=400)
        self.assertEqual(no_content_type.registry.error_codes(), ["MANIFEST_INVALID"], no_content_type.registry)
        stored = self.send_to_berthd("GET", f"/v2/{repo}/manifests/no-content-type", headers={"Accept": ACCEPT_MANIFESTS})
        self.assertEqual(stored.header("Content-Type"), OCI_MANIFEST, stored)
        self.assertEqual(self.send_to_berthd("DELETE", f"/v2/{repo}/manifests/{sha256_digest(valid)}").status, 202)

        oversized = json.loads(valid)
        oversized["annotations"] = {"org.example.padding": "x" * (4 * 1024 * 1024)}
        too_large = self.send("PUT", f"/v2/{repo}/manifests/too-large", body=json.dumps(oversized).encode(),
                              headers={"Content-Type": OCI_MANIFEST})
        self.assert_exception("manifest-too-large", too_large, berthd_status=413, distribution_status=400)

        other_digest = sha256_digest(valid + b" ")
        rejected = self.send("PUT", f"/v2/{repo}/manifests/{other_digest}", body=valid,
                             headers={"Content-Type": OCI_MANIFEST})
        self.assert_status(rejected, 400, ["DIGEST_INVALID"])

        for tag in ("bad+tag", ".hidden", "-dash", "a" * 129):
            with self.subTest(tag=tag):
                rejected = self.send("PUT", f"/v2/{repo}/manifests/{tag}", body=valid,
                                     headers={"Content-Type": OCI_MANIFEST})
                self.assert_exception("manifest-invalid-tag", rejected, berthd_status=400, distribution_status=404)
                self.assertEqual(media_type(rejected.registry.header("Content-Type")), "text/plain", rejected.registry)
                self.assertIn(rejected.berthd.error_codes(), (["TAG_INVALID"], ["MANIFEST_INVALID"]), rejected.berthd)

        # None of the rejected pushes created a tag.
        self.assertEqual(self.send_to_berthd("GET", f"/v2/{repo}/tags/list").json()["tags"], [])

    def test_manifest_unknown_reference(self):
        repo = "diff/manifest-unknown"
        self.push_image_to_both(repo, "present")
        accept = {"Accept": ACCEPT_MANIFESTS}
        for reference in ("absent", sha256_digest(b"no such manifest")):
            with self.subTest(reference=reference):
                path = f"/v2/{repo}/manifests/{reference}"
                self.assert_status(self.send("GET", path, headers=accept), 404, ["MANIFEST_UNKNOWN"])
                self.assert_status(self.send("HEAD", path, headers=accept), 404)

        # The conformance suite pulls this invalid tag and requires only a 404. distribution's router
        # does not match it and returns text/plain.
        path = f"/v2/{repo}/manifests/.INVALID_MANIFEST_NAME"
        got = self.send("GET", path, headers=accept)
        self.assert_status(got, 404)
        self.assertEqual(got.berthd.error_codes(), ["MANIFEST_UNKNOWN"], got.berthd)
        self.assert_status(self.send("HEAD", path, headers=accept), 404)

    def test_manifest_malformed_digest(self):
        repo = "diff/manifest-totallywrong"
        self.push_image_to_both(repo, "present")
        path = f"/v2/{repo}/manifests/sha256:totallywrong"
        # The conformance suite sends a stray Content-Type with this GET.
        for method in ("GET", "HEAD"):
            with self.subTest(method=method):
                responses = self.send(method, path, headers={"Accept": ACCEPT_MANIFESTS,
                                                            "Content-Type": OCI_MANIFEST})
                self.assert_exception("manifest-malformed-digest", responses, berthd_status=(400, 404),
                                      distribution_status=500)
                if method == "GET" and responses.berthd.status == 400:
                    self.assertEqual(responses.berthd.error_codes(), ["DIGEST_INVALID"], responses.berthd)

    def test_manifest_without_accept(self):
        repo = "diff/manifest-accept"
        manifest, digest = self.push_image_to_both(repo, "latest")
        for case, headers in (("no Accept", {}), ("Accept */*", {"Accept": "*/*"})):
            with self.subTest(case=case):
                got = self.send("GET", f"/v2/{repo}/manifests/latest", headers=headers)
                self.assert_exception("manifest-without-accept", got, berthd_status=200, distribution_status=404)
                self.assertEqual(got.registry.error_codes(), ["MANIFEST_UNKNOWN"], got.registry)
                self.assertEqual(got.berthd.header("Content-Type"), OCI_MANIFEST, got.berthd)
                self.assertEqual(got.berthd.header("Docker-Content-Digest"), digest, got.berthd)
                self.assertEqual(got.berthd.body, manifest, got.berthd)

        # Both servers refuse an OCI manifest to a client that accepts only Docker schema 2.
        docker_only = self.send("GET", f"/v2/{repo}/manifests/latest", headers={"Accept": DOCKER_MANIFEST})
        self.assert_status(docker_only, 404, ["MANIFEST_UNKNOWN"])

    def test_manifest_delete_by_digest(self):
        repo = "diff/manifest-delete"
        manifest, digest = self.push_image_to_both(repo, "first")
        self.put_manifest(repo, "second", manifest, OCI_MANIFEST)
        other, other_digest = self.push_image_to_both(repo, "other", layer=b"other layer")

        deleted = self.send("DELETE", f"/v2/{repo}/manifests/{digest}")
        self.assert_status(deleted, 202)

        for reference in ("first", "second", digest):
            with self.subTest(reference=reference):
                self.assert_status(self.send("GET", f"/v2/{repo}/manifests/{reference}",
                                             headers={"Accept": ACCEPT_MANIFESTS}), 404, ["MANIFEST_UNKNOWN"])
        listed = self.tags(repo)
        for name, response in zip(Pair._fields, listed):
            self.assertEqual(response.json()["tags"], ["other"], f"{name}: {response!r}")
        kept = self.send("GET", f"/v2/{repo}/manifests/other", headers={"Accept": ACCEPT_MANIFESTS})
        self.assert_status(kept, 200)
        self.assert_headers(kept, {"Docker-Content-Digest": re.escape(other_digest)})

        again = self.send("DELETE", f"/v2/{repo}/manifests/{digest}")
        self.assert_status(again, 404, ["MANIFEST_UNKNOWN"])

    def test_manifest_delete_by_tag(self):
        repo = "diff/manifest-untag"
        manifest, digest = self.push_image_to_both(repo, "keep")
        self.put_manifest(repo, "drop", manifest, OCI_MANIFEST)

        untagged = self.send("DELETE", f"/v2/{repo}/manifests/drop")
        self.assert_exception("manifest-delete-by-tag", untagged, berthd_status=202, distribution_status=400)
        self.assertEqual(untagged.registry.error_codes(), ["DIGEST_INVALID"], untagged.registry)

        accept = {"Accept": ACCEPT_MANIFESTS}
        self.assertEqual(self.send_to_berthd("GET", f"/v2/{repo}/manifests/drop", headers=accept).status, 404)
        self.assertEqual(self.registry.request("GET", f"/v2/{repo}/manifests/drop",
                                               headers=self.with_credentials(accept)).status, 200)
        kept = self.send("GET", f"/v2/{repo}/manifests/keep", headers=accept)
        self.assert_status(kept, 200)
        by_digest = self.send("GET", f"/v2/{repo}/manifests/{digest}", headers=accept)
        self.assert_status(by_digest, 200)
        self.assertEqual(self.send_to_berthd("GET", f"/v2/{repo}/tags/list").json()["tags"], ["keep"])

    # ================================================================ tags and catalog

    def test_tags_list_pagination(self):
        repo = "diff/tags"
        manifest, _ = self.push_image_to_both(repo, "b")
        for tag in ("a", "d", "c", "e"):
            self.put_manifest(repo, tag, manifest, OCI_MANIFEST)
        every_tag = ["a", "b", "c", "d", "e"]

        listed = self.tags(repo)
        self.assertEqual(listed.berthd.json()["tags"], every_tag, listed.berthd)
        self.assertEqual(sorted(listed.registry.json()["tags"]), every_tag, listed.registry)
        self.assertNotIn("Link", listed.berthd.headers, listed.berthd)

        # Entries are (query, berthd's page, berthd's next Link or None). distribution ignores n and last.
        pages = [
            ("?n=2", ["a", "b"], f'</v2/{repo}/tags/list?last=b&n=2>; rel="next"'),
            ("?n=2&last=b", ["c", "d"], f'</v2/{repo}/tags/list?last=d&n=2>; rel="next"'),
            ("?n=2&last=d", ["e"], None),
            ("?last=c", ["d", "e"], None),
            ("?n=5", every_tag, None),
            ("?n=0", [], None),
        ]
        for query, page, link in pages:
            with self.subTest(query=query):
                listed = self.tags(repo, query)
                self.assertEqual(listed.berthd.json()["tags"], page, listed.berthd)
                self.assertEqual(listed.berthd.header("Link"), link, listed.berthd)
                self.assertEqual(sorted(listed.registry.json()["tags"]), every_tag,
                                 f"docker-registry no longer behaves as SPEC_EXCEPTIONS['tags-pagination'] "
                                 f"describes: {listed.registry!r}")
                self.assertIsNone(listed.registry.header("Link"), listed.registry)

        invalid = self.send("GET", f"/v2/{repo}/tags/list?n=x")
        self.assert_exception("pagination-invalid-n", invalid, berthd_status=400, distribution_status=200)
        self.assertEqual(sorted(invalid.registry.json()["tags"]), every_tag, invalid.registry)

        # A client that follows Link from the first page receives every tag exactly once.
        seen, next_path = [], f"/v2/{repo}/tags/list?n=2"
        while next_path:
            page = self.send_to_berthd("GET", next_path)
            self.assertEqual(page.status, 200, page)
            seen.extend(page.json()["tags"])
            link = page.header("Link")
            next_path = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
        self.assertEqual(seen, every_tag)

    def test_tags_list_empty_and_unknown(self):
        repo = "diff/tags-empty"
        _, digest = self.push_image_to_both(repo, "only")
        self.assert_status(self.send("DELETE", f"/v2/{repo}/manifests/{digest}"), 202)

        listed = self.tags(repo)
        self.assertEqual(listed.berthd.json()["tags"], [], listed.berthd)
        self.assertIsNone(listed.registry.json()["tags"],
                          f"docker-registry no longer behaves as SPEC_EXCEPTIONS['tags-empty-list'] describes")

        unknown = self.send("GET", "/v2/diff/never-pushed/tags/list")
        self.assert_status(unknown, 404, ["NAME_UNKNOWN"])

    def test_catalog_pagination(self):
        # Nothing else in this file creates a repository that sorts between "diff-catalog" and these.
        names = ["diff-catalog/one", "diff-catalog/three", "diff-catalog/two"]
        for name in names:
            self.push_blob_to_both(name, b"catalog entry")

        first = self.send("GET", "/v2/_catalog?n=2&last=diff-catalog")
        self.assert_status(first, 200)
        for name, response in zip(Pair._fields, first):
            self.assertEqual(media_type(response.header("Content-Type")), "application/json", f"{name}: {response!r}")
            self.assertEqual(response.json()["repositories"], names[:2], f"{name}: {response!r}")
        self.assert_headers(first, {"Link": r'</v2/_catalog\?last=[^&>]+&n=2>; rel="next"'})

        next_targets = []
        for name, response in zip(Pair._fields, first):
            target = re.fullmatch(r'<([^>]+)>; rel="next"', response.header("Link")).group(1)
            parts = urllib.parse.urlsplit(target)
            self.assertEqual(urllib.parse.parse_qs(parts.query), {"last": [names[1]], "n": ["2"]}, f"{name}: {target}")
            next_targets.append(target)

        second = self.send("GET", Pair(*next_targets))
        self.assert_status(second, 200)
        for name, response in zip(Pair._fields, second):
            self.assertEqual(response.json()["repositories"][0], names[2], f"{name}: {response!r}")

        invalid = self.send("GET", "/v2/_catalog?n=x")
        self.assert_exception("pagination-invalid-n", invalid, berthd_status=400, distribution_status=200)

        empty = self.send("GET", "/v2/_catalog?n=0")
        self.assert_status(empty, 200)
        for name, response in zip(Pair._fields, empty):
            self.assertEqual(response.json()["repositories"], [], f"{name}: {response!r}")
            self.assertIsNone(response.header("Link"), f"{name}: {response!r}")

        # The catalog order is not specified, and distribution sorts by path component ("diff" before
        # "diff-catalog"), so each server is only checked against itself: following Link from the
        # first page must return the unpaginated list.
        everything = self.send("GET", "/v2/_catalog")
        self.assert_status(everything, 200)
        for name, server, response in zip(Pair._fields, self.servers, everything):
            repositories = response.json()["repositories"]
            self.assertTrue(set(names) <= set(repositories), f"{name}: {response!r}")
            self.assertEqual(self.walk_catalog(server, page_size=2), repositories, f"{name}: {response!r}")

    def walk_catalog(self, server, page_size):
        """Return the catalog of `server` as a client receives it by following Link headers."""
        seen, next_path = [], f"/v2/_catalog?n={page_size}"
        while next_path:
            page = server.request("GET", next_path, headers=self.with_credentials(None))
            self.assertEqual(page.status, 200, page)
            seen.extend(page.json()["repositories"])
            link = page.header("Link")
            next_path = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
        return seen

    # ================================================================ referrers

    def test_referrers(self):
        repo = "diff/referrers"
        empty_digest = self.push_blob_to_both(repo, b"{}")
        config = b'{"architecture":"amd64","os":"linux","referrers":true}'
        config_digest = self.push_blob_to_both(repo, config)
        subject = image_manifest(config_digest, len(config), [])
        subject_digest = sha256_digest(subject)
        subject_descriptor = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject)}

        def artifact(artifact_type, note):
            return json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": {"mediaType": OCI_EMPTY, "digest": empty_digest, "size": 2},
                "layers": [{"mediaType": OCI_EMPTY, "digest": empty_digest, "size": 2}],
                "subject": subject_descriptor, "annotations": {"org.example.note": note},
            }).encode()

        sbom = artifact("application/vnd.example.sbom.v1", "sbom")
        signature = artifact("application/vnd.example.signature.v1", "signature")
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [],
                            "subject": subject_descriptor,
                            "annotations": {"org.example.note": "index"}}).encode()

        # The referrers go first: the subject does not exist yet.
        for body, content_type in ((sbom, OCI_MANIFEST), (signature, OCI_MANIFEST), (index, OCI_INDEX)):
            with self.subTest(referrer=json.loads(body).get("artifactType", "index")):
                pushed = self.put_manifest(repo, sha256_digest(body), body, content_type)
                self.assertIsNone(pushed.registry.header("OCI-Subject"),
                                  "docker-registry no longer behaves as SPEC_EXCEPTIONS['oci-subject-header'] describes")
                self.assertEqual(pushed.berthd.header("OCI-Subject"), subject_digest,
                                 f"berthd breaks SPEC_EXCEPTIONS['oci-subject-header']: {pushed.berthd!r}")
        self.put_manifest(repo, "subject", subject, OCI_MANIFEST)

        expected = [
            {"mediaType": OCI_MANIFEST, "digest": sha256_digest(sbom), "size": len(sbom),
             "artifactType": "application/vnd.example.sbom.v1", "annotations": {"org.example.note": "sbom"}},
            {"mediaType": OCI_MANIFEST, "digest": sha256_digest(signature), "size": len(signature),
             "artifactType": "application/vnd.example.signature.v1",
             "annotations": {"org.example.note": "signature"}},
            {"mediaType": OCI_INDEX, "digest": sha256_digest(index), "size": len(index),
             "annotations": {"org.example.note": "index"}},
        ]

        def by_digest(descriptors):
            return sorted(descriptors, key=lambda descriptor: descriptor["digest"])

        listed = self.send("GET", f"/v2/{repo}/referrers/{subject_digest}")
        self.assert_exception("referrers-api", listed, berthd_status=200, distribution_status=404)
        self.assertEqual(listed.berthd.header("Content-Type"), OCI_INDEX, listed.berthd)
        document = listed.berthd.json()
        self.assertEqual(document["schemaVersion"], 2, listed.berthd)
        self.assertEqual(document["mediaType"], OCI_INDEX, listed.berthd)
        self.assertEqual(by_digest(document["manifests"]), by_digest(expected), listed.berthd)

        filtered = self.send("GET", f"/v2/{repo}/referrers/{subject_digest}"
                                    "?artifactType=application/vnd.example.signature.v1")
        self.assert_exception("referrers-api", filtered, berthd_status=200, distribution_status=404)
        self.assertEqual(filtered.berthd.header("OCI-Filters-Applied"), "artifactType", filtered.berthd)
        self.assertEqual(filtered.berthd.json()["manifests"], [expected[1]], filtered.berthd)

        unknown = self.send("GET", f"/v2/{repo}/referrers/{sha256_digest(b'nothing refers to this')}")
        self.assert_exception("referrers-api", unknown, berthd_status=200, distribution_status=404)
        self.assertEqual(unknown.berthd.header("Content-Type"), OCI_INDEX, unknown.berthd)
        self.assertEqual(unknown.berthd.json(), {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []},
                         unknown.berthd)

        malformed = self.send("GET", f"/v2/{repo}/referrers/sha256:bad")
        self.assert_exception("referrers-api", malformed, berthd_status=400, distribution_status=404)
        self.assertEqual(malformed.berthd.error_codes(), ["DIGEST_INVALID"], malformed.berthd)

        # A deleted referrer leaves the list.
        self.assert_status(self.send("DELETE", f"/v2/{repo}/manifests/{sha256_digest(signature)}"), 202)
        listed = self.send_to_berthd("GET", f"/v2/{repo}/referrers/{subject_digest}")
        self.assertEqual(by_digest(listed.json()["manifests"]), by_digest([expected[0], expected[2]]), listed)

    # ================================================================ routing

    def test_unknown_routes_and_methods(self):
        repo = "diff/routes"
        self.push_image_to_both(repo, "latest")
        for case in ROUTE_CASES:
            path = case.path.format(repo=repo)
            with self.subTest(request=f"{case.method} {path}"):
                responses = self.send(case.method, path, body=b"" if case.method in ("PUT", "POST", "PATCH") else None)
                self.assertEqual(responses.berthd.status, case.berthd_status, responses.berthd)
                self.assertEqual(responses.registry.status, case.distribution_status, responses.registry)
                self.assertEqual(media_type(responses.registry.header("Content-Type")),
                                 case.distribution_content_type, responses.registry)
                if case.berthd_status == 405:
                    allowed = {method.strip() for method in (responses.berthd.header("Allow") or "").split(",")}
                    self.assertNotIn(case.method, allowed, responses.berthd)
                    self.assertTrue(allowed - {""}, f"berthd sent no Allow header with 405: {responses.berthd!r}")
                if case.berthd_status == case.distribution_status == 405:
                    self.assert_same_allow(responses)

        wrong_method = self.send("POST", "/v2/", body=b"")
        self.assert_exception("base-wrong-method", wrong_method, berthd_status=405, distribution_status=200)
        self.assertEqual(wrong_method.berthd.error_codes(), ["UNSUPPORTED"], wrong_method.berthd)

        for method, path in (("GET", "/v2/UPPER/tags/list"), ("POST", "/v2/UPPER/blobs/uploads/"),
                             ("GET", "/v2/a..b/manifests/latest")):
            with self.subTest(request=f"{method} {path}"):
                invalid = self.send(method, path, body=b"" if method == "POST" else None)
                self.assert_exception("repository-name-invalid", invalid, berthd_status=400, distribution_status=404)
                self.assertEqual(invalid.berthd.error_codes(), ["NAME_INVALID"], invalid.berthd)

    def assert_same_allow(self, responses):
        allowed = Pair(*({method.strip() for method in (response.header("Allow") or "").split(",")}
                         for response in responses))
        self.assertEqual(allowed.berthd, allowed.registry, f"Allow differs: {responses!r}")


if __name__ == "__main__":
    unittest.main()
