"""Bad input gets the spec's error code and status and changes nothing."""

import json
import os
import socket
import time

from harness import BerthdTestCase, image_manifest, push_blob, push_image, sha256_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class BadInputTest(BerthdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Requests on raw sockets skip the harness, which creates namespaces on first use.
        cls.berthd.create_namespace("badinput")

    def setUp(self):
        self.catalog_before = self.catalog()

    def catalog(self):
        return self.berthd.request("GET", "/v2/_catalog?n=1000").json()["repositories"]

    def assert_error(self, response, status, code):
        self.assertEqual(response.status, status, response)
        self.assertEqual(response.header("Content-Type"), "application/json")
        self.assertIn(code, response.error_codes(), response)
        for entry in response.json()["errors"]:
            self.assertTrue(entry["message"], "every error needs a message a person can act on")

    def assert_store_clean(self):
        result = self.berthd.admin("verify")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("store is clean", result.stdout)

    def upload_dirs(self):
        return os.listdir(self.berthd.data_dir / "uploads")

    # --- Repository names -------------------------------------------------

    def test_invalid_names_rejected_everywhere(self):
        names = {
            "uppercase": "Library/busybox",
            "dot_dot": "library/../busybox",
            "empty_component": "library//busybox",
            "leading_separator": "library/-busybox",
            "too_long": "a" * 256,
            "too_long_in_namespace": "badinput/" + "a" * 247,
        }
        for case, name in names.items():
            with self.subTest(case=case):
                self.assert_error(self.berthd.request("POST", f"/v2/{name}/blobs/uploads/"), 400, "NAME_INVALID")
                self.assert_error(self.berthd.request("GET", f"/v2/{name}/tags/list"), 400, "NAME_INVALID")
                self.assertEqual(self.berthd.request("HEAD", f"/v2/{name}/manifests/latest").status, 400)
                manifest = image_manifest(sha256_digest(b"{}"), 2, [])
                self.assert_error(self.berthd.request("PUT", f"/v2/{name}/manifests/latest", body=manifest,
                                                      headers={"Content-Type": OCI_MANIFEST}), 400, "NAME_INVALID")
        self.assertEqual(self.catalog(), self.catalog_before)
        self.assertEqual(self.upload_dirs(), [])

    def test_name_of_255_characters_accepted(self):
        # A namespace has at most 30 characters, so the length is in the components after it.
        name = "/".join(["badinput", "b" * 127, "c" * 118])
        self.assertEqual(len(name), 255)
        response = self.berthd.request("POST", f"/v2/{name}/blobs/uploads/")
        self.assertEqual(response.status, 202, response)
        self.berthd.request("DELETE", response.header("Location"))

    # --- Tags --------------------------------------------------------------

    def test_invalid_tags_rejected(self):
        config = push_blob(self.berthd, "badinput/tags", b"{}")
        manifest = image_manifest(config, 2, [])
        for case, tag in {"130_chars": "t" * 130, "leading_dot": ".hidden", "leading_dash": "-x"}.items():
            with self.subTest(case=case):
                response = self.berthd.request("PUT", f"/v2/badinput/tags/manifests/{tag}", body=manifest,
                                               headers={"Content-Type": OCI_MANIFEST})
                self.assert_error(response, 400, "TAG_INVALID")
        self.assertEqual(self.berthd.request("GET", "/v2/badinput/tags/tags/list").json()["tags"], [])
        self.assertEqual(self.berthd.request("GET", f"/v2/badinput/tags/manifests/{sha256_digest(manifest)}").status, 404)

    def test_tag_of_128_characters_accepted(self):
        config = push_blob(self.berthd, "badinput/longtag", b"{}")
        manifest = image_manifest(config, 2, [])
        tag = "t" * 128
        response = self.berthd.request("PUT", f"/v2/badinput/longtag/manifests/{tag}", body=manifest,
                                       headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(response.status, 201, response)

    # --- Manifests ----------------------------------------------------------

    def put_manifest(self, name, reference, body, content_type=OCI_MANIFEST):
        return self.berthd.request("PUT", f"/v2/{name}/manifests/{reference}", body=body,
                                   headers={"Content-Type": content_type})

    def assert_no_manifest(self, name, body):
        response = self.berthd.request("GET", f"/v2/{name}/manifests/{sha256_digest(body)}")
        self.assertEqual(response.status, 404, response)

    def test_malformed_json_manifest(self):
        body = b'{"schemaVersion": 2, "config": '
        self.assert_error(self.put_manifest("badinput/json", "v1", body), 400, "MANIFEST_INVALID")
        self.assert_no_manifest("badinput/json", body)
        self.assertNotIn("badinput/json", self.catalog())

    def test_unknown_manifest_media_type(self):
        config = push_blob(self.berthd, "badinput/mediatype", b"{}")
        body = image_manifest(config, 2, [])
        response = self.put_manifest("badinput/mediatype", "v1", body, content_type="application/vnd.example.unknown+json")
        self.assert_error(response, 400, "MANIFEST_INVALID")
        self.assert_no_manifest("badinput/mediatype", body)

    def test_schema1_manifest_rejected(self):
        body = json.dumps({"schemaVersion": 1, "name": "badinput/schema1", "tag": "v1", "fsLayers": []}).encode()
        response = self.put_manifest("badinput/schema1", "v1", body,
                                     content_type="application/vnd.docker.distribution.manifest.v1+prettyjws")
        self.assert_error(response, 400, "MANIFEST_INVALID")
        self.assertIn("schema 1", response.json()["errors"][0]["message"])

    def test_missing_referenced_blob(self):
        config = push_blob(self.berthd, "badinput/missing", b"{}")
        absent = sha256_digest(b"never uploaded")
        body = image_manifest(config, 2, [(absent, 14)])
        response = self.put_manifest("badinput/missing", "v1", body)
        self.assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(response.json()["errors"][0]["detail"], {"digest": absent})
        self.assert_no_manifest("badinput/missing", body)
        self.assertEqual(self.berthd.request("GET", "/v2/badinput/missing/tags/list").json()["tags"], [])

    def test_blob_of_other_repository_not_usable(self):
        layer = push_blob(self.berthd, "badinput/owner", b"layer of another repository")
        config = push_blob(self.berthd, "badinput/borrower", b"{}")
        body = image_manifest(config, 2, [(layer, 27)])
        self.assert_error(self.put_manifest("badinput/borrower", "v1", body), 400, "MANIFEST_BLOB_UNKNOWN")

    def test_manifest_digest_mismatch_in_url(self):
        config = push_blob(self.berthd, "badinput/urldigest", b"{}")
        body = image_manifest(config, 2, [])
        wrong = sha256_digest(b"something else")
        self.assert_error(self.put_manifest("badinput/urldigest", wrong, body), 400, "DIGEST_INVALID")
        self.assert_no_manifest("badinput/urldigest", body)

    def test_manifest_of_5_mib_rejected(self):
        config = push_blob(self.berthd, "badinput/huge", b"{}")
        padding = "x" * (5 * 1024 * 1024)
        body = image_manifest(config, 2, [], extra={"annotations": {"padding": padding}})
        response = self.put_manifest("badinput/huge", "v1", body)
        self.assert_error(response, 413, "MANIFEST_INVALID")
        self.assert_no_manifest("badinput/huge", body)
        # The server stays usable after closing that connection.
        self.assertEqual(self.berthd.request("GET", "/v2/").status, 200)

    def test_manifest_just_under_limit_accepted(self):
        config = push_blob(self.berthd, "badinput/large", b"{}")
        empty = image_manifest(config, 2, [], extra={"annotations": {"padding": ""}})
        padding = "x" * (4 * 1024 * 1024 - len(empty))
        body = image_manifest(config, 2, [], extra={"annotations": {"padding": padding}})
        self.assertEqual(len(body), 4 * 1024 * 1024)
        self.assertEqual(self.put_manifest("badinput/large", "v1", body).status, 201)

    # --- Digests and uploads ------------------------------------------------

    def start_upload(self, name):
        response = self.berthd.request("POST", f"/v2/{name}/blobs/uploads/")
        self.assertEqual(response.status, 202, response)
        return response.header("Location")

    def test_wrong_digest_stores_nothing(self):
        location = self.start_upload("badinput/wrongdigest")
        claimed = sha256_digest(b"other content")
        response = self.berthd.request("PUT", f"{location}?digest={claimed}", body=b"actual content")
        self.assert_error(response, 400, "DIGEST_INVALID")
        self.assertEqual(self.berthd.request("HEAD", f"/v2/badinput/wrongdigest/blobs/{claimed}").status, 404)
        actual = sha256_digest(b"actual content")
        self.assertEqual(self.berthd.request("HEAD", f"/v2/badinput/wrongdigest/blobs/{actual}").status, 404)
        # The failed session is gone with its data.
        self.assert_error(self.berthd.request("GET", location), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertEqual(self.upload_dirs(), [])

    def test_malformed_digests(self):
        for case, digest in {"no_algorithm": "abc", "short_hex": "sha256:abc", "upper_hex": "sha256:" + "A" * 64,
                             "unknown_algorithm": "md5:" + "a" * 32, "totallywrong": "sha256:totallywrong"}.items():
            with self.subTest(case=case):
                self.assert_error(self.berthd.request("GET", f"/v2/badinput/digests/blobs/{digest}"), 400, "DIGEST_INVALID")
                location = self.start_upload("badinput/digests")
                response = self.berthd.request("PUT", f"{location}?digest={digest}", body=b"data")
                self.assert_error(response, 400, "DIGEST_INVALID")
                self.berthd.request("DELETE", location)
        response = self.berthd.request("POST", "/v2/badinput/digests/blobs/uploads/?digest=sha256:nope", body=b"data")
        self.assert_error(response, 400, "DIGEST_INVALID")
        self.assertEqual(self.upload_dirs(), [])

    def test_missing_digest_parameter(self):
        location = self.start_upload("badinput/nodigest")
        self.assert_error(self.berthd.request("PUT", location, body=b"data"), 400, "DIGEST_INVALID")
        self.berthd.request("DELETE", location)

    def send_truncated(self, path, declared_length, sent):
        """Sends a request announcing `declared_length` body bytes, sends
        only `sent`, then closes the connection."""
        with socket.create_connection((self.berthd.host, self.berthd.port), timeout=30) as connection:
            connection.sendall(f"PATCH {path} HTTP/1.1\r\nHost: {self.berthd.address}\r\n"
                               f"Authorization: {self.berthd.basic_auth()}\r\n"
                               f"Content-Type: application/octet-stream\r\n"
                               f"Content-Length: {declared_length}\r\n\r\n".encode() + sent)
            connection.shutdown(socket.SHUT_WR)
            connection.recv(65536)

    def test_truncated_upload_visible_as_partial_session_only(self):
        location = self.start_upload("badinput/truncated")
        data = os.urandom(200_000)
        self.send_truncated(location, len(data), data[:50_000])
        digest = sha256_digest(data)

        # Nothing is a blob; the session reports what arrived and continues.
        self.assertEqual(self.berthd.request("HEAD", f"/v2/badinput/truncated/blobs/{digest}").status, 404)
        deadline = time.monotonic() + 10
        while True:
            status = self.berthd.request("GET", location)
            self.assertEqual(status.status, 204, status)
            if status.header("Range") == "0-49999" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(status.header("Range"), "0-49999")
        response = self.berthd.request("PATCH", location, body=data[50_000:],
                                       headers={"Content-Range": f"50000-{len(data) - 1}"})
        self.assertEqual(response.status, 202, response)
        response = self.berthd.request("PUT", f"{location}?digest={digest}")
        self.assertEqual(response.status, 201, response)
        self.assertEqual(self.berthd.request("GET", f"/v2/badinput/truncated/blobs/{digest}").body, data)

    def test_truncated_monolithic_upload_leaves_nothing(self):
        data = os.urandom(100_000)
        digest = sha256_digest(data)
        with socket.create_connection((self.berthd.host, self.berthd.port), timeout=30) as connection:
            connection.sendall(f"POST /v2/badinput/monolithic/blobs/uploads/?digest={digest} HTTP/1.1\r\n"
                               f"Host: {self.berthd.address}\r\nAuthorization: {self.berthd.basic_auth()}\r\n"
                               f"Content-Length: {len(data)}\r\n\r\n".encode()
                               + data[:30_000])
            connection.shutdown(socket.SHUT_WR)
            connection.recv(65536)
        deadline = time.monotonic() + 10
        while self.upload_dirs() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.upload_dirs(), [])
        self.assertEqual(self.berthd.request("HEAD", f"/v2/badinput/monolithic/blobs/{digest}").status, 404)
        self.assertNotIn("badinput/monolithic", self.catalog())

    def test_out_of_order_chunk(self):
        location = self.start_upload("badinput/order")
        first = self.berthd.request("PATCH", location, body=b"a" * 10, headers={"Content-Range": "0-9"})
        self.assertEqual(first.status, 202, first)

        for case, content_range in {"gap": "20-29", "overlap": "5-14", "repeat": "0-9", "malformed": "bytes=10-19"}.items():
            with self.subTest(case=case):
                response = self.berthd.request("PATCH", location, body=b"b" * 10,
                                               headers={"Content-Range": content_range})
                self.assertEqual(response.status, 416, response)
                self.assertEqual(response.header("Range"), "0-9")
                self.assertTrue(response.header("Location"))
        status = self.berthd.request("GET", location)
        self.assertEqual(status.header("Range"), "0-9")
        self.berthd.request("DELETE", location)

    def test_content_range_length_mismatch(self):
        location = self.start_upload("badinput/size")
        response = self.berthd.request("PATCH", location, body=b"a" * 10, headers={"Content-Range": "0-19"})
        self.assert_error(response, 400, "SIZE_INVALID")
        self.assertEqual(self.berthd.request("GET", location).header("Range"), "0-0")
        self.berthd.request("DELETE", location)

    def test_range_beyond_blob(self):
        digest = push_blob(self.berthd, "badinput/range", b"0123456789")
        response = self.berthd.request("GET", f"/v2/badinput/range/blobs/{digest}", headers={"Range": "bytes=10-20"})
        self.assert_error(response, 416, "UNSUPPORTED")
        self.assertEqual(response.header("Content-Range"), "bytes */10")
        response = self.berthd.request("GET", f"/v2/badinput/range/blobs/{digest}", headers={"Range": "bytes=4-100"})
        self.assertEqual(response.status, 206, response)
        self.assertEqual(response.body, b"456789")
        self.assertEqual(response.header("Content-Range"), "bytes 4-9/10")

    def test_unknown_upload_ids(self):
        for upload_id in ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "..%2F..%2Fberth.db"]:
            with self.subTest(upload_id=upload_id):
                path = f"/v2/badinput/ids/blobs/uploads/{upload_id}"
                self.assert_error(self.berthd.request("GET", path), 404, "BLOB_UPLOAD_UNKNOWN")
                self.assert_error(self.berthd.request("PATCH", path, body=b"x"), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_session_of_other_repository_unknown(self):
        location = self.start_upload("badinput/session-a")
        other = location.replace("badinput/session-a", "badinput/session-b")
        self.assert_error(self.berthd.request("PATCH", other, body=b"x"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.berthd.request("DELETE", location)

    def test_unknown_routes_and_methods(self):
        self.assert_error(self.berthd.request("GET", "/v2/badinput/routes/nothing"), 404, "UNSUPPORTED")
        self.assert_error(self.berthd.request("GET", "/v3/"), 404, "UNSUPPORTED")
        response = self.berthd.request("POST", "/v2/badinput/routes/manifests/v1", body=b"")
        self.assert_error(response, 405, "UNSUPPORTED")
        self.assertEqual(response.header("Allow"), "GET, HEAD, PUT, DELETE")

    def test_bad_page_size(self):
        push_image(self.berthd, "badinput/pages", "v1")
        for n in ["-1", "abc", ""]:
            with self.subTest(n=n):
                response = self.berthd.request("GET", f"/v2/badinput/pages/tags/list?n={n}")
                self.assert_error(response, 400, "UNSUPPORTED")
        self.assertEqual(self.berthd.request("GET", "/v2/badinput/pages/tags/list?n=100000000").json()["tags"], ["v1"])

    def test_delete_of_blob_in_use_rejected(self):
        manifest, digest = push_image(self.berthd, "badinput/inuse", "v1", layer_data=b"layer in use")
        layer = sha256_digest(b"layer in use")
        response = self.berthd.request("DELETE", f"/v2/badinput/inuse/blobs/{layer}")
        self.assert_error(response, 405, "UNSUPPORTED")
        self.assertIn(digest, response.json()["errors"][0]["message"])
        self.assertEqual(self.berthd.request("GET", f"/v2/badinput/inuse/blobs/{layer}").body, b"layer in use")

        self.assertEqual(self.berthd.request("DELETE", f"/v2/badinput/inuse/manifests/{digest}").status, 202)
        self.assertEqual(self.berthd.request("DELETE", f"/v2/badinput/inuse/blobs/{layer}").status, 202)
        self.assertEqual(self.berthd.request("HEAD", f"/v2/badinput/inuse/blobs/{layer}").status, 404)

    def test_store_clean_after_bad_input(self):
        self.test_wrong_digest_stores_nothing()
        self.test_missing_referenced_blob()
        self.assert_store_clean()
