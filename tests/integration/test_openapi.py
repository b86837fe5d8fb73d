"""The management API and the Vulnerability Advisor's API against their
OpenAPI document, docs/openapi.yaml.

Every documented operation is called on a running berthd, for success and
for its error statuses. Each response must have a status that the document
lists for the operation, and its headers and body must match the
document's schema for that status (JSON Schema 2020-12, checked with
jsonschema). The reverse direction is checked too: each documented path
responds to other methods with 405 and an Allow header that lists exactly
the documented methods. tests/unit/openapi_routes_test.cc compares the
document with the server's route table."""

import base64
import datetime
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
from pathlib import Path

import jsonschema
import yaml

from harness import (FIXTURES, ROOT, Berthd, image_manifest, push_blob, push_image, remove_manifest_row,
                     sha256_digest)

DOCUMENT_PATH = ROOT / "docs" / "openapi.yaml"

# The methods an OpenAPI path item can define, as HTTP spells them.
HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")

# Statuses that every operation with credentials lists, and that the tests
# below cover for all operations at once, not in each operation's own test.
# A 500 cannot be caused from outside the server, so no test covers it.
SHARED_STATUSES = {401, 429, 500}
UNTESTABLE_STATUSES = {500}

# The unit of the quotas that updateQuota sets, in bytes.
MEGABYTE = 1048576


class OpenApiDocument:
    """docs/openapi.yaml, with lookups by operationId and schema validation."""

    def __init__(self, path):
        self.path = Path(path)
        self.root = yaml.safe_load(self.path.read_text())
        self.operations = {}
        for template, item in self.root["paths"].items():
            for method in HTTP_METHODS:
                operation = item.get(method.lower())
                if operation is not None:
                    self.operations[operation["operationId"]] = (method, template, operation)

    def is_public(self, operation_id):
        """True if the operation needs no credentials (`security: []`)."""
        _, _, operation = self.operations[operation_id]
        return operation.get("security", self.root.get("security")) == []

    def shared_statuses(self, operation_id):
        return UNTESTABLE_STATUSES if self.is_public(operation_id) else SHARED_STATUSES

    def methods_of(self, template):
        item = self.root["paths"][template]
        return {method for method in HTTP_METHODS if method.lower() in item}

    def resolve(self, node):
        """Follow a local $ref such as #/components/responses/Unauthorized."""
        while isinstance(node, dict) and "$ref" in node:
            reference = node["$ref"]
            if not reference.startswith("#/"):
                raise ValueError(f"only local references are supported, not {reference}")
            node = self.root
            for part in reference[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def validator(self, schema):
        """A Draft 2020-12 validator for a schema of the document. The schema
        is wrapped in a root that carries the document's components, so its
        references into #/components resolve."""
        wrapper = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                   "allOf": [schema], "components": self.root["components"]}
        return jsonschema.Draft202012Validator(wrapper)

    def response_spec(self, operation_id, status):
        """The response object for a status, or None if it is not listed."""
        _, _, operation = self.operations[operation_id]
        spec = operation["responses"].get(str(status))
        return None if spec is None else self.resolve(spec)

    def request_schema(self, operation_id):
        _, _, operation = self.operations[operation_id]
        body = self.resolve(operation.get("requestBody"))
        if body is None:
            return None
        return body["content"]["application/json"]["schema"]


DOCUMENT = OpenApiDocument(DOCUMENT_PATH)


def operation_test_name(operation_id):
    """The test that exercises an operation: createApiKey -> test_create_api_key."""
    snake = "".join("_" + c.lower() if c.isupper() else c for c in operation_id)
    return "test_" + snake


def sample_params(template):
    """Values for a path template's parameters, for requests that fail before
    the parameter matters."""
    values = {"name": "sample", "id": "sample", "image": "sample/image:tag", "namespace": "sample"}
    return {name: value for name, value in values.items() if "{" + name + "}" in template}


def schema_errors(validator, instance):
    return "; ".join(f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
                     for error in validator.iter_errors(instance))


class DocumentTest(unittest.TestCase):
    """The document itself, without a server."""

    def test_valid_openapi_document(self):
        try:
            from openapi_spec_validator import validate
        except ImportError:
            self.skipTest("openapi-spec-validator is not installed for this Python")
        validate(DOCUMENT.root)

    def test_openapi_version_is_3_1(self):
        self.assertRegex(DOCUMENT.root["openapi"], r"^3\.1\.\d+$")

    def test_component_schemas_are_valid(self):
        for name, schema in DOCUMENT.root["components"]["schemas"].items():
            with self.subTest(schema=name):
                jsonschema.Draft202012Validator.check_schema(schema)

    def test_every_reference_resolves(self):
        def walk(node, where):
            if isinstance(node, dict):
                if "$ref" in node:
                    with self.subTest(at=where, ref=node["$ref"]):
                        DOCUMENT.resolve(node)
                for key, value in node.items():
                    walk(value, f"{where}/{key}")
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    walk(value, f"{where}/{index}")

        walk(DOCUMENT.root, "")

    def test_every_path_has_a_served_prefix(self):
        for template in DOCUMENT.root["paths"]:
            with self.subTest(path=template):
                self.assertTrue(template.startswith(("/api/v1/", "/va/api/v4/")))

    def test_operations_list_shared_statuses(self):
        for operation_id in DOCUMENT.operations:
            for status in DOCUMENT.shared_statuses(operation_id):
                with self.subTest(operation=operation_id, status=status):
                    self.assertIsNotNone(DOCUMENT.response_spec(operation_id, status))

    def test_error_responses_use_error_schema(self):
        generic = DOCUMENT.validator({"$ref": "#/components/schemas/Error"})
        sample = {"errors": [{"code": "UNKNOWN", "message": "m"}]}
        self.assertTrue(generic.is_valid(sample))
        for operation_id, (_, _, operation) in DOCUMENT.operations.items():
            for status in operation["responses"]:
                if int(status) < 400:
                    continue
                spec = DOCUMENT.response_spec(operation_id, status)
                with self.subTest(operation=operation_id, status=status):
                    schema = spec["content"]["application/json"]["schema"]
                    # An error schema that accepts a body without "errors" is
                    # not the registry's error shape.
                    self.assertFalse(DOCUMENT.validator(schema).is_valid({"message": "m"}))


class ConformanceTestCase(unittest.TestCase):
    """Starts a berthd for the class, calls documented operations on it and
    checks each response against the document."""

    # BERTH_* settings of the class's berthd.
    berthd_env = {}

    @classmethod
    def setUpClass(cls):
        cls.workdir = Path(tempfile.mkdtemp(prefix="berth-openapi-"))
        try:
            cls.berthd = Berthd(cls.workdir / "data", env=cls.berthd_env).start()
        except Exception:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise
        cls.manager_key = cls.berthd.api_key
        try:
            cls.set_up_server()
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails.
            cls.tearDownClass()
            raise

    @classmethod
    def set_up_server(cls):
        """Creates what the class's tests need in its berthd."""
        cls.create_identities()

    @classmethod
    def tearDownClass(cls):
        cls.berthd.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def setUp(self):
        # The statuses this test method has seen, per operationId.
        self.seen = {}

    def assert_account_mismatch_denied(self, operation_id, path_params=None):
        response = self.call(operation_id, path_params, headers={"Account": "not-" + self.account_id}, expect=403)
        self.assertEqual(response.error_codes(), ["DENIED"])

    def call(self, operation_id, path_params=None, query=None, body=None, raw_body=None, key=None,
             headers=None, auth=True, expect=None, check_request=True, server=None):
        """Sends the operation's request and checks the response against the
        document; returns the harness Response. `body` is sent as JSON and,
        with `check_request`, must match the documented request schema.
        `raw_body` is sent as it is. `expect` is the status the test needs.
        `server` is the class's berthd unless given."""
        server = server or self.berthd
        method, template, _ = DOCUMENT.operations[operation_id]
        path = template
        for name, value in (path_params or {}).items():
            path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
        self.assertNotIn("{", path, f"{operation_id}: a path parameter has no value")
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)

        headers = dict(headers or {})
        if auth and "Authorization" not in headers:
            headers["Authorization"] = server.basic_auth(key or server.api_key)
        data = raw_body
        if body is not None:
            if check_request:
                schema = DOCUMENT.request_schema(operation_id)
                self.assertIsNotNone(schema, f"{operation_id} documents no request body")
                validator = DOCUMENT.validator(schema)
                self.assertTrue(validator.is_valid(body),
                                f"{operation_id}: the test's request body {body} does not match the document: "
                                f"{schema_errors(validator, body)}")
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        response = server.request(method, path, body=data, headers=headers, auth=False)

        self.check_response(operation_id, method, path, response)
        if expect is not None:
            self.assertEqual(response.status, expect, f"{method} {path}: {response}")
        return response

    def check_response(self, operation_id, method, path, response):
        spec = DOCUMENT.response_spec(operation_id, response.status)
        self.assertIsNotNone(spec, f"{operation_id} ({method} {path}) returned {response.status}, which "
                                   f"docs/openapi.yaml does not list: {response}")
        self.seen.setdefault(operation_id, set()).add(response.status)

        for name, header in spec.get("headers", {}).items():
            header = DOCUMENT.resolve(header)
            value = response.header(name)
            if header.get("required"):
                self.assertIsNotNone(value, f"{operation_id} {response.status} lacks the header {name}")
            if value is None:
                continue
            schema = header["schema"]
            instance = int(value) if schema.get("type") == "integer" else value
            validator = DOCUMENT.validator(schema)
            self.assertTrue(validator.is_valid(instance), f"{operation_id} {response.status} header {name}: "
                                                          f"{value!r}: {schema_errors(validator, instance)}")

        content = spec.get("content")
        if content is None or method == "HEAD":
            self.assertEqual(response.body, b"", f"{operation_id} {response.status} documents no body")
            return
        media_type = (response.header("Content-Type") or "").split(";")[0].strip()
        self.assertIn(media_type, content, f"{operation_id} {response.status}: Content-Type {media_type!r} "
                                           f"is not documented")
        schema = content[media_type].get("schema")
        if schema is None:
            return
        body = response.json()
        validator = DOCUMENT.validator(schema)
        self.assertTrue(validator.is_valid(body), f"{operation_id} {response.status} body {body}: "
                                                  f"{schema_errors(validator, body)}")

    def percent_escape_error(self, operation_id):
        """Sends the operation with a malformed percent-escape in its path
        parameter, which call() would encode; returns the checked 400."""
        method, template, _ = DOCUMENT.operations[operation_id]
        path = template
        for name in sample_params(template):
            path = path.replace("{" + name + "}", "bad%zzescape")
        response = self.berthd.request(method, path)
        self.check_response(operation_id, method, path, response)
        self.assertEqual(response.status, 400, response)
        return response

    def assert_denied_with_detail(self, response, namespace, action):
        self.assertEqual(response.error_codes(), ["DENIED"])
        self.assertEqual(response.json()["errors"][0]["detail"],
                         {"namespace": namespace, "action": "container-registry." + action})

    def assert_statuses_covered(self, operation_id):
        """Fails unless the test saw every documented status of the operation
        except the shared ones, which other tests cover."""
        _, _, operation = DOCUMENT.operations[operation_id]
        documented = {int(status) for status in operation["responses"]}
        missing = documented - DOCUMENT.shared_statuses(operation_id) - self.seen.get(operation_id, set())
        self.assertEqual(missing, set(), f"{operation_id}: documented statuses the test never saw")

    @classmethod
    def admin(cls, *args):
        result = cls.berthd.admin(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    @classmethod
    def create_account_with_manager(cls, account):
        """Creates an account whose user "boss" is Manager, with the offline
        admin commands, and returns the user's API key."""
        cls.admin("account-create", account)
        cls.admin("user-create", "boss", "--account", account)
        cls.admin("policy-add", "--account", account, "--user", "boss", "--role", "Manager")
        output = cls.admin("apikey-create", "--account", account, "--user", "boss", "--name", "tests")
        return output.strip().splitlines()[-1]

    @classmethod
    def create_identities(cls):
        """Creates a second account and a service ID without policies."""
        cls.other_key = cls.create_account_with_manager("otheracct")
        # Before the tests create more, the initial key is the only one.
        keys = cls.berthd.request("GET", "/api/v1/iam/apikeys", headers={"Authorization": cls.berthd.basic_auth()})
        assert keys.status == 200, keys
        assert len(keys.json()) == 1, keys
        cls.manager_iam_id = keys.json()[0]["iam_id"]
        # A service ID with no policies: it may log in and manage its own
        # keys, and nothing else. The operations used here are checked
        # against the document by their own tests.
        manager = {"Authorization": cls.berthd.basic_auth(), "Content-Type": "application/json"}
        created = cls.berthd.request("POST", "/api/v1/iam/serviceids", body=b'{"name":"plain"}', headers=manager)
        assert created.status == 201, created
        cls.plain_iam_id = created.json()["iam_id"]
        key = cls.berthd.request("POST", "/api/v1/iam/apikeys", headers=manager,
                                 body=json.dumps({"name": "plain-key", "iam_id": cls.plain_iam_id}).encode())
        assert key.status == 201, key
        cls.plain_key_id, cls.plain_key = key.json()["id"], key.json()["apikey"]
        cls.account_id = key.json()["account_id"]

    @classmethod
    def service_id_key_for_class(cls, name, role, namespace):
        """A service ID with one role on a namespace; returns its API key."""
        manager = {"Authorization": cls.berthd.basic_auth(), "Content-Type": "application/json"}
        created = cls.berthd.request("POST", "/api/v1/iam/serviceids", headers=manager,
                                     body=json.dumps({"name": name}).encode())
        assert created.status == 201, created
        iam_id = created.json()["iam_id"]
        policy = cls.berthd.request("POST", "/api/v1/iam/policies", headers=manager,
                                    body=json.dumps({"iam_id": iam_id, "role": role, "namespace": namespace}).encode())
        assert policy.status == 201, policy
        key = cls.berthd.request("POST", "/api/v1/iam/apikeys", headers=manager,
                                 body=json.dumps({"name": name + "-key", "iam_id": iam_id}).encode())
        assert key.status == 201, key
        return key.json()["apikey"]

    @classmethod
    def skopeo_copy(cls, fixture, target, key, all_images=False):
        """Copies a fixture layout's tag into berthd with skopeo, logged in
        with `key` through an auth file, so the key stays out of the
        process list."""
        auth_file = cls.workdir / f"auth-{sha256_digest(key.encode())[7:19]}.json"
        credentials = base64.b64encode(f"iamapikey:{key}".encode()).decode()
        auth_file.write_text(json.dumps({"auths": {cls.berthd.address: {"auth": credentials}}}))
        auth_file.chmod(0o600)
        tmp = cls.workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        layout, tag = fixture.split(":")
        command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-authfile", str(auth_file),
                   *(["--all"] if all_images else []),
                   f"oci:{FIXTURES / layout}:{tag}", f"docker://{cls.berthd.address}/{target}"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                                env=dict(os.environ, TMPDIR=str(tmp)))
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"

    def service_id_with_key(self, name, grants=()):
        """Creates a service ID with policies [(role, namespace or "")] and
        an API key through the API; returns (iam_id, key id, secret)."""
        iam_id = self.call("createServiceId", body={"name": name}, expect=201).json()["iam_id"]
        for role, namespace in grants:
            self.call("createPolicy", body={"iam_id": iam_id, "role": role, "namespace": namespace}, expect=201)
        created = self.call("createApiKey", body={"name": name + "-key", "iam_id": iam_id}, expect=201).json()
        return iam_id, created["id"], created["apikey"]


class ManagementApiTest(ConformanceTestCase):
    """Checks across all operations, and one test per operation of the
    account, namespaces, plans, quotas and IAM."""

    # The 401 checks log in wrongly many times; LockoutTest covers 429.
    berthd_env = {"BERTH_AUTH_FAILED_LOGIN_LIMIT": "1000000"}

    def test_every_operation_has_a_test(self):
        for operation_id in DOCUMENT.operations:
            name = operation_test_name(operation_id)
            with self.subTest(operation=operation_id):
                tested = any(hasattr(test_class, name)
                             for test_class in (ManagementApiTest, ImageApiTest, LifecycleApiTest, VaApiTest))
                self.assertTrue(tested, f"no test method {name} exercises {operation_id}")

    # --- Checks across all operations -------------------------------------

    def test_missing_credentials_get_401(self):
        anonymous_token = json.loads(self.berthd.request("GET", "/oauth/token?service=registry", auth=False).body)
        credentials = {
            "none": None,
            "unknown key": self.berthd.basic_auth("berth_unknown"),
            "unknown user": "Basic " + base64.b64encode(f"admin:{self.manager_key}".encode()).decode(),
            "malformed bearer": "Bearer not-a-token",
            "anonymous token": "Bearer " + anonymous_token["token"],
        }
        for operation_id, (_, template, _) in DOCUMENT.operations.items():
            if DOCUMENT.is_public(operation_id):
                continue
            for label, authorization in credentials.items():
                with self.subTest(operation=operation_id, credentials=label):
                    headers = {} if authorization is None else {"Authorization": authorization}
                    self.call(operation_id, sample_params(template), headers=headers, auth=False, expect=401)

    def test_account_header_mismatch_gets_403(self):
        for operation_id, (_, template, _) in DOCUMENT.operations.items():
            if DOCUMENT.is_public(operation_id):
                continue
            with self.subTest(operation=operation_id):
                response = self.call(operation_id, sample_params(template),
                                     headers={"Account": "not-" + self.account_id}, expect=403)
                self.assertEqual(response.error_codes(), ["DENIED"])

    def test_public_operations_ignore_credentials(self):
        public = [operation_id for operation_id in DOCUMENT.operations if DOCUMENT.is_public(operation_id)]
        self.assertEqual(sorted(public), ["getInfo", "getMessages", "listExemptionTypes"])
        for operation_id in public:
            for headers in ({}, {"Authorization": self.berthd.basic_auth("berth_unknown")},
                            {"Account": "not-" + self.account_id}):
                with self.subTest(operation=operation_id, headers=list(headers)):
                    response = self.call(operation_id, headers=headers, auth=False)
                    self.assertLess(response.status, 300, response)

    def test_matching_account_header_accepted(self):
        self.call("listNamespaces", headers={"Account": self.account_id}, expect=200)

    def test_bearer_token_accepted(self):
        token = json.loads(self.berthd.request("GET", "/oauth/token?service=registry").body)["token"]
        self.call("listApiKeys", headers={"Authorization": "Bearer " + token}, expect=200)
        iambearer = "Basic " + base64.b64encode(f"iambearer:{token}".encode()).decode()
        self.call("listApiKeys", headers={"Authorization": iambearer}, expect=200)

    def test_undocumented_methods_get_405(self):
        for template in DOCUMENT.root["paths"]:
            documented = DOCUMENT.methods_of(template)
            path = template
            for name, value in sample_params(template).items():
                path = path.replace("{" + name + "}", value)
            for method in HTTP_METHODS:
                if method in documented:
                    continue
                with self.subTest(path=template, method=method):
                    response = self.berthd.request(method, path)
                    self.assertEqual(response.status, 405, response)
                    allowed = {item.strip() for item in response.header("Allow", "").split(",")}
                    self.assertEqual(allowed, documented)
                    if method != "HEAD":
                        self.assertEqual(response.error_codes(), ["UNSUPPORTED"])

    def test_undocumented_paths_get_404(self):
        for path in ("/api/v1/", "/api/v1/nothing", "/api/v1/iam", "/api/v1/iam/users",
                     "/api/v1/namespaces/a/b", "/api/v1/iam/apikeys/a/b", "/api/v1/trash/a",
                     "/api/v1/retentions/a/b", "/api/v1/tags", "/api/v1/info/x", "/va/api/v4/",
                     "/va/api/v4/report", "/va/api/v4/report/image", "/va/api/v4/exempt",
                     "/va/api/v4/exemptions", "/va/api/v4/exemptions/image"):
            with self.subTest(path=path):
                response = self.berthd.request("GET", path)
                self.assertEqual(response.status, 404, response)
                self.assertEqual(response.error_codes(), ["NOT_FOUND"])

    def test_api_v1_without_slash_gets_404(self):
        for path in ("/api/v1", "/va/api/v4"):
            with self.subTest(path=path):
                response = self.berthd.request("GET", path)
                self.assertEqual(response.status, 404, response)
                self.assertEqual(response.error_codes(), ["UNSUPPORTED"])

    # --- The registry and the account -------------------------------------

    def test_get_info(self):
        info = self.call("getInfo", auth=False, expect=200).json()
        self.assertEqual(info["domain"], self.berthd.address)
        self.assertEqual(info["api_endpoint"], f"http://{self.berthd.address}/api")
        self.assertEqual(info["region"], "local")
        # VaApiTest checks the advisories after an import.
        self.assertEqual(info["va"], {"version": "v4",
                                      "advisories": {"imported_at": "", "count": 0, "ecosystems": []}})
        self.assert_statuses_covered("getInfo")

    def test_get_messages(self):
        self.call("getMessages", auth=False, expect=204)
        workdir = Path(tempfile.mkdtemp(prefix="berth-openapi-messages-"))
        server = Berthd(workdir / "data", env={"BERTH_MESSAGES": "Maintenance on Sunday."}).start()
        try:
            message = self.call("getMessages", auth=False, server=server, expect=200).json()
            self.assertEqual(message, "Maintenance on Sunday.")
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        self.assert_statuses_covered("getMessages")

    def test_get_account(self):
        manager = self.call("getAccount", expect=200).json()
        self.assertEqual(manager["account"]["id"], self.account_id)
        self.assertEqual(manager["account"]["name"], "default")
        self.assertEqual(manager["identity"], {"id": self.manager_iam_id, "name": "admin", "kind": "user"})
        plain = self.call("getAccount", key=self.plain_key, expect=200).json()
        self.assertEqual(plain["identity"]["kind"], "serviceid")
        self.assert_account_mismatch_denied("getAccount")
        self.assert_statuses_covered("getAccount")

    def test_get_settings(self):
        self.assertEqual(self.call("getSettings", expect=200).json(), {"platform_metrics": False})
        self.call("getSettings", key=self.plain_key, expect=403)
        self.assert_statuses_covered("getSettings")

    def test_update_settings(self):
        self.call("updateSettings", body={"platform_metrics": True}, expect=204)
        self.assertEqual(self.call("getSettings", expect=200).json(), {"platform_metrics": True})
        self.call("updateSettings", body={}, expect=204)
        self.assertEqual(self.call("getSettings", expect=200).json(), {"platform_metrics": True})
        self.call("updateSettings", body={"platform_metrics": False}, expect=204)
        self.assertEqual(self.call("getSettings", expect=200).json(), {"platform_metrics": False})

        for raw in (b"true", b"{\"platform_metrics\": \"yes\"}", b"{\"theme\": \"dark\"}"):
            with self.subTest(body=raw):
                response = self.call("updateSettings", raw_body=raw, headers={"Content-Type": "application/json"},
                                     expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])

        _, _, reader_key = self.service_id_with_key("settings-reader", [("Reader", "")])
        self.assertEqual(self.call("getSettings", key=reader_key, expect=200).json(), {"platform_metrics": False})
        self.call("updateSettings", body={"platform_metrics": True}, key=reader_key, expect=403)
        self.assert_statuses_covered("updateSettings")

    # --- Namespaces -------------------------------------------------------

    def test_list_namespaces(self):
        self.berthd.create_namespace("listed")
        names = self.call("listNamespaces", expect=200).json()
        self.assertIn("listed", names)
        self.assertEqual(names, sorted(names))
        # A caller without namespace.list gets an empty list, not an error.
        self.assertEqual(self.call("listNamespaces", key=self.plain_key, expect=200).json(), [])
        self.assert_account_mismatch_denied("listNamespaces")
        self.assert_statuses_covered("listNamespaces")

    def test_list_namespace_details(self):
        self.berthd.create_namespace("detailed")
        details = self.call("listNamespaceDetails", expect=200).json()
        entry = next(item for item in details if item["name"] == "detailed")
        self.assertEqual(entry["account"], self.account_id)
        self.assertFalse(entry["public"])
        self.assertEqual(self.call("listNamespaceDetails", key=self.plain_key, expect=200).json(), [])
        self.assert_account_mismatch_denied("listNamespaceDetails")
        self.assert_statuses_covered("listNamespaceDetails")

    def test_create_namespace(self):
        created = self.call("createNamespace", {"name": "fresh-ns"}, expect=201)
        self.assertEqual(created.json(), {"namespace": "fresh-ns"})
        self.call("createNamespace", {"name": "fresh-ns"}, expect=200)
        for invalid in ("abc", "Upper", "a" * 31, "-abc", "a___b", "a.bc"):
            with self.subTest(name=invalid):
                response = self.call("createNamespace", {"name": invalid}, expect=400)
                self.assertEqual(response.error_codes(), ["NAME_INVALID"])
        self.call("createNamespace", {"name": "denied-ns"}, key=self.plain_key, expect=403)
        self.call("createNamespace", {"name": "foreign-ns"}, key=self.other_key, expect=201)
        self.assertEqual(self.percent_escape_error("createNamespace").error_codes(), ["BAD_REQUEST"])
        conflict = self.call("createNamespace", {"name": "foreign-ns"}, expect=409)
        self.assertEqual(conflict.json()["errors"][0]["detail"], {"namespace": "foreign-ns"})
        self.assert_statuses_covered("createNamespace")

    def test_delete_namespace(self):
        self.berthd.create_namespace("doomed")
        self.call("deleteNamespace", {"name": "doomed"}, key=self.plain_key, expect=403)
        self.call("deleteNamespace", {"name": "doomed"}, expect=204)
        self.call("deleteNamespace", {"name": "doomed"}, expect=404)
        self.call("createNamespace", {"name": "foreign-del"}, key=self.other_key, expect=201)
        self.call("deleteNamespace", {"name": "foreign-del"}, expect=404)
        self.assertEqual(self.percent_escape_error("deleteNamespace").error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("deleteNamespace")

    # --- Plans and quotas -------------------------------------------------

    def test_get_plans(self):
        self.assertEqual(self.call("getPlans", expect=200).json(), {"plan": "lite"})
        # plan.get is a Manager action, so an account-wide Reader is denied.
        _, _, reader_key = self.service_id_with_key("plan-reader", [("Reader", "")])
        self.call("getPlans", key=reader_key, expect=403)
        self.call("getPlans", key=self.plain_key, expect=403)
        self.assert_statuses_covered("getPlans")

    def test_update_plans(self):
        # A separate account, because an upgrade cannot be undone.
        key = self.create_account_with_manager("planacct")
        self.call("updatePlans", body={"plan": "lite"}, key=key, expect=204)
        self.assertEqual(self.call("getPlans", key=key, expect=200).json(), {"plan": "lite"})
        self.call("updatePlans", body={"plan": "Standard"}, key=key, expect=204)
        self.assertEqual(self.call("getPlans", key=key, expect=200).json(), {"plan": "standard"})
        self.call("updatePlans", body={"plan": "standard"}, key=key, expect=204)

        downgrade = self.call("updatePlans", body={"plan": "lite"}, key=key, expect=400)
        self.assertEqual(downgrade.error_codes(), ["BAD_REQUEST"])
        self.assertEqual(downgrade.json()["errors"][0]["detail"], {"plan": "lite"})
        unknown = self.call("updatePlans", body={"plan": "gold"}, key=key, expect=400)
        self.assertEqual(unknown.json()["errors"][0]["detail"], {"plan": "gold"})
        for raw in (b"[]", b"not json", b"{}", json.dumps({"plan": 2}).encode()):
            with self.subTest(body=raw):
                response = self.call("updatePlans", raw_body=raw, key=key,
                                     headers={"Content-Type": "application/json"}, expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        self.assertEqual(self.call("getPlans", key=key, expect=200).json(), {"plan": "standard"})

        _, _, reader_key = self.service_id_with_key("plan-upgrader", [("Reader", ""), ("Writer", "")])
        self.call("updatePlans", body={"plan": "standard"}, key=reader_key, expect=403)
        self.call("updatePlans", body={"plan": "standard"}, key=self.plain_key, expect=403)
        self.assertEqual(self.call("getPlans", expect=200).json(), {"plan": "lite"})
        self.assert_statuses_covered("updatePlans")

    def test_get_quota(self):
        quota = self.call("getQuota", expect=200).json()
        self.assertEqual(quota["limit"], {"storage_bytes": 512 * MEGABYTE, "traffic_bytes": 5120 * MEGABYTE})
        self.assertEqual(set(quota["usage"]), {"storage_bytes", "traffic_bytes"})
        # quota.get is allowed to every role on the account, but not to a
        # role on one namespace.
        self.berthd.create_namespace("quotans")
        for role in ("Reader", "Writer"):
            with self.subTest(role=role):
                _, _, key = self.service_id_with_key(f"quota-{role.lower()}", [(role, "")])
                self.assertEqual(self.call("getQuota", key=key, expect=200).json()["limit"], quota["limit"])
        _, _, namespace_key = self.service_id_with_key("quota-ns-reader", [("Reader", "quotans")])
        self.call("getQuota", key=namespace_key, expect=403)
        self.call("getQuota", key=self.plain_key, expect=403)
        self.assert_statuses_covered("getQuota")

    def test_update_quota(self):
        # A separate account, so that the other tests keep the lite plan's limits.
        key = self.create_account_with_manager("quotaacct")
        self.assertEqual(self.call("updateQuota", body={"storage_megabytes": 100}, key=key, expect=200).json(), {})
        limit = self.call("getQuota", key=key, expect=200).json()["limit"]
        self.assertEqual(limit, {"storage_bytes": 100 * MEGABYTE, "traffic_bytes": 5120 * MEGABYTE})
        self.call("updateQuota", body={"storage_megabytes": None, "traffic_megabytes": 200}, key=key, expect=200)
        limit = self.call("getQuota", key=key, expect=200).json()["limit"]
        self.assertEqual(limit, {"storage_bytes": 100 * MEGABYTE, "traffic_bytes": 200 * MEGABYTE})
        self.call("updateQuota", body={"storage_megabytes": 512, "traffic_megabytes": 0}, key=key, expect=200)

        above = self.call("updateQuota", body={"storage_megabytes": 513}, key=key, expect=400)
        self.assertEqual(above.error_codes(), ["BAD_REQUEST"])
        self.assertIn("berth plan-upgrade", above.json()["errors"][0]["message"])
        self.assertEqual(above.json()["errors"][0]["detail"], {"storage": 513})
        unlimited = self.call("updateQuota", body={"traffic_megabytes": -1}, key=key, expect=400)
        self.assertEqual(unlimited.json()["errors"][0]["detail"], {"traffic": -1})
        bad_bodies = [b"[]", b"{}", json.dumps({"storage_megabytes": None}).encode(),
                      json.dumps({"storage_megabytes": "100"}).encode(),
                      json.dumps({"storage_megabytes": 1.5}).encode(),
                      json.dumps({"storage_megabytes": 100, "disk_megabytes": 1}).encode(),
                      json.dumps({"storage_megabytes": -2}).encode(),
                      json.dumps({"storage_megabytes": 2 ** 62}).encode()]
        for raw in bad_bodies:
            with self.subTest(body=raw):
                response = self.call("updateQuota", raw_body=raw, key=key,
                                     headers={"Content-Type": "application/json"}, expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        limit = self.call("getQuota", key=key, expect=200).json()["limit"]
        self.assertEqual(limit, {"storage_bytes": 512 * MEGABYTE, "traffic_bytes": 0})

        # The standard plan allows any quota, and custom quotas outlive the upgrade.
        self.call("updatePlans", body={"plan": "standard"}, key=key, expect=204)
        self.call("updateQuota", body={"storage_megabytes": -1}, key=key, expect=200)
        limit = self.call("getQuota", key=key, expect=200).json()["limit"]
        self.assertEqual(limit, {"storage_bytes": -1, "traffic_bytes": 0})

        _, _, reader_key = self.service_id_with_key("quota-setter", [("Reader", ""), ("Writer", "")])
        self.call("updateQuota", body={"storage_megabytes": 1}, key=reader_key, expect=403)
        self.call("updateQuota", body={"storage_megabytes": 1}, key=self.plain_key, expect=403)
        self.assert_statuses_covered("updateQuota")

    # --- API keys ---------------------------------------------------------

    def test_list_api_keys(self):
        everything = self.call("listApiKeys", expect=200).json()
        self.assertIn(self.plain_key_id, [key["id"] for key in everything])
        self.assertIn(self.manager_iam_id, [key["iam_id"] for key in everything])
        own = self.call("listApiKeys", key=self.plain_key, expect=200).json()
        self.assertEqual({key["iam_id"] for key in own}, {self.plain_iam_id})
        used = next(key for key in own if key["id"] == self.plain_key_id)
        self.assertIsNotNone(used["last_used_at"], "the key logged in, so it has a last-used time")
        self.assert_account_mismatch_denied("listApiKeys")
        self.assert_statuses_covered("listApiKeys")

    def test_create_api_key(self):
        own = self.call("createApiKey", body={"name": "mine", "description": "made by the test"}, expect=201)
        self.assertTrue(own.json()["apikey"].startswith("berth_"))
        self.call("createApiKey", body={"name": "for-plain", "iam_id": self.plain_iam_id}, expect=201)
        self.call("createApiKey", body={"name": "self", "iam_id": None}, key=self.plain_key, expect=201)

        bad_bodies = [b"not json", b"[]", b"{}", json.dumps({"name": 5}).encode(),
                      json.dumps({"name": ""}).encode(), json.dumps({"name": "x" * 101}).encode(),
                      json.dumps({"name": "tab\there"}).encode(),
                      json.dumps({"name": "k", "description": "d" * 1001}).encode(),
                      json.dumps({"name": "k", "padding": "p" * 70000}).encode()]
        for raw in bad_bodies:
            with self.subTest(body=raw[:40]):
                response = self.call("createApiKey", raw_body=raw, headers={"Content-Type": "application/json"},
                                     expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])

        self.call("createApiKey", body={"name": "theft", "iam_id": self.manager_iam_id}, key=self.plain_key,
                  expect=403)
        self.call("createApiKey", body={"name": "ghost", "iam_id": "ServiceId-missing"}, expect=404)
        other_keys = json.loads(self.berthd.request("GET", "/api/v1/iam/apikeys", headers={
            "Authorization": self.berthd.basic_auth(self.other_key)}).body)
        self.call("createApiKey", body={"name": "cross", "iam_id": other_keys[0]["iam_id"]}, expect=404)
        self.assert_statuses_covered("createApiKey")

    def test_delete_api_key(self):
        _, key_id, secret = self.service_id_with_key("short-lived")
        own = self.call("createApiKey", body={"name": "own-doomed"}, key=secret, expect=201).json()
        self.call("deleteApiKey", {"id": own["id"]}, key=secret, expect=204)
        self.call("deleteApiKey", {"id": key_id}, key=self.plain_key, expect=403)
        self.call("deleteApiKey", {"id": key_id}, expect=204)
        self.call("deleteApiKey", {"id": key_id}, expect=404)
        self.call("deleteApiKey", {"id": "ApiKey-missing"}, expect=404)
        self.assertEqual(self.percent_escape_error("deleteApiKey").error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("deleteApiKey")

    # --- Service IDs ------------------------------------------------------

    def test_list_service_ids(self):
        listed = self.call("listServiceIds", expect=200).json()
        self.assertIn(self.plain_iam_id, [identity["id"] for identity in listed])
        self.call("listServiceIds", key=self.plain_key, expect=403)
        self.assert_statuses_covered("listServiceIds")

    def test_create_service_id(self):
        created = self.call("createServiceId", body={"name": "builder", "description": "CI"}, expect=201).json()
        self.assertEqual(created["description"], "CI")
        self.call("createServiceId", body={"name": "builder"}, expect=409)
        self.call("createServiceId", raw_body=b"{\"name\": 1}", expect=400)
        self.call("createServiceId", body={"description": "no name"}, check_request=False, expect=400)
        self.call("createServiceId", body={"name": "sneaky"}, key=self.plain_key, expect=403)
        self.assert_statuses_covered("createServiceId")

    def test_delete_service_id(self):
        iam_id, key_id, secret = self.service_id_with_key("retired", [("Reader", "")])
        self.call("deleteServiceId", {"id": iam_id}, key=self.plain_key, expect=403)
        self.call("deleteServiceId", {"id": iam_id}, expect=204)
        self.call("deleteServiceId", {"id": iam_id}, expect=404)
        self.call("listApiKeys", key=secret, expect=401)
        self.assertNotIn(key_id, [key["id"] for key in self.call("listApiKeys", expect=200).json()])
        # A user is not a service ID.
        self.assertTrue(self.manager_iam_id.startswith("User-"))
        self.call("deleteServiceId", {"id": self.manager_iam_id}, expect=404)
        self.assertEqual(self.percent_escape_error("deleteServiceId").error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("deleteServiceId")

    # --- Policies ---------------------------------------------------------

    def test_list_policies(self):
        policies = self.call("listPolicies", expect=200).json()
        self.assertIn("Manager", [policy["role"] for policy in policies])
        self.call("listPolicies", key=self.plain_key, expect=403)
        self.assert_statuses_covered("listPolicies")

    def test_create_policy(self):
        self.berthd.create_namespace("granted")
        iam_id = self.call("createServiceId", body={"name": "grantee"}, expect=201).json()["iam_id"]
        policy = self.call("createPolicy", body={"iam_id": iam_id, "role": "reader", "namespace": "granted"},
                           expect=201).json()
        self.assertEqual(policy["role"], "Reader")
        account_wide = self.call("createPolicy", body={"iam_id": iam_id, "role": "Writer", "namespace": None},
                                 expect=201).json()
        self.assertEqual(account_wide["namespace"], "")
        self.call("createPolicy", body={"iam_id": iam_id, "role": "Reader", "namespace": "granted"}, expect=409)
        self.call("createPolicy", body={"iam_id": iam_id, "role": "Owner"}, expect=400)
        self.call("createPolicy", body={"role": "Reader"}, check_request=False, expect=400)
        self.call("createPolicy", body={"iam_id": "ServiceId-missing", "role": "Reader"}, expect=404)
        self.call("createPolicy", body={"iam_id": iam_id, "role": "Reader", "namespace": "nosuchns"}, expect=404)
        self.call("createPolicy", body={"iam_id": iam_id, "role": "Manager"}, key=self.plain_key, expect=403)
        self.assert_statuses_covered("createPolicy")

    def test_delete_policy(self):
        iam_id = self.call("createServiceId", body={"name": "revoked"}, expect=201).json()["iam_id"]
        policy = self.call("createPolicy", body={"iam_id": iam_id, "role": "Reader"}, expect=201).json()
        self.call("deletePolicy", {"id": policy["id"]}, key=self.plain_key, expect=403)
        self.call("deletePolicy", {"id": policy["id"]}, expect=204)
        self.call("deletePolicy", {"id": policy["id"]}, expect=404)
        self.assertEqual(self.percent_escape_error("deletePolicy").error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("deletePolicy")


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"


def fixture_manifest_digest(layout, tag):
    """The digest that a fixture layout's index.json gives for a tag."""
    index = json.loads((FIXTURES / layout / "index.json").read_text())
    for descriptor in index["manifests"]:
        if descriptor.get("annotations", {}).get(REF_NAME) == tag:
            return descriptor["digest"]
    raise AssertionError(f"fixture {layout} has no tag {tag}; build it with tests/fixtures/build-images")


def fixture_blob(layout, digest):
    algorithm, encoded = digest.split(":", 1)
    return (FIXTURES / layout / "blobs" / algorithm / encoded).read_bytes()


class ImageApiTest(ConformanceTestCase):
    """The image operations, on images pushed with skopeo from the fixture
    layouts (tests/fixtures/build-images) and with the harness."""

    @classmethod
    def set_up_server(cls):
        if shutil.which("skopeo") is None:
            raise RuntimeError("skopeo not found on PATH. Install the test clients with scripts/bootstrap.")
        cls.create_identities()
        cls.domain = cls.berthd.address
        cls.busybox_digest = fixture_manifest_digest("busybox", "latest")
        busybox_manifest = json.loads(fixture_blob("busybox", cls.busybox_digest))
        cls.busybox_config_digest = busybox_manifest["config"]["digest"]
        cls.multi_digest = fixture_manifest_digest("multi", "latest")

        for namespace in ("imgs", "imgs2"):
            cls.berthd.create_namespace(namespace)
        cls.skopeo_copy("busybox:latest", "imgs/busybox:latest", cls.manager_key)
        cls.skopeo_copy("multi:latest", "imgs/multi:latest", cls.manager_key, all_images=True)

        # A Docker schema 2 image, and an untagged manifest: the tag that
        # pushed it is deleted through the registry API.
        config = json.dumps({"architecture": "arm64", "os": "linux", "created": "2024-05-01T10:00:00Z"}).encode()
        config_digest = push_blob(cls.berthd, "imgs/docker", config)
        layer_digest = push_blob(cls.berthd, "imgs/docker", b"docker layer")
        manifest = image_manifest(config_digest, len(config), [(layer_digest, len(b"docker layer"))],
                                  media_type=DOCKER_MANIFEST,
                                  config_type="application/vnd.docker.container.image.v1+json")
        pushed = cls.berthd.request("PUT", "/v2/imgs/docker/manifests/v1", body=manifest,
                                    headers={"Content-Type": DOCKER_MANIFEST})
        assert pushed.status == 201, pushed
        _, cls.loose_digest = push_image(cls.berthd, "imgs/loose", "gone")
        untagged = cls.berthd.request("DELETE", "/v2/imgs/loose/manifests/gone")
        assert untagged.status == 202, untagged

        # The other account: a private namespace and a public one.
        other = {"Authorization": cls.berthd.basic_auth(cls.other_key)}
        created = cls.berthd.request("PUT", "/api/v1/namespaces/theirs", headers=other)
        assert created.status == 201, created
        cls.admin("namespace-add", "theirpub", "--account", "otheracct", "--public")
        cls.skopeo_copy("busybox:latest", "theirs/app:latest", cls.other_key)
        cls.skopeo_copy("busybox:latest", "theirpub/app:latest", cls.other_key)

        # Reader on imgs may list and inspect but not push or delete;
        # Writer on imgs may push and delete but not list or inspect.
        cls.reader_key = cls.service_id_key_for_class("imgs-reader", "Reader", "imgs")
        cls.writer_key = cls.service_id_key_for_class("imgs-writer", "Writer", "imgs")

    def tag(self, source, target, key=None, expect=201):
        return self.call("tagImage", query={"fromimage": source, "toimage": target}, key=key, expect=expect)

    def index_children(self, repository, reference):
        response = self.berthd.request("GET", f"/v2/{repository}/manifests/{reference}",
                                       headers={"Accept": OCI_INDEX})
        self.assertEqual(response.status, 200, response)
        return [entry["digest"] for entry in response.json()["manifests"]]

    # --- Listings ---------------------------------------------------------

    def test_list_images(self):
        images = self.call("listImages", expect=200).json()
        tags = [tag for image in images for tag in image["RepoTags"]]
        self.assertIn(f"{self.domain}/imgs/busybox:latest", tags)
        self.assertIn(f"{self.domain}/imgs/docker:v1", tags)
        self.assertNotIn(f"{self.domain}/imgs/multi:latest", tags, "indexes are left out by default")
        self.assertNotIn(f"{self.domain}/theirpub/app:latest", tags)
        busybox = next(image for image in images if image["Id"] == self.busybox_digest)
        self.assertEqual(busybox["RepoDigests"], [f"{self.domain}/imgs/busybox@{self.busybox_digest}"])
        self.assertEqual(busybox["ManifestType"], "OCI Image Manifest v1")
        self.assertGreater(busybox["Size"], 0)
        self.assertGreater(busybox["Created"], 0)
        docker = next(image for image in images if f"{self.domain}/imgs/docker:v1" in image["RepoTags"])
        self.assertEqual(docker["ManifestType"], "Docker Image Manifest V2, Schema 2")
        self.assertEqual(docker["Created"], 1714557600)

        with_indexes = self.call("listImages", query={"includeManifestLists": "TRUE"}, expect=200).json()
        multi = next(image for image in with_indexes if image["Id"] == self.multi_digest)
        self.assertEqual(multi["ManifestType"], "OCI Image Index v1")

        filtered = self.call("listImages", query={"repository": f"{self.domain}/imgs/busybox"}, expect=200).json()
        self.assertEqual([image["Id"] for image in filtered], [self.busybox_digest])
        by_namespace = self.call("listImages", query={"namespace": ["imgs2", "theirs"]}, expect=200).json()
        self.assertEqual(by_namespace, [])
        public = self.call("listImages", query={"includeIBM": "1"}, expect=200).json()
        public_tags = [tag for image in public for tag in image["RepoTags"]]
        self.assertIn(f"{self.domain}/theirpub/app:latest", public_tags)
        self.assertNotIn(f"{self.domain}/theirs/app:latest", public_tags)

        self.assertEqual(self.call("listImages", key=self.writer_key, expect=200).json(), [])
        self.assertGreater(len(self.call("listImages", key=self.reader_key, expect=200).json()), 0)
        self.assert_account_mismatch_denied("listImages")

        for query in ({"includeIBM": "maybe"}, {"vulnerabilities": "yes"}, {"namespace": ""},
                      {"repository": "other.example:5000/imgs/busybox"}):
            with self.subTest(query=query):
                response = self.call("listImages", query=query, expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("listImages")

    def test_list_image_digests(self):
        everything = self.call("listImageDigests", expect=200).json()
        by_id = {image["id"]: image for image in everything}
        busybox = by_id[self.busybox_digest]
        self.assertEqual(list(busybox["repoTags"][f"{self.domain}/imgs/busybox"]), ["latest"])
        # The same manifest is the amd64 image of imgs/multi's index, untagged
        # there, so it is listed through the index and not under imgs/multi.
        self.assertNotIn(f"{self.domain}/imgs/multi", busybox["repoTags"])
        self.assertEqual(list(by_id[self.multi_digest]["repoTags"][f"{self.domain}/imgs/multi"]), ["latest"])
        self.assertEqual(by_id[self.loose_digest]["repoTags"], {f"{self.domain}/imgs/loose": {}})

        untagged = self.call("listImageDigests", body={"exclude_tagged": True}, expect=200).json()
        self.assertIn(self.loose_digest, [image["id"] for image in untagged])
        for image in untagged:
            with self.subTest(digest=image["id"]):
                self.assertEqual(set(map(len, image["repoTags"].values())), {0}, "only untagged entries remain")
        one = self.call("listImageDigests", body={"repositories": ["imgs/busybox"], "exclude_va": False},
                        expect=200).json()
        self.assertEqual([image["id"] for image in one], [self.busybox_digest])
        nulls = self.call("listImageDigests", body={"exclude_tagged": None, "repositories": None}, expect=200)
        self.assertEqual(len(nulls.json()), len(everything))
        public = self.call("listImageDigests", body={"include_ibm": True}, expect=200).json()
        repositories = {name for image in public for name in image["repoTags"]}
        self.assertIn(f"{self.domain}/theirpub/app", repositories)
        self.assertEqual(self.call("listImageDigests", key=self.writer_key, expect=200).json(), [])
        self.assert_account_mismatch_denied("listImageDigests")

        bad_bodies = [b"[]", b"not json", json.dumps({"unknown": 1}).encode(),
                      json.dumps({"exclude_tagged": "yes"}).encode(), json.dumps({"repositories": "imgs"}).encode(),
                      json.dumps({"repositories": [1]}).encode(), json.dumps({"repositories": [""]}).encode()]
        for raw in bad_bodies:
            with self.subTest(body=raw):
                response = self.call("listImageDigests", raw_body=raw, headers={"Content-Type": "application/json"},
                                     expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("listImageDigests")

    # --- Tags -------------------------------------------------------------

    def test_tag_image(self):
        self.tag("imgs/busybox:latest", "imgs/copy:v1")
        copied = self.berthd.request("GET", "/v2/imgs/copy/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(copied.header("Docker-Content-Digest"), self.busybox_digest)
        self.tag(f"{self.domain}/imgs/busybox@{self.busybox_digest}", f"{self.domain}/imgs2/copy:v2")
        self.tag("imgs/multi", "imgs/multicopy:latest")
        self.assertEqual(len(self.index_children("imgs/multicopy", "latest")), 2)

        bad_queries = [({"fromimage": "imgs/busybox:latest"}, "BAD_REQUEST"),
                       ({"fromimage": "imgs/busybox:latest", "toimage": ""}, "BAD_REQUEST"),
                       ({"fromimage": "imgs/busybox:latest", "toimage": "imgs/copy"}, "BAD_REQUEST"),
                       ({"fromimage": "imgs/busybox:latest", "toimage": f"imgs/copy@{self.busybox_digest}"},
                        "BAD_REQUEST"),
                       ({"fromimage": "other.example:5000/imgs/busybox", "toimage": "imgs/copy:v3"}, "BAD_REQUEST"),
                       ({"fromimage": "Imgs/busybox", "toimage": "imgs/copy:v3"}, "NAME_INVALID"),
                       ({"fromimage": "busybox", "toimage": "imgs/copy:v3"}, "NAME_INVALID"),
                       ({"fromimage": "imgs/busybox:-bad", "toimage": "imgs/copy:v3"}, "TAG_INVALID"),
                       ({"fromimage": "imgs/busybox@sha256:abc", "toimage": "imgs/copy:v3"}, "DIGEST_INVALID")]
        for query, code in bad_queries:
            with self.subTest(query=query):
                response = self.call("tagImage", query=query, expect=400)
                self.assertEqual(response.error_codes(), [code])

        # An index whose child is gone from the source repository. The
        # registry rejects deleting a child of an index, so the child's row
        # is removed from the database, as in a damaged store.
        self.tag("imgs/multi:latest", "imgs/broken:latest")
        missing_child = self.index_children("imgs/broken", "latest")[1]
        remove_manifest_row(self.berthd.data_dir, "imgs/broken", missing_child)
        broken = self.tag("imgs/broken:latest", "imgs/copy:broken", expect=400)
        self.assertEqual(broken.error_codes(), ["MANIFEST_BLOB_UNKNOWN"])
        self.assertTrue(broken.json()["errors"][0]["message"].startswith("CRI0304E"))
        self.assertEqual(broken.json()["errors"][0]["detail"], {"digest": missing_child})

        self.tag("imgs/busybox:latest", "imgs/copy:plain", key=self.plain_key, expect=403)
        denied = self.tag("imgs/busybox:latest", "imgs/copy:reader", key=self.reader_key, expect=403)
        self.assert_denied_with_detail(denied, "imgs", "image.push")
        missing = self.tag("imgs/busybox:latest", "nosuchns/copy:v1", expect=403)
        self.assertEqual(missing.json()["errors"][0]["detail"], {"namespace": "nosuchns"})
        foreign = self.tag("imgs/busybox:latest", "theirs/copy:v1", expect=403)
        self.assertNotIn("detail", foreign.json()["errors"][0])

        unknown = self.tag("imgs/busybox:missing", "imgs/copy:v4", expect=404)
        self.assertEqual(unknown.error_codes(), ["MANIFEST_UNKNOWN"])
        self.assertEqual(unknown.json()["errors"][0]["detail"],
                         {"image": f"{self.domain}/imgs/busybox:missing", "name": "imgs/busybox"})
        self.assert_statuses_covered("tagImage")

    def test_untag_image(self):
        self.tag("imgs/busybox:latest", "imgs/busybox:temporary")
        untagged = self.call("untagImage", {"image": "imgs/busybox:temporary"}, expect=200).json()
        self.assertEqual(untagged, {"Untagged": f"{self.domain}/imgs/busybox:temporary"})
        self.call("untagImage", {"image": "imgs/busybox:temporary"}, expect=404)
        still = self.berthd.request("GET", "/v2/imgs/busybox/manifests/latest", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(still.status, 200, "untagging removes only the tag")

        for image, code in (("imgs/busybox", "BAD_REQUEST"), (f"imgs/busybox@{self.busybox_digest}", "BAD_REQUEST"),
                            ("imgs/busybox:-bad", "TAG_INVALID"), ("x/Bad:v1", "NAME_INVALID")):
            with self.subTest(image=image):
                response = self.call("untagImage", {"image": image}, expect=400)
                self.assertEqual(response.error_codes(), [code])
        self.assertEqual(self.percent_escape_error("untagImage").error_codes(), ["BAD_REQUEST"])

        self.tag("imgs/busybox:latest", "imgs/busybox:kept")
        denied = self.call("untagImage", {"image": "imgs/busybox:kept"}, key=self.reader_key, expect=403)
        self.assert_denied_with_detail(denied, "imgs", "image.delete")
        self.call("untagImage", {"image": "imgs/busybox:kept"}, key=self.writer_key, expect=200)
        self.assert_statuses_covered("untagImage")

    # --- Inspection -------------------------------------------------------

    def test_inspect_image(self):
        inspection = self.call("inspectImage", {"image": "imgs/busybox:latest"}, expect=200).json()
        self.assertEqual(inspection["Id"], self.busybox_config_digest)
        self.assertEqual(inspection["Architecture"], "amd64")
        self.assertEqual(inspection["Os"], "linux")
        self.assertEqual(inspection["Config"]["Cmd"], ["/bin/sh"])
        self.assertEqual(inspection["RootFS"]["Type"], "layers")
        self.assertEqual(len(inspection["RootFS"]["Layers"]), 1)
        self.assertEqual(inspection["ManifestType"], "OCI Image Manifest v1")

        # The reference with '/' not encoded, and with the domain and a digest.
        raw = self.berthd.request("GET", "/api/v1/images/imgs/busybox:latest/json")
        self.check_response("inspectImage", "GET", "/api/v1/images/imgs/busybox:latest/json", raw)
        self.assertEqual(raw.json(), inspection)
        by_digest = self.call("inspectImage", {"image": f"{self.domain}/imgs/busybox@{self.busybox_digest}"},
                              expect=200).json()
        self.assertEqual(by_digest, inspection)
        index = self.call("inspectImage", {"image": "imgs/multi:latest"}, expect=200).json()
        self.assertEqual(index["Architecture"], "amd64")
        docker = self.call("inspectImage", {"image": "imgs/docker:v1"}, expect=200).json()
        self.assertEqual(docker["ManifestType"], "Docker Image Manifest V2, Schema 2")
        self.assertEqual(docker["Created"], "2024-05-01T10:00:00Z")
        self.call("inspectImage", {"image": "theirpub/app:latest"}, expect=200)
        self.call("inspectImage", {"image": "imgs/busybox"}, key=self.reader_key, expect=200)

        for image, code in (("noslash", "NAME_INVALID"), ("imgs/busybox@sha256:abc", "DIGEST_INVALID"),
                            ("imgs/busybox:-bad", "TAG_INVALID"), ("other.example/imgs/busybox", "BAD_REQUEST")):
            with self.subTest(image=image):
                response = self.call("inspectImage", {"image": image}, expect=400)
                self.assertEqual(response.error_codes(), [code])
        self.assertEqual(self.percent_escape_error("inspectImage").error_codes(), ["BAD_REQUEST"])

        denied = self.call("inspectImage", {"image": "imgs/busybox:latest"}, key=self.writer_key, expect=403)
        self.assert_denied_with_detail(denied, "imgs", "image.inspect")
        self.call("inspectImage", {"image": "imgs/busybox:latest"}, key=self.plain_key, expect=403)
        self.call("inspectImage", {"image": "theirs/app:latest"}, expect=403)

        self.call("inspectImage", {"image": "imgs/busybox:missing"}, expect=404)
        # An index none of whose images is left in the repository, made by
        # removing the children's rows as in test_tag_image.
        self.tag("imgs/multi:latest", "imgs/hollow:latest")
        for child in self.index_children("imgs/hollow", "latest"):
            remove_manifest_row(self.berthd.data_dir, "imgs/hollow", child)
        hollow = self.call("inspectImage", {"image": "imgs/hollow:latest"}, expect=404)
        self.assertEqual(hollow.json()["errors"][0]["detail"], {"image": f"{self.domain}/imgs/hollow:latest"})
        self.assert_statuses_covered("inspectImage")

    def test_get_image_manifest(self):
        manifest = self.call("getImageManifest", {"image": "imgs/busybox:latest"}, expect=200)
        self.assertEqual(manifest.header("Content-Type"), OCI_MANIFEST)
        self.assertEqual(manifest.header("Docker-Content-Digest"), self.busybox_digest)
        self.assertEqual(manifest.body, fixture_blob("busybox", self.busybox_digest))
        index = self.call("getImageManifest", {"image": f"imgs/multi@{self.multi_digest}"}, expect=200)
        self.assertEqual(index.header("Content-Type"), OCI_INDEX)
        self.assertEqual(sha256_digest(index.body), self.multi_digest)
        docker = self.call("getImageManifest", {"image": "imgs/docker:v1"}, expect=200)
        self.assertEqual(docker.header("Content-Type"), DOCKER_MANIFEST)

        response = self.call("getImageManifest", {"image": "noslash"}, expect=400)
        self.assertEqual(response.error_codes(), ["NAME_INVALID"])
        self.call("getImageManifest", {"image": "imgs/busybox:latest"}, key=self.writer_key, expect=403)
        self.call("getImageManifest", {"image": "imgs/busybox:missing"}, expect=404)
        self.assert_statuses_covered("getImageManifest")


class LifecycleApiTest(ConformanceTestCase):
    """Deleting images to the trash, restoring them, and retention policies,
    on small images pushed with the harness. These operations change what
    other tests would see, so each test uses repositories or a namespace of
    its own."""

    # Makes every pushed image config, and so every manifest, distinct.
    sequence = itertools.count(1)

    @classmethod
    def set_up_server(cls):
        cls.create_identities()
        cls.domain = cls.berthd.address
        cls.berthd.create_namespace("lifecycle")
        # Reader on lifecycle may list images but not delete or restore
        # them. Writer may delete and restore them but not list them.
        cls.reader_key = cls.service_id_key_for_class("lifecycle-reader", "Reader", "lifecycle")
        cls.writer_key = cls.service_id_key_for_class("lifecycle-writer", "Writer", "lifecycle")
        other = {"Authorization": cls.berthd.basic_auth(cls.other_key)}
        created = cls.berthd.request("PUT", "/api/v1/namespaces/theirs", headers=other)
        assert created.status == 201, created

    def full(self, reference):
        """The reference with the registry's domain, as responses spell it."""
        return f"{self.domain}/{reference}"

    def push(self, repository, tag=None, created=None):
        """Pushes a new image under `tag`, or by digest only, whose config
        has the creation time `created` (RFC 3339) if given; returns the
        manifest digest."""
        config = {"architecture": "amd64", "os": "linux",
                  "config": {"Labels": {"test.sequence": str(next(self.sequence))}}}
        if created is not None:
            config["created"] = created
        config_data = json.dumps(config).encode()
        layer = b"lifecycle layer"
        config_digest = push_blob(self.berthd, repository, config_data)
        layer_digest = push_blob(self.berthd, repository, layer)
        manifest = image_manifest(config_digest, len(config_data), [(layer_digest, len(layer))])
        digest = sha256_digest(manifest)
        response = self.berthd.request("PUT", f"/v2/{repository}/manifests/{tag or digest}", body=manifest,
                                       headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(response.status, 201, response)
        return digest

    def manifest(self, repository, reference):
        response = self.berthd.request("GET", f"/v2/{repository}/manifests/{reference}",
                                       headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
        self.assertEqual(response.status, 200, response)
        return response

    def retag(self, repository, digest, tag):
        """Points another tag at a manifest of the repository."""
        existing = self.manifest(repository, digest)
        response = self.berthd.request("PUT", f"/v2/{repository}/manifests/{tag}", body=existing.body,
                                       headers={"Content-Type": existing.header("Content-Type")})
        self.assertEqual(response.status, 201, response)

    def push_index(self, repository, tag, children):
        """Pushes an OCI index of child manifests of the repository; returns its digest."""
        descriptors = [{"mediaType": OCI_MANIFEST, "digest": child,
                        "size": len(self.manifest(repository, child).body),
                        "platform": {"architecture": architecture, "os": "linux"}}
                       for child, architecture in zip(children, ("amd64", "arm64"))]
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}).encode()
        response = self.berthd.request("PUT", f"/v2/{repository}/manifests/{tag}", body=index,
                                       headers={"Content-Type": OCI_INDEX})
        self.assertEqual(response.status, 201, response)
        return sha256_digest(index)

    def live_digest(self, repository, reference):
        """The digest that a tag or digest of the repository resolves to, or
        None when no live manifest has it."""
        response = self.berthd.request("GET", f"/v2/{repository}/manifests/{reference}",
                                       headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
        if response.status == 404:
            return None
        self.assertEqual(response.status, 200, response)
        return response.header("Docker-Content-Digest")

    def trash(self, namespace):
        return self.call("listDeletedImages", query={"namespace": namespace}, expect=200).json()

    def push_retention_images(self, namespace):
        """Pushes the images that the retention tests rank and returns their
        digests by name. NAMESPACE/app gets an untagged image of 2019, v1 to
        v3 of 2020 to 2022, an image without a creation time tagged
        `undated`, and an index tagged `multi` of two images of 2018.
        NAMESPACE/web gets one image of 2020 tagged `latest`."""
        app, web = f"{namespace}/app", f"{namespace}/web"
        images = {"untagged": self.push(app, created="2019-06-01T00:00:00Z")}
        for tag, year in (("v1", 2020), ("v2", 2021), ("v3", 2022)):
            images[tag] = self.push(app, tag, created=f"{year}-01-01T00:00:00Z")
        images["undated"] = self.push(app, "undated")
        children = [self.push(app, created="2018-01-01T00:00:00Z") for _ in range(2)]
        images["multi"] = self.push_index(app, "multi", children)
        images["latest"] = self.push(web, "latest", created="2020-06-01T00:00:00Z")
        return images

    def retention_bad_bodies(self, namespace):
        """Request bodies that setRetentionPolicy and analyzeRetentionPolicy reject with 400."""
        bodies = [{}, {"namespace": ""}, {"namespace": 5, "images_per_repo": 1}, {"namespace": namespace},
                  {"namespace": namespace, "images_per_repo": None},
                  {"namespace": namespace, "images_per_repo": "2"},
                  {"namespace": namespace, "images_per_repo": -2},
                  {"namespace": namespace, "images_per_repo": 1, "retain_untagged": "yes"},
                  {"namespace": namespace, "images_per_repo": 1, "deletion_threshold_days": -1},
                  {"namespace": namespace, "images_per_repo": 1, "deletion_threshold_days": 1.5},
                  {"namespace": "other.example/" + namespace, "images_per_repo": 1}]
        return [b"[]", b"not json"] + [json.dumps(body).encode() for body in bodies]

    # --- Deleting ---------------------------------------------------------

    def test_delete_image(self):
        digest = self.push("lifecycle/deleted", "v1")
        self.retag("lifecycle/deleted", digest, "v2")
        deleted = self.call("deleteImage", {"image": "lifecycle/deleted:v1"}, expect=200).json()
        self.assertEqual(deleted, {"Untagged": self.full("lifecycle/deleted:v1")})
        self.assertIsNone(self.live_digest("lifecycle/deleted", "v2"), "the manifest's other tags go too")
        entry = self.trash("lifecycle")[self.full(f"lifecycle/deleted@{digest}")]
        self.assertEqual(entry, {"daysUntilExpiry": 30, "tags": ["v1", "v2"]})
        unknown = self.call("deleteImage", {"image": "lifecycle/deleted:v1"}, expect=404)
        self.assertEqual(unknown.error_codes(), ["MANIFEST_UNKNOWN"])

        by_digest = self.full(f"lifecycle/deleted@{self.push('lifecycle/deleted', 'v3')}")
        self.assertEqual(self.call("deleteImage", {"image": by_digest}, expect=200).json(), {"Untagged": by_digest})
        self.push("lifecycle/deleted", "v4")
        self.call("deleteImage", {"image": "lifecycle/deleted:v4"}, key=self.writer_key, expect=200)

        for image, code in (("noslash", "NAME_INVALID"), ("lifecycle/deleted@sha256:abc", "DIGEST_INVALID"),
                            ("lifecycle/deleted:-bad", "TAG_INVALID"),
                            ("other.example/lifecycle/deleted", "BAD_REQUEST")):
            with self.subTest(image=image):
                response = self.call("deleteImage", {"image": image}, expect=400)
                self.assertEqual(response.error_codes(), [code])
        self.assertEqual(self.percent_escape_error("deleteImage").error_codes(), ["BAD_REQUEST"])

        kept = self.push("lifecycle/deleted", "kept")
        denied = self.call("deleteImage", {"image": "lifecycle/deleted:kept"}, key=self.reader_key, expect=403)
        self.assert_denied_with_detail(denied, "lifecycle", "image.delete")
        self.call("deleteImage", {"image": "lifecycle/deleted:kept"}, key=self.plain_key, expect=403)
        missing = self.call("deleteImage", {"image": "nosuchns/app:v1"}, expect=403)
        self.assertEqual(missing.json()["errors"][0]["detail"], {"namespace": "nosuchns"})
        self.call("deleteImage", {"image": "theirs/app:v1"}, expect=403)
        self.assertEqual(self.live_digest("lifecycle/deleted", "kept"), kept)

        # A child of an index cannot be deleted, by digest or by tag, while
        # the index is live. Deleting the index takes along the children
        # that no tag keeps.
        children = [self.push("lifecycle/multi"), self.push("lifecycle/multi")]
        index = self.push_index("lifecycle/multi", "latest", children)
        self.retag("lifecycle/multi", children[0], "amd64")
        conflict = self.call("deleteImage", {"image": f"lifecycle/multi@{children[1]}"}, expect=409)
        self.assertEqual(conflict.json()["errors"][0]["detail"], {"digest": children[1], "index": index})
        self.assertIn(index, conflict.json()["errors"][0]["message"])
        self.call("deleteImage", {"image": "lifecycle/multi:amd64"}, expect=409)
        self.call("deleteImage", {"image": "lifecycle/multi:latest"}, expect=200)
        self.assertIsNone(self.live_digest("lifecycle/multi", children[1]))
        self.assertEqual(self.live_digest("lifecycle/multi", "amd64"), children[0])
        trash = self.trash("lifecycle")
        self.assertIn(self.full(f"lifecycle/multi@{index}"), trash)
        self.assertNotIn(self.full(f"lifecycle/multi@{children[1]}"), trash, "children are not listed")
        self.call("deleteImage", {"image": "lifecycle/multi:amd64"}, expect=200)
        self.assert_statuses_covered("deleteImage")

    def test_registry_delete_uses_trash(self):
        """Checks what the document's description states about the registry
        API's DELETE by digest: it moves the manifest to the trash, and a
        child of an index gets 409."""
        digest = self.push("lifecycle/registry", "v1")
        response = self.berthd.request("DELETE", f"/v2/lifecycle/registry/manifests/{digest}")
        self.assertEqual(response.status, 202, response)
        self.assertEqual(self.trash("lifecycle")[self.full(f"lifecycle/registry@{digest}")]["tags"], ["v1"])
        restored = self.call("restoreTags", {"image": f"lifecycle/registry@{digest}"}, expect=200).json()
        self.assertEqual(restored, {"successful": ["v1"], "unsuccessful": []})

        children = [self.push("lifecycle/registrymulti"), self.push("lifecycle/registrymulti")]
        index = self.push_index("lifecycle/registrymulti", "latest", children)
        response = self.berthd.request("DELETE", f"/v2/lifecycle/registrymulti/manifests/{children[0]}")
        self.assertEqual(response.status, 409, response)
        self.assertEqual(response.error_codes(), ["CONFLICT"])
        self.assertEqual(response.json()["errors"][0]["detail"], {"digest": children[0], "index": index})

    def test_bulk_delete_images(self):
        first = self.push("lifecycle/bulk", "first")
        second = self.push("lifecycle/bulk", "second")
        children = [self.push("lifecycle/bulkmulti"), self.push("lifecycle/bulkmulti")]
        self.push_index("lifecycle/bulkmulti", "latest", children)
        unknown = "lifecycle/bulk@sha256:" + "0" * 64
        child = f"lifecycle/bulkmulti@{children[0]}"
        request = [f"lifecycle/bulk@{first}", self.full(f"lifecycle/bulk@{second}"), unknown, "noslash", child]
        result = self.call("bulkDeleteImages", body=request, expect=200).json()
        self.assertEqual(result["success"], request[:2])
        codes = {reference: entry["code"] for reference, entry in result["error"].items()}
        self.assertEqual(codes, {unknown: "MANIFEST_UNKNOWN", "noslash": "NAME_INVALID", child: "CONFLICT"})
        trash = self.trash("lifecycle")
        self.assertIn(self.full(f"lifecycle/bulk@{first}"), trash)
        self.assertIn(self.full(f"lifecycle/bulk@{second}"), trash)

        twice = f"lifecycle/bulk@{self.push('lifecycle/bulk', 'twice')}"
        result = self.call("bulkDeleteImages", body=[twice, twice], expect=200).json()
        self.assertEqual(result["success"], [twice])
        self.assertEqual(result["error"][twice]["code"], "MANIFEST_UNKNOWN")
        self.assertEqual(self.call("bulkDeleteImages", body=[], expect=200).json(), {"success": [], "error": {}})

        # The request needs no role, but each image needs image.delete.
        kept = f"lifecycle/bulk@{self.push('lifecycle/bulk', 'kept')}"
        for key in (self.reader_key, self.plain_key):
            result = self.call("bulkDeleteImages", body=[kept], key=key, expect=200).json()
            self.assertEqual(result["success"], [])
            self.assertEqual(result["error"][kept]["code"], "DENIED")
        result = self.call("bulkDeleteImages", body=[kept], key=self.writer_key, expect=200).json()
        self.assertEqual(result, {"success": [kept], "error": {}})

        bad_bodies = [b"{}", b"not json", b'"lifecycle/bulk:first"', json.dumps([1]).encode(),
                      json.dumps(["x" * (1024 * 1024)]).encode()]
        for raw in bad_bodies:
            with self.subTest(body=raw[:40]):
                response = self.call("bulkDeleteImages", raw_body=raw, headers={"Content-Type": "application/json"},
                                     expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        # Every item is checked first, so an item that is not a string
        # leaves the images before it alone.
        digest = self.push('lifecycle/bulk', 'partial')
        self.call("bulkDeleteImages", body=[f"lifecycle/bulk@{digest}", 5], check_request=False, expect=400)
        self.assertEqual(self.live_digest("lifecycle/bulk", "partial"), digest)
        self.assert_account_mismatch_denied("bulkDeleteImages")
        self.assert_statuses_covered("bulkDeleteImages")

    # --- Trash ------------------------------------------------------------

    def test_list_deleted_images(self):
        self.berthd.create_namespace("lifecycle2")
        first = self.push("lifecycle/listed", "v1")
        second = self.push("lifecycle2/listed", "v1")
        self.call("deleteImage", {"image": "lifecycle/listed:v1"}, expect=200)
        self.call("deleteImage", {"image": f"lifecycle2/listed@{second}"}, expect=200)
        first_key = self.full(f"lifecycle/listed@{first}")
        second_key = self.full(f"lifecycle2/listed@{second}")

        everything = self.call("listDeletedImages", expect=200).json()
        self.assertEqual(everything[first_key], {"daysUntilExpiry": 30, "tags": ["v1"]})
        self.assertEqual(everything[second_key], {"daysUntilExpiry": 30, "tags": ["v1"]})
        self.assertEqual(list(everything), sorted(everything))
        self.assertEqual(list(self.trash("lifecycle2")), [second_key])
        self.assertEqual(list(self.trash(self.full("lifecycle2"))), [second_key])
        both = self.call("listDeletedImages", query={"namespace": ["lifecycle", "lifecycle2"]}, expect=200).json()
        self.assertIn(first_key, both)
        self.assertIn(second_key, both)
        self.assertEqual(self.trash("nosuchns"), {})
        self.assertEqual(self.trash("theirs"), {})

        # Only namespaces with image.list are listed; Writer has none.
        by_reader = self.call("listDeletedImages", key=self.reader_key, expect=200).json()
        self.assertIn(first_key, by_reader)
        self.assertNotIn(second_key, by_reader)
        self.assertEqual(self.call("listDeletedImages", key=self.writer_key, expect=200).json(), {})

        response = self.call("listDeletedImages", query={"namespace": "other.example/lifecycle"}, expect=400)
        self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        self.assert_account_mismatch_denied("listDeletedImages")
        self.assert_statuses_covered("listDeletedImages")

    def test_restore_tags(self):
        digest = self.push("lifecycle/back", "v1")
        self.retag("lifecycle/back", digest, "v2")
        self.call("deleteImage", {"image": "lifecycle/back:v1"}, expect=200)
        # v2 points at another image by now, so only v1 comes back.
        newer = self.push("lifecycle/back", "v2")
        reference = f"lifecycle/back@{digest}"
        denied = self.call("restoreTags", {"image": reference}, key=self.reader_key, expect=403)
        self.assert_denied_with_detail(denied, "lifecycle", "image.push")
        self.call("restoreTags", {"image": reference}, key=self.plain_key, expect=403)
        restored = self.call("restoreTags", {"image": reference}, key=self.writer_key, expect=200).json()
        self.assertEqual(restored, {"successful": ["v1"], "unsuccessful": ["v2"]})
        self.assertEqual(self.live_digest("lifecycle/back", "v1"), digest)
        self.assertEqual(self.live_digest("lifecycle/back", "v2"), newer)
        # The tag left in the trash keeps the entry listed.
        self.assertEqual(self.trash("lifecycle")[self.full(reference)]["tags"], ["v2"])
        again = self.call("restoreTags", {"image": self.full(reference)}, expect=200).json()
        self.assertEqual(again, {"successful": [], "unsuccessful": ["v2"]})

        # An index comes back with the children that went with it.
        children = [self.push("lifecycle/multiback"), self.push("lifecycle/multiback")]
        index = self.push_index("lifecycle/multiback", "latest", children)
        self.call("deleteImage", {"image": "lifecycle/multiback:latest"}, expect=200)
        self.assertIsNone(self.live_digest("lifecycle/multiback", children[0]))
        restored = self.call("restoreTags", {"image": f"lifecycle/multiback@{index}"}, expect=200).json()
        self.assertEqual(restored, {"successful": ["latest"], "unsuccessful": []})
        for child in children:
            with self.subTest(child=child):
                self.assertEqual(self.live_digest("lifecycle/multiback", child), child)

        missing = "lifecycle/back@sha256:" + "0" * 64
        not_found = self.call("restoreTags", {"image": missing}, expect=404)
        self.assertEqual(not_found.error_codes(), ["NOT_FOUND"])
        self.assertEqual(not_found.json()["errors"][0]["detail"], {"image": self.full(missing)})
        for image, code in (("lifecycle/back:v1", "BAD_REQUEST"), ("lifecycle/back", "BAD_REQUEST"),
                            ("lifecycle/back@sha256:abc", "DIGEST_INVALID"), (f"noslash@{digest}", "NAME_INVALID"),
                            (f"other.example/lifecycle/back@{digest}", "BAD_REQUEST")):
            with self.subTest(image=image):
                response = self.call("restoreTags", {"image": image}, expect=400)
                self.assertEqual(response.error_codes(), [code])
        self.assertEqual(self.percent_escape_error("restoreTags").error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("restoreTags")

    def test_restore_image(self):
        digest = self.push("lifecycle/one", "v1")
        self.retag("lifecycle/one", digest, "v2")
        self.call("deleteImage", {"image": "lifecycle/one:v1"}, expect=200)
        denied = self.call("restoreImage", {"image": "lifecycle/one:v1"}, key=self.reader_key, expect=403)
        self.assert_denied_with_detail(denied, "lifecycle", "image.push")
        self.call("restoreImage", {"image": "lifecycle/one:v1"}, key=self.plain_key, expect=403)
        restored = self.call("restoreImage", {"image": "lifecycle/one:v1"}, key=self.writer_key, expect=200)
        self.assertEqual(restored.json(), {})
        # Only the named tag comes back, and the entry keeps the other one.
        self.assertEqual(self.live_digest("lifecycle/one", "v1"), digest)
        self.assertIsNone(self.live_digest("lifecycle/one", "v2"))
        entry = self.full(f"lifecycle/one@{digest}")
        self.assertEqual(self.trash("lifecycle")[entry]["tags"], ["v2"])
        self.call("restoreImage", {"image": self.full("lifecycle/one:v2")}, expect=200)
        self.assertNotIn(entry, self.trash("lifecycle"))
        not_found = self.call("restoreImage", {"image": "lifecycle/one:v1"}, expect=404)
        self.assertEqual(not_found.json()["errors"][0]["detail"], {"image": self.full("lifecycle/one:v1")})

        # A tag that points at another image by now gets 409, and restoring
        # by digest leaves that tag where it is.
        old = self.push("lifecycle/one", "v3")
        self.call("deleteImage", {"image": "lifecycle/one:v3"}, expect=200)
        new = self.push("lifecycle/one", "v3")
        conflict = self.call("restoreImage", {"image": "lifecycle/one:v3"}, expect=409)
        self.assertEqual(conflict.error_codes(), ["CONFLICT"])
        self.assertEqual(conflict.json()["errors"][0]["message"],
                         "CRT0500E The tagged image already exists. You can restore this image by using the digest.")
        self.assertEqual(conflict.json()["errors"][0]["detail"], {"image": self.full("lifecycle/one:v3")})
        by_digest = self.call("restoreImage", {"image": f"lifecycle/one@{old}"}, expect=200).json()
        self.assertEqual(by_digest, {"successful": [], "unsuccessful": ["v3"]})
        self.assertEqual(self.live_digest("lifecycle/one", old), old)
        self.assertEqual(self.live_digest("lifecycle/one", "v3"), new)

        # Without a tag or digest the reference names the tag latest.
        latest = self.push("lifecycle/one", "latest")
        self.call("deleteImage", {"image": "lifecycle/one"}, expect=200)
        self.call("restoreImage", {"image": "lifecycle/one"}, expect=200)
        self.assertEqual(self.live_digest("lifecycle/one", "latest"), latest)

        for image, code in (("noslash", "NAME_INVALID"), ("lifecycle/one:-bad", "TAG_INVALID"),
                            ("lifecycle/one@sha256:abc", "DIGEST_INVALID"),
                            ("other.example/lifecycle/one:v1", "BAD_REQUEST")):
            with self.subTest(image=image):
                response = self.call("restoreImage", {"image": image}, expect=400)
                self.assertEqual(response.error_codes(), [code])
        self.assertEqual(self.percent_escape_error("restoreImage").error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("restoreImage")

    # --- Retention --------------------------------------------------------

    def test_list_retention_policies(self):
        self.berthd.create_namespace("listpolicy")
        self.call("setRetentionPolicy", body={"namespace": "listpolicy", "images_per_repo": 5,
                                              "deletion_threshold_days": 10}, expect=201)
        policies = self.call("listRetentionPolicies", expect=200).json()
        self.assertEqual(policies["listpolicy"], {"namespace": "listpolicy", "account": self.account_id,
                                                  "images_per_repo": 5, "retain_untagged": False,
                                                  "deletion_threshold_days": 10})
        self.assertEqual(policies["lifecycle"], {"namespace": "lifecycle", "account": self.account_id,
                                                 "images_per_repo": -1, "retain_untagged": False})
        self.assertNotIn("theirs", policies)

        # retention.list is checked on the account, not on a namespace.
        _, _, account_reader = self.service_id_with_key("retention-lister", [("Reader", "")])
        by_reader = self.call("listRetentionPolicies", key=account_reader, expect=200).json()
        self.assertEqual(by_reader["listpolicy"], policies["listpolicy"])
        self.call("listRetentionPolicies", key=self.reader_key, expect=403)
        self.call("listRetentionPolicies", key=self.plain_key, expect=403)
        self.assert_statuses_covered("listRetentionPolicies")

    def test_get_retention_policy(self):
        self.berthd.create_namespace("getpolicy")
        self.call("setRetentionPolicy", body={"namespace": "getpolicy", "images_per_repo": 3, "retain_untagged": True},
                  expect=201)
        expected = {"namespace": "getpolicy", "account": self.account_id, "images_per_repo": 3,
                    "retain_untagged": True}
        self.assertEqual(self.call("getRetentionPolicy", {"namespace": "getpolicy"}, expect=200).json(), expected)
        with_domain = self.call("getRetentionPolicy", {"namespace": self.full("getpolicy")}, expect=200).json()
        self.assertEqual(with_domain, expected)
        default = self.call("getRetentionPolicy", {"namespace": "lifecycle"}, key=self.reader_key, expect=200).json()
        self.assertEqual(default, {"namespace": "lifecycle", "account": self.account_id, "images_per_repo": -1,
                                   "retain_untagged": False})

        denied = self.call("getRetentionPolicy", {"namespace": "getpolicy"}, key=self.reader_key, expect=403)
        self.assert_denied_with_detail(denied, "getpolicy", "retention.get")
        denied = self.call("getRetentionPolicy", {"namespace": "lifecycle"}, key=self.writer_key, expect=403)
        self.assert_denied_with_detail(denied, "lifecycle", "retention.get")
        missing = self.call("getRetentionPolicy", {"namespace": "nosuchns"}, expect=403)
        self.assertEqual(missing.json()["errors"][0]["detail"], {"namespace": "nosuchns"})
        foreign = self.call("getRetentionPolicy", {"namespace": "theirs"}, expect=403)
        self.assertNotIn("detail", foreign.json()["errors"][0])

        response = self.call("getRetentionPolicy", {"namespace": "other.example/getpolicy"}, expect=400)
        self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        self.assertEqual(self.percent_escape_error("getRetentionPolicy").error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("getRetentionPolicy")

    def test_set_retention_policy(self):
        self.berthd.create_namespace("retained")
        images = self.push_retention_images("retained")
        _, _, reader_key = self.service_id_with_key("retained-reader", [("Reader", "retained")])
        _, _, writer_key = self.service_id_with_key("retained-writer", [("Writer", "retained")])
        policy = {"namespace": self.full("retained"), "images_per_repo": 1, "retain_untagged": True}

        denied = self.call("setRetentionPolicy", body=policy, key=reader_key, expect=403)
        self.assert_denied_with_detail(denied, "retained", "retention.set")
        self.call("setRetentionPolicy", body=policy, key=self.plain_key, expect=403)
        missing = self.call("setRetentionPolicy", body={"namespace": "nosuchns", "images_per_repo": 1}, expect=403)
        self.assertEqual(missing.json()["errors"][0]["detail"], {"namespace": "nosuchns"})
        self.call("setRetentionPolicy", body={"namespace": "theirs", "images_per_repo": 1}, expect=403)
        for raw in self.retention_bad_bodies("retained"):
            with self.subTest(body=raw):
                response = self.call("setRetentionPolicy", raw_body=raw, headers={"Content-Type": "application/json"},
                                     expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        # A policy belongs to a whole namespace, never to a repository.
        invalid = self.call("setRetentionPolicy", body={"namespace": "retained/app", "images_per_repo": 0},
                            expect=400)
        self.assertEqual(invalid.error_codes(), ["NAME_INVALID"])
        self.assertEqual(invalid.json()["errors"][0]["detail"], {"namespace": "retained/app"})
        self.assertEqual(self.trash("retained"), {}, "rejected requests delete nothing")

        # A threshold of 100 years keeps every image, even with images_per_repo 0.
        threshold = {"namespace": "retained", "images_per_repo": 0, "deletion_threshold_days": 36500}
        applied = self.call("setRetentionPolicy", body=threshold, key=writer_key, expect=201).json()
        self.assertEqual(applied, {"deleted": []})
        stored = self.call("getRetentionPolicy", {"namespace": "retained"}, expect=200).json()
        self.assertEqual((stored["images_per_repo"], stored["deletion_threshold_days"]), (0, 36500))

        applied = self.call("setRetentionPolicy", body=policy, expect=201).json()
        expected = [self.full(f"retained/app@{images['v1']}"), self.full(f"retained/app@{images['v2']}")]
        self.assertEqual(applied, {"deleted": expected})
        self.assertEqual(sorted(self.trash("retained")), sorted(expected))
        for name in ("untagged", "v3", "undated", "multi"):
            with self.subTest(image=name):
                self.assertEqual(self.live_digest("retained/app", images[name]), images[name])
        self.assertEqual(self.live_digest("retained/web", "latest"), images["latest"])
        stored = self.call("getRetentionPolicy", {"namespace": "retained"}, expect=200).json()
        self.assertEqual(stored, {"namespace": "retained", "account": self.account_id, "images_per_repo": 1,
                                  "retain_untagged": True})

        # -1 without a threshold or retain_untagged removes the stored policy.
        applied = self.call("setRetentionPolicy", body={"namespace": "retained", "images_per_repo": -1}, expect=201)
        self.assertEqual(applied.json(), {"deleted": []})
        stored = self.call("getRetentionPolicy", {"namespace": "retained"}, expect=200).json()
        self.assertEqual((stored["images_per_repo"], stored["retain_untagged"]), (-1, False))
        self.assert_account_mismatch_denied("setRetentionPolicy")
        self.assert_statuses_covered("setRetentionPolicy")

    def test_analyze_retention_policy(self):
        self.berthd.create_namespace("analyzed")
        images = self.push_retention_images("analyzed")
        app, web = self.full("analyzed/app"), self.full("analyzed/web")

        def references(repository, *names):
            return [self.full(f"analyzed/{repository}@{images[name]}") for name in names]

        def analyze(body, key=None, expect=200):
            return self.call("analyzeRetentionPolicy", body=body, key=key, expect=expect)

        self.assertEqual(analyze({"namespace": "analyzed", "images_per_repo": 1}).json(),
                         {app: references("app", "untagged", "v1", "v2")})
        self.assertEqual(analyze({"namespace": "analyzed", "images_per_repo": 1, "retain_untagged": True}).json(),
                         {app: references("app", "v1", "v2")})
        # Undated images and indexes with their children are never selected.
        everything = {"namespace": self.full("analyzed"), "images_per_repo": 0, "retain_untagged": None,
                      "deletion_threshold_days": None}
        self.assertEqual(analyze(everything).json(),
                         {app: references("app", "untagged", "v1", "v2", "v3"), web: references("web", "latest")})
        # A threshold keeps the images younger than it, here v3 of 2022.
        days = (datetime.datetime.now(datetime.timezone.utc)
                - datetime.datetime(2021, 7, 1, tzinfo=datetime.timezone.utc)).days
        younger_kept = analyze({"namespace": "analyzed", "images_per_repo": 0, "deletion_threshold_days": days})
        self.assertEqual(younger_kept.json(),
                         {app: references("app", "untagged", "v1", "v2"), web: references("web", "latest")})
        self.assertEqual(analyze({"namespace": "analyzed", "images_per_repo": -1}).json(), {})
        self.assertEqual(self.trash("analyzed"), {}, "analyzing deletes nothing")

        # retention.analyze belongs to Reader and Manager, not Writer.
        _, _, reader_key = self.service_id_with_key("analyze-reader", [("Reader", "")])
        self.assertEqual(analyze({"namespace": "analyzed", "images_per_repo": 1}, key=reader_key).json(),
                         {app: references("app", "untagged", "v1", "v2")})
        _, _, writer_key = self.service_id_with_key("analyze-writer", [("Writer", "analyzed")])
        denied = analyze({"namespace": "analyzed", "images_per_repo": 1}, key=writer_key, expect=403)
        self.assert_denied_with_detail(denied, "analyzed", "retention.analyze")
        analyze({"namespace": "analyzed", "images_per_repo": 1}, key=self.plain_key, expect=403)
        missing = analyze({"namespace": "nosuchns", "images_per_repo": 1}, expect=403)
        self.assertEqual(missing.json()["errors"][0]["detail"], {"namespace": "nosuchns"})
        for raw in self.retention_bad_bodies("analyzed"):
            with self.subTest(body=raw):
                response = self.call("analyzeRetentionPolicy", raw_body=raw,
                                     headers={"Content-Type": "application/json"}, expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        self.assert_statuses_covered("analyzeRetentionPolicy")


OSV_FIXTURES = ROOT / "tests" / "fixtures" / "osv"
# The CVEs of the fixture advisories that vulnerable:latest has, both in
# libexpat1: the first through two security notices, the second through
# DSA_NOTICE only.
EXPAT_CVE = "CVE-2022-40674"
SECOND_EXPAT_CVE = "CVE-2022-43680"
EXPAT_NOTICE = "DEBIAN-CVE-2022-40674"
DSA_NOTICE = "DSA-5242-1"
# How long berthd's indexing worker may take to read the pushed fixture images.
INDEX_TIMEOUT_SECONDS = 180
EMPTY_SCOPE = {"scope_type": "account", "namespace": "", "repository": "", "tag": "", "digest": ""}
EMPTY_OS = {"distribution_id": "", "version_id": "", "version_code_name": ""}


def summary_counts(active, exempt):
    """The counts of a ScanreportSummary with `active` and `exempt` vulnerabilities."""
    return {"issue_count": active, "vulnerability_count": active, "exempt_issue_count": exempt,
            "exempt_vulnerability_count": exempt, "configuration_issue_count": 0,
            "exempt_configuration_issue_count": 0}


def issue_ids(exemptions):
    return sorted(exemption["issue_id"] for exemption in exemptions)


class VaApiTest(ConformanceTestCase):
    """The Vulnerability Advisor's operations, on fixture images pushed with
    skopeo and the OSV fixture advisories imported with `berthd admin
    va-import`: vaimgs/busybox has no OS release (UNSUPPORTED),
    vaimgs/debian is the bookworm minbase (OK), and vaimgs/vulnerable adds
    bullseye's libexpat1 to it (FAIL). vaimgs/exempted is the same image as
    vaimgs/vulnerable, for the tests that exempt its issues. Every test
    removes the exemptions it creates, so the reports stay as described."""

    @classmethod
    def set_up_server(cls):
        if shutil.which("skopeo") is None:
            raise RuntimeError("skopeo not found on PATH. Install the test clients with scripts/bootstrap.")
        cls.create_identities()
        cls.domain = cls.berthd.address
        cls.berthd.create_namespace("vaimgs")
        for fixture, target in (("busybox:latest", "vaimgs/busybox:latest"),
                                ("debian:bookworm", "vaimgs/debian:bookworm"),
                                ("vulnerable:latest", "vaimgs/vulnerable:latest")):
            cls.skopeo_copy(fixture, target, cls.manager_key)
        cls.debian_digest = fixture_manifest_digest("debian", "bookworm")
        cls.vulnerable_digest = fixture_manifest_digest("vulnerable", "latest")
        # The inventory belongs to the digest, so the copy needs no indexing of its own.
        copy = urllib.parse.urlencode({"fromimage": "vaimgs/vulnerable:latest", "toimage": "vaimgs/exempted:latest"})
        copied = cls.berthd.request("POST", "/api/v1/images/tags?" + copy)
        assert copied.status == 201, copied

        other = {"Authorization": cls.berthd.basic_auth(cls.other_key)}
        created = cls.berthd.request("PUT", "/api/v1/namespaces/theirs", headers=other)
        assert created.status == 201, created
        cls.skopeo_copy("busybox:latest", "theirs/app:latest", cls.other_key)

        # Reader on vaimgs may read reports and exemptions, but Writer may
        # not. The account-wide Reader may also read the account scope.
        cls.reader_key = cls.service_id_key_for_class("va-reader", "Reader", "vaimgs")
        cls.writer_key = cls.service_id_key_for_class("va-writer", "Writer", "vaimgs")
        cls.account_reader_key = cls.service_id_key_for_class("va-account-reader", "Reader", "")
        cls.namespace_manager_key = cls.service_id_key_for_class("va-ns-manager", "Manager", "vaimgs")

        cls.import_output = cls.admin("va-import", str(OSV_FIXTURES / "advisories"))
        cls.wait_indexed("vaimgs/busybox:latest", "vaimgs/debian:bookworm", "vaimgs/vulnerable:latest")

    @classmethod
    def wait_indexed(cls, *images):
        """Waits until the indexing worker has read each image, which
        getImageStatus shows as a status other than UNSCANNED."""
        deadline = time.monotonic() + INDEX_TIMEOUT_SECONDS
        for image in images:
            path = "/va/api/v4/report/image/status/" + urllib.parse.quote(image, safe="")
            while True:
                response = cls.berthd.request("GET", path)
                assert response.status == 200, response
                if response.json()["status"] != "UNSCANNED":
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{image} was not indexed within {INDEX_TIMEOUT_SECONDS} s; berthd log:\n"
                                         f"{cls.berthd.log_text()[-3000:]}")
                time.sleep(0.2)

    def full(self, reference):
        """The reference with the registry's domain, as responses spell it."""
        return f"{self.domain}/{reference}"

    def report(self, image, key=None):
        return self.call("getImageReport", {"image": image}, key=key, expect=200).json()

    def summary(self, image, key=None):
        return self.call("getImageStatus", {"image": image}, key=key, expect=200).json()

    @staticmethod
    def vulnerability(report, cve_id):
        return next((vulnerability for vulnerability in report["vulnerabilities"]
                     if vulnerability["cve_id"] == cve_id), None)

    def exemption(self, path, key=None):
        """Creates the exemption that an exempt/image path names, removed
        again when the test ends; returns it."""
        created = self.call("createExemption", {"image": path}, key=key, expect=201).json()
        self.addCleanup(self.remove_exemption, path, key)
        return created

    def remove_exemption(self, path, key=None):
        response = self.berthd.request("DELETE", "/va/api/v4/exempt/image/" + urllib.parse.quote(path, safe=""),
                                       headers={"Authorization": self.berthd.basic_auth(key)})
        self.assertIn(response.status, (200, 404), response)

    def assert_issue_codes(self, operation_id, cases, **kwargs):
        """Checks that each (image parameter, error code) of `cases` gets 400 with that code."""
        for image, code in cases:
            with self.subTest(operation=operation_id, image=image):
                response = self.call(operation_id, {"image": image}, expect=400, **kwargs)
                self.assertEqual(response.error_codes(), [code])

    # --- Reports ----------------------------------------------------------

    def test_get_image_report(self):
        report = self.report("vaimgs/vulnerable:latest")
        self.assertEqual(report["id"], self.full("vaimgs/vulnerable:latest"))
        self.assertEqual(report["digest"], self.vulnerable_digest)
        self.assertEqual(report["status"], "FAIL")
        self.assertEqual(report["reason"], "")
        self.assertGreater(report["scan_time"], 0)
        self.assertEqual(report["os_distribution"],
                         {"distribution_id": "debian", "version_id": "12", "version_code_name": "bookworm"})
        self.assertEqual(report["configuration_issues"], [])
        # zlib's advisory fixes a version older than bookworm's, tar's has
        # no fix, and Debian's kernel advisories are skipped.
        self.assertEqual([v["cve_id"] for v in report["vulnerabilities"]], [EXPAT_CVE, SECOND_EXPAT_CVE])

        first = self.vulnerability(report, EXPAT_CVE)
        self.assertEqual((first["cve_exempt"], first["exempt_status"]), (False, "active"))
        self.assertEqual([notice["notice_id"] for notice in first["security_notices"]], [EXPAT_NOTICE, DSA_NOTICE])
        self.assertEqual(first["summary"], first["security_notices"][0]["summary"], "the CVE's own advisory")
        counts = (first["security_notice_count"], first["exempt_security_notice_count"],
                  first["total_security_notice_count"])
        self.assertEqual(counts, (2, 0, 2))
        fixes = {}
        for notice in first["security_notices"]:
            with self.subTest(notice=notice["notice_id"]):
                self.assertEqual(notice["notice"], notice["summary"])
                self.assertFalse(notice["notice_exempt"])
                self.assertEqual(len(notice["vulnerable_packages"]), 1, notice)
                package = notice["vulnerable_packages"][0]
                self.assertEqual(package["package_name"], "libexpat1")
                self.assertTrue(package["installed_version"].startswith("2.2.10-2+deb11u"), package)
                self.assertEqual(package["corrective_action"], f"Upgrade libexpat1 to at least {package['fix_version']}")
                fixes[notice["notice_id"]] = package["fix_version"]
        self.assertEqual(fixes, {EXPAT_NOTICE: "2.4.9-1", DSA_NOTICE: "2.5.0-1"})
        second = self.vulnerability(report, SECOND_EXPAT_CVE)
        self.assertEqual([notice["notice_id"] for notice in second["security_notices"]], [DSA_NOTICE])

        # By digest, with the domain, and with '/' not encoded.
        by_digest = self.report(self.full(f"vaimgs/vulnerable@{self.vulnerable_digest}"))
        self.assertEqual(by_digest["id"], self.full(f"vaimgs/vulnerable@{self.vulnerable_digest}"))
        self.assertEqual(by_digest["vulnerabilities"], report["vulnerabilities"])
        path = "/va/api/v4/report/image/vaimgs/vulnerable"
        raw = self.berthd.request("GET", path)
        self.check_response("getImageReport", "GET", path, raw)
        self.assertEqual(raw.json(), report)

        debian = self.report("vaimgs/debian:bookworm")
        self.assertEqual((debian["status"], debian["reason"], debian["vulnerabilities"]), ("OK", "", []))
        self.assertEqual(debian["digest"], self.debian_digest)
        busybox = self.report("vaimgs/busybox", key=self.reader_key)
        self.assertEqual(busybox["status"], "UNSUPPORTED")
        self.assertNotEqual(busybox["reason"], "")
        self.assertGreater(busybox["scan_time"], 0)
        self.assertEqual(busybox["os_distribution"], EMPTY_OS)
        self.assertEqual(busybox["vulnerabilities"], [])

        self.assert_issue_codes("getImageReport", [
            ("noslash", "NAME_INVALID"), ("vaimgs/busybox@sha256:abc", "DIGEST_INVALID"),
            ("vaimgs/busybox:-bad", "TAG_INVALID"), ("other.example/vaimgs/busybox", "BAD_REQUEST")])
        self.assertEqual(self.percent_escape_error("getImageReport").error_codes(), ["BAD_REQUEST"])
        denied = self.call("getImageReport", {"image": "vaimgs/busybox"}, key=self.writer_key, expect=403)
        self.assert_denied_with_detail(denied, "vaimgs", "exemption.list")
        self.call("getImageReport", {"image": "vaimgs/busybox"}, key=self.plain_key, expect=403)
        foreign = self.call("getImageReport", {"image": "theirs/app"}, expect=403)
        self.assertNotIn("detail", foreign.json()["errors"][0])
        missing = self.call("getImageReport", {"image": "nosuchns/app"}, expect=403)
        self.assertEqual(missing.json()["errors"][0]["detail"], {"namespace": "nosuchns"})
        unknown = self.call("getImageReport", {"image": "vaimgs/busybox:missing"}, expect=404)
        self.assertEqual(unknown.error_codes(), ["MANIFEST_UNKNOWN"])
        self.assertEqual(unknown.json()["errors"][0]["detail"],
                         {"image": self.full("vaimgs/busybox:missing"), "name": "vaimgs/busybox"})
        self.assert_account_mismatch_denied("getImageReport", {"image": "vaimgs/busybox"})
        self.assert_statuses_covered("getImageReport")

    def test_unindexed_image_gets_bxnva0009e(self):
        """A berthd whose indexing worker is off keeps a pushed image
        queued: its status is UNSCANNED, and its report is a 404 with the
        hosted registry's BXNVA0009E message."""
        workdir = Path(tempfile.mkdtemp(prefix="berth-openapi-va-"))
        self.addCleanup(shutil.rmtree, workdir, True)
        server = Berthd(workdir / "data", env={"BERTH_VA_ENABLED": "false"}).start()
        self.addCleanup(server.stop)
        _, digest = push_image(server, "queued/app", "v1")

        status = self.call("getImageStatus", {"image": "queued/app:v1"}, server=server, expect=200).json()
        self.assertEqual(status, {"status": "UNSCANNED", "scan_time": 0, **summary_counts(0, 0)})
        assessments = self.call("getAccountReport", server=server, expect=200).json()["assessments"]
        listed = assessments[f"{server.address}/queued/app:v1"]
        self.assertEqual((listed["status"], listed["scan_time"], listed["vulnerabilities"]), ("UNSCANNED", 0, []))
        images = self.call("listImages", server=server, expect=200).json()
        self.assertEqual(images[0]["SecurityStatus"], {"Status": "UNSCANNED", "IssueCount": 0, "ExemptionCount": 0})

        for reference in ("queued/app:v1", f"queued/app@{digest}"):
            with self.subTest(image=reference):
                response = self.call("getImageReport", {"image": reference}, server=server, expect=404)
                name = f"{server.address}/{reference}"
                self.assertEqual(response.error_codes(), ["NOT_FOUND"])
                error = response.json()["errors"][0]
                self.assertEqual(error["message"], f"BXNVA0009E: '{name}' has not been scanned. Try again later.")
                self.assertEqual(error["detail"], {"code": "BXNVA0009E", "image": name})

    def test_get_image_status(self):
        report = self.report("vaimgs/vulnerable:latest")
        self.assertEqual(self.summary("vaimgs/vulnerable:latest"),
                         {"status": "FAIL", "scan_time": report["scan_time"], **summary_counts(2, 0)})
        busybox = self.summary(self.full("vaimgs/busybox:latest"), key=self.reader_key)
        self.assertEqual(busybox["status"], "UNSUPPORTED")
        self.assertEqual(busybox["vulnerability_count"], 0)
        self.assertEqual(self.summary(f"vaimgs/debian@{self.debian_digest}")["status"], "OK")

        self.assert_issue_codes("getImageStatus", [("noslash", "NAME_INVALID"),
                                                   ("other.example/vaimgs/busybox", "BAD_REQUEST")])
        self.assertEqual(self.percent_escape_error("getImageStatus").error_codes(), ["BAD_REQUEST"])
        denied = self.call("getImageStatus", {"image": "vaimgs/busybox"}, key=self.writer_key, expect=403)
        self.assert_denied_with_detail(denied, "vaimgs", "exemption.list")
        self.call("getImageStatus", {"image": "theirs/app"}, expect=403)
        unknown = self.call("getImageStatus", {"image": "vaimgs/busybox:missing"}, expect=404)
        self.assertEqual(unknown.error_codes(), ["MANIFEST_UNKNOWN"])
        self.assert_account_mismatch_denied("getImageStatus", {"image": "vaimgs/busybox"})
        self.assert_statuses_covered("getImageStatus")

    def test_get_account_report(self):
        assessments = self.call("getAccountReport", expect=200).json()["assessments"]
        names = {self.full(name) for name in ("vaimgs/busybox:latest", "vaimgs/debian:bookworm",
                                              "vaimgs/vulnerable:latest", "vaimgs/exempted:latest")}
        self.assertLessEqual(names, set(assessments))
        self.assertEqual([name for name in assessments if "/theirs/" in name], [])
        vulnerable = self.full("vaimgs/vulnerable:latest")
        self.assertEqual(assessments[vulnerable], self.report("vaimgs/vulnerable:latest"))
        self.assertEqual(assessments[self.full("vaimgs/busybox:latest")]["status"], "UNSUPPORTED")

        def listed(query=None, key=None):
            return self.call("getAccountReport", query=query, key=key, expect=200).json()["assessments"]

        self.assertEqual(list(listed({"repository": self.full("vaimgs/busybox")})), [self.full("vaimgs/busybox:latest")])
        self.assertEqual(set(listed({"repository": ["vaimgs/busybox", "vaimgs/debian"]})),
                         {self.full("vaimgs/busybox:latest"), self.full("vaimgs/debian:bookworm")})
        in_namespace = {name for name in assessments if name.startswith(self.full("vaimgs/"))}
        self.assertEqual(set(listed({"repository": "vaimgs"})), in_namespace)
        self.assertEqual(listed({"repository": "theirs/app"}), {})
        self.assertEqual(listed(key=self.reader_key)[vulnerable], assessments[vulnerable])
        self.assertEqual(listed(key=self.writer_key), {})

        response = self.call("getAccountReport", query={"repository": "other.example/vaimgs/busybox"}, expect=400)
        self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        self.assert_account_mismatch_denied("getAccountReport")
        self.assert_statuses_covered("getAccountReport")

    def test_get_account_status(self):
        images = self.call("getAccountStatus", expect=200).json()["images"]
        by_name = {image["name"]: image for image in images}
        self.assertEqual(len(by_name), len(images), "one entry per tag")
        vulnerable = by_name[self.full("vaimgs/vulnerable:latest")]
        self.assertGreater(vulnerable["created_time"], 0)
        counts = {field: value for field, value in vulnerable.items() if field not in ("name", "created_time")}
        self.assertEqual(counts, self.summary("vaimgs/vulnerable:latest"))
        self.assertEqual(by_name[self.full("vaimgs/busybox:latest")]["status"], "UNSUPPORTED")
        self.assertNotIn(self.full("theirs/app:latest"), by_name)

        filtered = self.call("getAccountStatus", query={"repository": "vaimgs/debian"}, expect=200).json()
        self.assertEqual([image["name"] for image in filtered["images"]], [self.full("vaimgs/debian:bookworm")])
        by_reader = self.call("getAccountStatus", key=self.reader_key, expect=200).json()["images"]
        self.assertIn(vulnerable, by_reader)
        self.assertEqual(self.call("getAccountStatus", key=self.writer_key, expect=200).json(), {"images": []})

        response = self.call("getAccountStatus", query={"repository": "other.example/vaimgs"}, expect=400)
        self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        self.assert_account_mismatch_denied("getAccountStatus")
        self.assert_statuses_covered("getAccountStatus")

    def test_listings_carry_security_status(self):
        images = self.call("listImages", query={"repository": "vaimgs"}, expect=200).json()
        by_tag = {tag: image for image in images for tag in image["RepoTags"]}
        vulnerable = by_tag[self.full("vaimgs/vulnerable:latest")]
        self.assertEqual(vulnerable["SecurityStatus"], {"Status": "FAIL", "IssueCount": 2, "ExemptionCount": 0})
        fields = ("Vulnerable", "VulnerabilityCount", "IssueCount", "ExemptIssueCount", "ConfigurationIssueCount")
        self.assertEqual(tuple(vulnerable[field] for field in fields), ("true", 2, 2, 0, 0))
        debian = by_tag[self.full("vaimgs/debian:bookworm")]
        self.assertEqual(debian["SecurityStatus"], {"Status": "OK", "IssueCount": 0, "ExemptionCount": 0})
        self.assertEqual(debian["Vulnerable"], "")
        busybox = by_tag[self.full("vaimgs/busybox:latest")]
        self.assertEqual(busybox["SecurityStatus"]["Status"], "UNSUPPORTED")

        plain = self.call("listImages", query={"repository": "vaimgs", "vulnerabilities": "false"}, expect=200).json()
        self.assertEqual(len(plain), len(images))
        for image in plain:
            with self.subTest(image=image["RepoTags"]):
                self.assertNotIn("SecurityStatus", image)

        digests = self.call("listImageDigests", body={"repositories": ["vaimgs"]}, expect=200).json()
        by_id = {image["id"]: image for image in digests}
        tags = by_id[self.vulnerable_digest]["repoTags"][self.full("vaimgs/vulnerable")]
        self.assertEqual(tags["latest"], {"configurationIssueCount": 0, "exemptIssueCount": 0, "issueCount": 2,
                                          "vulnerabilityCount": 2, "vulnerable": True, "status": "FAIL"})
        self.assertEqual(by_id[self.debian_digest]["repoTags"][self.full("vaimgs/debian")]["bookworm"]["status"], "OK")
        without = self.call("listImageDigests", body={"repositories": ["vaimgs/debian"], "exclude_va": True},
                            expect=200).json()
        self.assertEqual(without[0]["repoTags"], {self.full("vaimgs/debian"): {"bookworm": {}}})

    def test_info_shows_advisory_import(self):
        advisories = self.call("getInfo", auth=False, expect=200).json()["va"]["advisories"]
        self.assertEqual(advisories["ecosystems"], ["alpine:3.19", "debian:12", "rhel:9"])
        self.assertIn(f"Imported {advisories['count']} advisories", self.import_output)
        imported = datetime.datetime.strptime(advisories["imported_at"], "%Y-%m-%dT%H:%M:%SZ")
        age = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - imported
        self.assertLess(age, datetime.timedelta(hours=1))

    def test_reimport_changes_report_without_rescan(self):
        before = self.summary("vaimgs/vulnerable:latest")
        self.assertEqual(before["status"], "FAIL")
        self.addCleanup(self.import_again_later)
        self.admin("va-import", str(OSV_FIXTURES / "fixed-nothing"))
        after = self.report("vaimgs/vulnerable:latest")
        self.assertEqual((after["status"], after["vulnerabilities"]), ("OK", []),
                         "the report uses the advisories of the latest import")
        self.assertEqual(after["scan_time"], before["scan_time"], "the image was not indexed again")
        info = self.call("getInfo", auth=False, expect=200).json()
        self.assertEqual(info["va"]["advisories"]["ecosystems"], ["debian:12"])

        # This import usually lands in the same second as the one before,
        # so the report must not depend on the import time alone.
        self.admin("va-import", str(OSV_FIXTURES / "advisories"))
        self.assertEqual(self.summary("vaimgs/vulnerable:latest"), before,
                         "the report uses the advisories of the latest import")

    def import_again_later(self):
        """Imports the fixture advisories once more, a second after the
        last import, so that later tests see them even if berthd cannot
        tell two imports within one second apart."""
        time.sleep(1.1)
        self.admin("va-import", str(OSV_FIXTURES / "advisories"))

    def test_exemptions_change_report(self):
        image = "vaimgs/exempted:latest"
        self.assertEqual(self.summary(image)["status"], "FAIL")

        # A cve exemption makes the CVE exempt in the repository only.
        cve_path = f"vaimgs/exempted/issue/cve/{EXPAT_CVE}"
        self.exemption(cve_path)
        report = self.report(image)
        first = self.vulnerability(report, EXPAT_CVE)
        second = self.vulnerability(report, SECOND_EXPAT_CVE)
        self.assertEqual((first["cve_exempt"], first["exempt_status"]), (True, "exempt"))
        self.assertEqual((second["cve_exempt"], second["exempt_status"]), (False, "active"))
        self.assertEqual(report["status"], "FAIL")
        self.assertEqual(self.summary(image), {"status": "FAIL", "scan_time": report["scan_time"],
                                               **summary_counts(1, 1)})
        listed = self.call("listImages", query={"repository": "vaimgs/exempted"}, expect=200).json()
        self.assertEqual(listed[0]["SecurityStatus"], {"Status": "FAIL", "IssueCount": 1, "ExemptionCount": 1})
        self.assertEqual(self.vulnerability(self.report("vaimgs/vulnerable"), EXPAT_CVE)["exempt_status"], "active")

        # An sn exemption of the notice behind both CVEs leaves nothing active.
        self.exemption(f"{image}/issue/sn/{DSA_NOTICE}")
        report = self.report(image)
        self.assertEqual(report["status"], "OK")
        second = self.vulnerability(report, SECOND_EXPAT_CVE)
        self.assertEqual((second["cve_exempt"], second["exempt_status"]), (True, "exempt"))
        self.assertEqual(second["security_notices"][0]["notice_exempt"], True)
        self.assertEqual(self.summary(image)["exempt_vulnerability_count"], 2)
        digests = self.call("listImageDigests", body={"repositories": ["vaimgs/exempted"]}, expect=200).json()
        self.assertEqual(digests[0]["repoTags"][self.full("vaimgs/exempted")]["latest"],
                         {"configurationIssueCount": 0, "exemptIssueCount": 2, "issueCount": 0,
                          "vulnerabilityCount": 0, "vulnerable": False, "status": "OK"})

        # Without the cve exemption, one of the CVE's two notices is exempt.
        self.call("deleteExemption", {"image": cve_path}, expect=200)
        report = self.report(image)
        first = self.vulnerability(report, EXPAT_CVE)
        self.assertEqual((first["cve_exempt"], first["exempt_status"]), (False, "partial"))
        exempt_notices = {notice["notice_id"]: notice["notice_exempt"] for notice in first["security_notices"]}
        self.assertEqual(exempt_notices, {EXPAT_NOTICE: False, DSA_NOTICE: True})
        counts = (first["security_notice_count"], first["exempt_security_notice_count"],
                  first["total_security_notice_count"])
        self.assertEqual(counts, (1, 1, 2))
        self.assertEqual(report["status"], "FAIL")
        self.assertEqual(self.summary(image), {"status": "FAIL", "scan_time": report["scan_time"],
                                               **summary_counts(1, 1)})

    def test_tag_exemption_applies_by_digest(self):
        """An exemption for a tag applies to the image that has the tag,
        also when a request names the image by digest."""
        by_digest = f"vaimgs/exempted@{self.vulnerable_digest}"
        self.exemption(f"vaimgs/exempted:latest/issue/cve/{EXPAT_CVE}")
        self.assertTrue(self.vulnerability(self.report("vaimgs/exempted:latest"), EXPAT_CVE)["cve_exempt"])
        exemptions = self.call("listImageExemptions", {"image": by_digest}, expect=200).json()
        self.assertEqual(issue_ids(exemptions), [EXPAT_CVE])
        self.assertTrue(self.vulnerability(self.report(by_digest), EXPAT_CVE)["cve_exempt"])

    # --- Exemptions -------------------------------------------------------

    def test_list_exemption_types(self):
        expected = [{"identifier": "cve", "display_name": "CVE", "translationKey": "cve",
                     "validation_regex": "^CVE-[0-9]{4}-[0-9]{4,}$"},
                    {"identifier": "sn", "display_name": "Security Notice", "translationKey": "sn",
                     "validation_regex": "^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$"}]
        self.assertEqual(self.call("listExemptionTypes", auth=False, expect=200).json(), expected)
        self.assertEqual(self.call("listExemptionTypes", key=self.plain_key, expect=200).json(), expected)
        patterns = {entry["identifier"]: re.compile(entry["validation_regex"]) for entry in expected}
        for issue_type, issue_id in (("cve", EXPAT_CVE), ("sn", DSA_NOTICE), ("sn", EXPAT_NOTICE),
                                     ("sn", "RHSA-2024:0310")):
            with self.subTest(issue_id=issue_id):
                self.assertIsNotNone(patterns[issue_type].match(issue_id))
        self.assert_statuses_covered("listExemptionTypes")

    def test_list_account_scope_exemptions(self):
        self.exemption(f"issue/cve/{EXPAT_CVE}")
        self.exemption(f"vaimgs/issue/cve/{EXPAT_CVE}")
        listed = self.call("listAccountScopeExemptions", expect=200).json()
        self.assertEqual([(e["account_id"], e["issue_type"], e["issue_id"], e["scope"]) for e in listed],
                         [(self.account_id, "cve", EXPAT_CVE, EMPTY_SCOPE)])
        self.assertEqual(self.call("listAccountScopeExemptions", key=self.account_reader_key, expect=200).json(),
                         listed)
        # Account-wide exemptions change every namespace's reports, so a
        # Reader of one namespace reads them too; a caller with no Reader
        # role anywhere does not.
        self.assertEqual(self.call("listAccountScopeExemptions", key=self.reader_key, expect=200).json(), listed)
        self.call("listAccountScopeExemptions", key=self.plain_key, expect=403)
        self.assert_statuses_covered("listAccountScopeExemptions")

    def test_create_exemption(self):
        debian = "vaimgs/debian"
        cases = [
            ("issue/cve/CVE-2099-0100", EMPTY_SCOPE),
            ("*/issue/sn/DSA-9999-1", EMPTY_SCOPE),
            ("vaimgs/issue/cve/CVE-2099-0101", {**EMPTY_SCOPE, "scope_type": "namespace", "namespace": "vaimgs"}),
            (self.full(f"{debian}/issue/cve/CVE-2099-0102"),
             {**EMPTY_SCOPE, "scope_type": "repository", "namespace": "vaimgs", "repository": "debian"}),
            (f"{debian}:bookworm/issue/sn/DSA-9999-2",
             {**EMPTY_SCOPE, "scope_type": "image", "namespace": "vaimgs", "repository": "debian", "tag": "bookworm"}),
            (f"{debian}@{self.debian_digest}/issue/cve/CVE-2099-0103",
             {**EMPTY_SCOPE, "scope_type": "image", "namespace": "vaimgs", "repository": "debian",
              "digest": self.debian_digest}),
        ]
        for path, scope in cases:
            with self.subTest(path=path):
                created = self.exemption(path)
                issue_type, issue_id = path.split("/")[-2:]
                self.assertEqual((created["account_id"], created["issue_type"], created["issue_id"], created["scope"]),
                                 (self.account_id, issue_type, issue_id, scope))
                again = self.call("createExemption", {"image": path}, expect=200).json()
                self.assertEqual(again, created)

        path = "/va/api/v4/exempt/image/vaimgs/busybox/issue/cve/CVE-2099-0104"
        raw = self.berthd.request("POST", path)
        self.addCleanup(self.remove_exemption, "vaimgs/busybox/issue/cve/CVE-2099-0104")
        self.check_response("createExemption", "POST", path, raw)
        self.assertEqual(raw.status, 201, raw)
        self.assertEqual(raw.json()["scope"]["repository"], "busybox")

        invalid = self.call("createExemption", {"image": "vaimgs/issue/cve/CVE-1"}, expect=400)
        self.assertEqual(invalid.json()["errors"][0]["detail"], {"issue_type": "cve", "issue_id": "CVE-1"})
        self.assert_issue_codes("createExemption", [
            ("vaimgs/issue/configuration/port-22", "BAD_REQUEST"), ("vaimgs/issue/sn/-notice", "BAD_REQUEST"),
            (f"{debian}:-bad/issue/cve/CVE-2099-0105", "TAG_INVALID"),
            (f"{debian}@sha256:abc/issue/cve/CVE-2099-0105", "DIGEST_INVALID"),
            ("vaimgs/Debian/issue/cve/CVE-2099-0105", "NAME_INVALID"),
            ("other.example/vaimgs/issue/cve/CVE-2099-0105", "BAD_REQUEST")])
        self.assertEqual(self.percent_escape_error("createExemption").error_codes(), ["BAD_REQUEST"])

        denied = self.call("createExemption", {"image": f"{debian}/issue/cve/CVE-2099-0105"}, key=self.reader_key,
                           expect=403)
        # exemption.manager is an account-level action, so the denial names
        # no namespace.
        self.assertEqual(denied.error_codes(), ["DENIED"])
        self.call("createExemption", {"image": "issue/cve/CVE-2099-0105"}, key=self.reader_key, expect=403)
        self.call("createExemption", {"image": "vaimgs/issue/cve/CVE-2099-0105"}, key=self.plain_key, expect=403)

        missing = self.call("createExemption", {"image": "nosuchns/issue/cve/CVE-2099-0105"}, expect=404)
        self.assertEqual(missing.json()["errors"][0]["detail"], {"namespace": "nosuchns"})
        self.call("createExemption", {"image": "theirs/issue/cve/CVE-2099-0105"}, expect=404)
        no_issue = self.call("createExemption", {"image": debian}, expect=404)
        self.assertEqual(no_issue.error_codes(), ["NOT_FOUND"])
        self.assert_account_mismatch_denied("createExemption", {"image": "vaimgs/issue/cve/CVE-2099-0105"})
        self.assert_statuses_covered("createExemption")

    def test_namespace_manager_cannot_change_exemptions(self):
        """exemption.manager is an account-level action, as in the hosted
        registry: Manager on one namespace changes no exemption."""
        path = "vaimgs/debian/issue/cve/CVE-2099-0150"
        self.addCleanup(self.remove_exemption, path)
        self.call("createExemption", {"image": path}, key=self.namespace_manager_key, expect=403)
        self.call("createExemption", {"image": "issue/cve/CVE-2099-0150"}, key=self.namespace_manager_key,
                  expect=403)
        self.call("createExemption", {"image": path}, expect=201)
        self.call("deleteExemption", {"image": path}, key=self.namespace_manager_key, expect=403)

    def test_get_exemptions(self):
        created = {
            "vaimgs/debian": self.exemption("vaimgs/debian/issue/cve/CVE-2099-0200"),
            "vaimgs/debian:bookworm": self.exemption("vaimgs/debian:bookworm/issue/cve/CVE-2099-0201"),
            "vaimgs": self.exemption("vaimgs/issue/sn/DSA-9999-20"),
            "*": self.exemption("issue/cve/CVE-2099-0203"),
        }
        # A resource lists the exemptions of exactly its own scope.
        for resource, exemption in created.items():
            with self.subTest(resource=resource):
                self.assertEqual(self.call("getExemptions", {"image": resource}, expect=200).json(), [exemption])
        by_domain = self.call("getExemptions", {"image": self.full("vaimgs/debian")}, expect=200).json()
        self.assertEqual(by_domain, [created["vaimgs/debian"]])
        one = self.call("getExemptions", {"image": "vaimgs/debian/issue/cve/CVE-2099-0200"}, expect=200).json()
        self.assertEqual(one, created["vaimgs/debian"])
        account = self.call("getExemptions", {"image": "issue/cve/CVE-2099-0203"}, expect=200).json()
        self.assertEqual(account, created["*"])

        by_reader = self.call("getExemptions", {"image": "vaimgs"}, key=self.reader_key, expect=200).json()
        self.assertEqual(by_reader, [created["vaimgs"]])
        by_reader = self.call("getExemptions", {"image": "issue/cve/CVE-2099-0203"}, key=self.reader_key,
                              expect=200).json()
        self.assertEqual(by_reader, created["*"])
        self.call("getExemptions", {"image": "issue/cve/CVE-2099-0203"}, key=self.writer_key, expect=403)
        denied = self.call("getExemptions", {"image": "vaimgs/debian"}, key=self.writer_key, expect=403)
        self.assert_denied_with_detail(denied, "vaimgs", "exemption.list")

        self.assert_issue_codes("getExemptions", [("vaimgs/issue/configuration/port-22", "BAD_REQUEST"),
                                                  ("vaimgs/debian:-bad", "TAG_INVALID")])
        self.assertEqual(self.percent_escape_error("getExemptions").error_codes(), ["BAD_REQUEST"])
        missing = self.call("getExemptions", {"image": "nosuchns"}, expect=404)
        self.assertEqual(missing.json()["errors"][0]["detail"], {"namespace": "nosuchns"})
        absent = self.call("getExemptions", {"image": "vaimgs/debian/issue/cve/CVE-2099-0299"}, expect=404)
        self.assertEqual(absent.error_codes(), ["NOT_FOUND"])
        self.assert_account_mismatch_denied("getExemptions", {"image": "vaimgs"})
        self.assert_statuses_covered("getExemptions")

    def test_delete_exemption(self):
        tag_path = "vaimgs/debian:bookworm/issue/sn/DSA-9999-30"
        repository_path = "vaimgs/debian/issue/sn/DSA-9999-30"
        self.exemption(tag_path)
        self.exemption(repository_path)
        denied = self.call("deleteExemption", {"image": tag_path}, key=self.reader_key, expect=403)
        self.assertEqual(denied.error_codes(), ["DENIED"])
        self.assertEqual(self.call("deleteExemption", {"image": tag_path}, expect=200).json(), {})
        self.call("deleteExemption", {"image": tag_path}, expect=404)
        self.call("getExemptions", {"image": tag_path}, expect=404)
        # The same issue in another scope stays exempt.
        self.call("getExemptions", {"image": repository_path}, expect=200)

        self.exemption("issue/cve/CVE-2099-0300")
        self.call("deleteExemption", {"image": "issue/cve/CVE-2099-0300"}, key=self.plain_key, expect=403)
        self.call("deleteExemption", {"image": "*/issue/cve/CVE-2099-0300"}, expect=200)

        self.assert_issue_codes("deleteExemption", [("vaimgs/issue/cve/not-a-cve", "BAD_REQUEST")])
        self.assertEqual(self.percent_escape_error("deleteExemption").error_codes(), ["BAD_REQUEST"])
        self.call("deleteExemption", {"image": "vaimgs/debian"}, expect=404)
        self.call("deleteExemption", {"image": "nosuchns/issue/cve/CVE-2099-0300"}, expect=404)
        self.assert_account_mismatch_denied("deleteExemption", {"image": repository_path})
        self.assert_statuses_covered("deleteExemption")

    def test_list_account_exemptions(self):
        self.exemption("issue/cve/CVE-2099-0400")
        self.exemption("vaimgs/issue/cve/CVE-2099-0401")
        self.exemption("vaimgs/debian:bookworm/issue/cve/CVE-2099-0402")
        self.exemption("theirs/issue/cve/CVE-2099-0403", key=self.other_key)
        ours = ["CVE-2099-0400", "CVE-2099-0401", "CVE-2099-0402"]

        def listed(key=None):
            return issue_ids(self.call("listAccountExemptions", key=key, expect=200).json())

        self.assertEqual(listed(), ours)
        self.assertEqual(listed(self.account_reader_key), ours)
        # Reader on vaimgs reads that namespace's exemptions and the
        # account-wide ones, which apply to its images too.
        self.assertEqual(listed(self.reader_key), ours)
        self.assertEqual(listed(self.writer_key), [])
        self.assertEqual(listed(self.other_key), ["CVE-2099-0403"])
        self.assert_account_mismatch_denied("listAccountExemptions")
        self.assert_statuses_covered("listAccountExemptions")

    def test_delete_all_exemptions(self):
        # A separate account, so that the other tests' exemptions stay.
        key = self.create_account_with_manager("vaacct")
        self.call("createNamespace", {"name": "vaacctns"}, key=key, expect=201)
        for path in ("issue/cve/CVE-2099-0500", "vaacctns/issue/sn/DSA-9999-50",
                     "vaacctns/app:v1/issue/cve/CVE-2099-0501"):
            self.call("createExemption", {"image": path}, key=key, expect=201)
        self.exemption("vaimgs/issue/cve/CVE-2099-0502")

        for denied_key in (self.account_reader_key, self.namespace_manager_key, self.plain_key):
            self.call("deleteAllExemptions", key=denied_key, expect=403)
        deleted = self.call("deleteAllExemptions", key=key, expect=200).json()
        self.assertEqual(deleted, {"number_of_exemptions_deleted": 3})
        self.assertEqual(self.call("listAccountExemptions", key=key, expect=200).json(), [])
        again = self.call("deleteAllExemptions", key=key, expect=200).json()
        self.assertEqual(again, {"number_of_exemptions_deleted": 0})
        self.call("getExemptions", {"image": "vaimgs/issue/cve/CVE-2099-0502"}, expect=200)
        self.assert_account_mismatch_denied("deleteAllExemptions")
        self.assert_statuses_covered("deleteAllExemptions")

    def test_list_image_exemptions(self):
        repository = "vaimgs/exempted"
        applying = ["issue/cve/CVE-2099-0600", "vaimgs/issue/cve/CVE-2099-0601",
                    f"{repository}/issue/cve/CVE-2099-0602", f"{repository}:latest/issue/cve/CVE-2099-0603",
                    f"{repository}@{self.vulnerable_digest}/issue/cve/CVE-2099-0604"]
        elsewhere = ["vaimgs/debian/issue/cve/CVE-2099-0605", f"{repository}:other/issue/cve/CVE-2099-0606",
                     f"{repository}@{self.debian_digest}/issue/cve/CVE-2099-0607"]
        for path in applying + elsewhere:
            self.exemption(path)

        def listed(image, key=None):
            return issue_ids(self.call("listImageExemptions", {"image": image}, key=key, expect=200).json())

        expected = [f"CVE-2099-060{n}" for n in range(5)]
        self.assertEqual(listed(f"{repository}:latest"), expected)
        self.assertEqual(listed(self.full(repository)), expected)
        self.assertEqual(listed(repository, key=self.reader_key), expected)
        # An image that does not exist gets the exemptions of the scopes its name is in.
        self.assertEqual(listed(f"{repository}:nosuch"), expected[:3])
        self.assertEqual(listed("vaimgs/nosuch:v1"), expected[:2])

        self.assert_issue_codes("listImageExemptions", [("noslash", "NAME_INVALID"),
                                                        ("other.example/vaimgs/exempted", "BAD_REQUEST")])
        self.assertEqual(self.percent_escape_error("listImageExemptions").error_codes(), ["BAD_REQUEST"])
        denied = self.call("listImageExemptions", {"image": repository}, key=self.writer_key, expect=403)
        self.assert_denied_with_detail(denied, "vaimgs", "exemption.list")
        self.call("listImageExemptions", {"image": repository}, key=self.plain_key, expect=403)
        self.call("listImageExemptions", {"image": "theirs/app"}, expect=403)
        self.assert_account_mismatch_denied("listImageExemptions", {"image": repository})
        self.assert_statuses_covered("listImageExemptions")

    def test_list_bulk_image_exemptions(self):
        self.exemption("vaimgs/exempted/issue/cve/CVE-2099-0800")
        self.exemption("vaimgs/debian:bookworm/issue/sn/DSA-9999-80")
        names = ["vaimgs/exempted:latest", self.full("vaimgs/debian:bookworm"), "vaimgs/nosuch"]
        result = self.call("listBulkImageExemptions", body=names, expect=200).json()
        self.assertEqual({name: issue_ids(exemptions) for name, exemptions in result.items()},
                         {names[0]: ["CVE-2099-0800"], names[1]: ["DSA-9999-80"], names[2]: []})
        single = self.call("listImageExemptions", {"image": names[0]}, expect=200).json()
        self.assertEqual(result[names[0]], single)
        self.assertEqual(self.call("listBulkImageExemptions", body=[], expect=200).json(), {})
        by_reader = self.call("listBulkImageExemptions", body=names[:1], key=self.reader_key, expect=200).json()
        self.assertEqual(by_reader, {names[0]: single})

        for raw in (b"{}", b"not json", b'"vaimgs/debian"', b"[1]"):
            with self.subTest(body=raw):
                response = self.call("listBulkImageExemptions", raw_body=raw,
                                     headers={"Content-Type": "application/json"}, expect=400)
                self.assertEqual(response.error_codes(), ["BAD_REQUEST"])
        for body, code in ((["noslash"], "NAME_INVALID"), (["other.example/vaimgs/debian"], "BAD_REQUEST")):
            with self.subTest(body=body):
                response = self.call("listBulkImageExemptions", body=body, expect=400)
                self.assertEqual(response.error_codes(), [code])
        # One image that the caller may not read fails the whole request.
        self.call("listBulkImageExemptions", body=["vaimgs/debian", "theirs/app"], expect=403)
        self.call("listBulkImageExemptions", body=["vaimgs/debian"], key=self.writer_key, expect=403)
        self.assert_account_mismatch_denied("listBulkImageExemptions")
        self.assert_statuses_covered("listBulkImageExemptions")


class LockoutTest(ConformanceTestCase):
    """429 on every operation that reads credentials, from a berthd that
    locks a client out after two failed logins."""

    berthd_env = {"BERTH_AUTH_FAILED_LOGIN_LIMIT": "2", "BERTH_AUTH_FAILED_LOGIN_WINDOW_SECONDS": "600"}

    @classmethod
    def set_up_server(cls):
        pass

    def test_every_operation_locked_out(self):
        for _ in range(2):
            self.call("listNamespaces", key="berth_wrong", expect=401)
        for operation_id, (_, template, _) in DOCUMENT.operations.items():
            with self.subTest(operation=operation_id):
                response = self.call(operation_id, sample_params(template))
                if DOCUMENT.is_public(operation_id):
                    # These read no credentials, so a lockout does not apply.
                    self.assertLess(response.status, 300, response)
                    continue
                self.assertEqual(response.status, 429, response)
                self.assertEqual(response.error_codes(), ["TOOMANYREQUESTS"])
                self.assertLessEqual(int(response.header("Retry-After")), 600)


if __name__ == "__main__":
    unittest.main()
