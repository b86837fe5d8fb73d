"""The management API against its OpenAPI document, docs/openapi.yaml.

Every documented operation is called on a running berthd, for success and
for its error statuses. Each response must have a status that the document
lists for the operation, and its headers and body must match the
document's schema for that status (JSON Schema 2020-12, checked with
jsonschema). The reverse direction is checked too: each documented path
responds to other methods with 405 and an Allow header that lists exactly
the documented methods."""

import base64
import json
import shutil
import tempfile
import unittest
import urllib.parse
from pathlib import Path

import jsonschema
import yaml

from harness import ROOT, Berthd

DOCUMENT_PATH = ROOT / "docs" / "openapi.yaml"

# The methods an OpenAPI path item can define, as HTTP spells them.
HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")

# Statuses that every operation lists and that the tests below cover for
# all operations at once, not in each operation's own test. A 500 cannot be
# caused from outside the server, so no test covers it.
SHARED_STATUSES = {401, 429, 500}


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

    def test_every_path_is_under_api_v1(self):
        for template in DOCUMENT.root["paths"]:
            with self.subTest(path=template):
                self.assertTrue(template.startswith("/api/v1/"))

    def test_operations_list_shared_statuses(self):
        for operation_id in DOCUMENT.operations:
            for status in SHARED_STATUSES:
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
        cls.seen = {}

    @classmethod
    def tearDownClass(cls):
        cls.berthd.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def call(self, operation_id, path_params=None, query=None, body=None, raw_body=None, key=None,
             headers=None, auth=True, expect=None, check_request=True):
        """Sends the operation's request and checks the response against the
        document; returns the harness Response. `body` is sent as JSON and,
        with `check_request`, must match the documented request schema.
        `raw_body` is sent as it is. `expect` is the status the test needs."""
        method, template, _ = DOCUMENT.operations[operation_id]
        path = template
        for name, value in (path_params or {}).items():
            path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
        self.assertNotIn("{", path, f"{operation_id}: a path parameter has no value")
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)

        headers = dict(headers or {})
        if auth and "Authorization" not in headers:
            headers["Authorization"] = self.berthd.basic_auth(key or self.manager_key)
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
        response = self.berthd.request(method, path, body=data, headers=headers, auth=False)

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

    def assert_statuses_covered(self, operation_id):
        """Fails unless the test saw every documented status of the operation
        except the shared ones, which other tests cover."""
        _, _, operation = DOCUMENT.operations[operation_id]
        documented = {int(status) for status in operation["responses"]}
        missing = documented - SHARED_STATUSES - self.seen.get(operation_id, set())
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

    def service_id_with_key(self, name, grants=()):
        """Creates a service ID with policies [(role, namespace or "")] and
        an API key through the API; returns (iam_id, key id, secret)."""
        iam_id = self.call("createServiceId", body={"name": name}, expect=201).json()["iam_id"]
        for role, namespace in grants:
            self.call("createPolicy", body={"iam_id": iam_id, "role": role, "namespace": namespace}, expect=201)
        created = self.call("createApiKey", body={"name": name + "-key", "iam_id": iam_id}, expect=201).json()
        return iam_id, created["id"], created["apikey"]


class ManagementApiTest(ConformanceTestCase):
    """Namespaces and IAM: one test per documented operation."""

    # The 401 checks log in wrongly many times; LockoutTest covers 429.
    berthd_env = {"BERTH_AUTH_FAILED_LOGIN_LIMIT": "1000000"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.create_identities()
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails.
            cls.tearDownClass()
            raise

    @classmethod
    def create_identities(cls):
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

    def test_every_operation_has_a_test(self):
        for operation_id in DOCUMENT.operations:
            with self.subTest(operation=operation_id):
                self.assertTrue(hasattr(self, operation_test_name(operation_id)),
                                f"no test method {operation_test_name(operation_id)} exercises {operation_id}")

    # --- Checks across all operations -------------------------------------

    def sample_params(self, template):
        return {name: "sample" for name in ("name", "id") if "{" + name + "}" in template}

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
            for label, authorization in credentials.items():
                with self.subTest(operation=operation_id, credentials=label):
                    headers = {} if authorization is None else {"Authorization": authorization}
                    self.call(operation_id, self.sample_params(template), headers=headers, auth=False, expect=401)

    def test_account_header_mismatch_gets_403(self):
        for operation_id, (_, template, _) in DOCUMENT.operations.items():
            with self.subTest(operation=operation_id):
                response = self.call(operation_id, self.sample_params(template),
                                     headers={"Account": "not-" + self.account_id}, expect=403)
                self.assertEqual(response.error_codes(), ["DENIED"])

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
            for name, value in self.sample_params(template).items():
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
                     "/api/v1/namespaces/a/b", "/api/v1/iam/apikeys/a/b"):
            with self.subTest(path=path):
                response = self.berthd.request("GET", path)
                self.assertEqual(response.status, 404, response)
                self.assertEqual(response.error_codes(), ["NOT_FOUND"])

    # --- Namespaces -------------------------------------------------------

    def test_list_namespaces(self):
        self.berthd.create_namespace("listed")
        names = self.call("listNamespaces", expect=200).json()
        self.assertIn("listed", names)
        self.assertEqual(names, sorted(names))
        # A caller without namespace.list gets an empty list, not an error.
        self.assertEqual(self.call("listNamespaces", key=self.plain_key, expect=200).json(), [])
        self.assert_statuses_covered("listNamespaces")

    def test_list_namespace_details(self):
        self.berthd.create_namespace("detailed")
        details = self.call("listNamespaceDetails", expect=200).json()
        entry = next(item for item in details if item["name"] == "detailed")
        self.assertEqual(entry["account"], self.account_id)
        self.assertFalse(entry["public"])
        self.assertEqual(self.call("listNamespaceDetails", key=self.plain_key, expect=200).json(), [])
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
        self.assert_statuses_covered("deleteNamespace")

    # --- API keys ---------------------------------------------------------

    def test_list_api_keys(self):
        everything = self.call("listApiKeys", expect=200).json()
        self.assertIn(self.plain_key_id, [key["id"] for key in everything])
        self.assertIn(self.manager_iam_id, [key["iam_id"] for key in everything])
        own = self.call("listApiKeys", key=self.plain_key, expect=200).json()
        self.assertEqual({key["iam_id"] for key in own}, {self.plain_iam_id})
        used = next(key for key in own if key["id"] == self.plain_key_id)
        self.assertIsNotNone(used["last_used_at"], "the key logged in, so it has a last-used time")
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
        self.assert_statuses_covered("deletePolicy")


class LockoutTest(ConformanceTestCase):
    """429 on every operation, from a berthd that locks a client out after
    two failed logins."""

    berthd_env = {"BERTH_AUTH_FAILED_LOGIN_LIMIT": "2", "BERTH_AUTH_FAILED_LOGIN_WINDOW_SECONDS": "600"}

    def test_every_operation_locked_out(self):
        for _ in range(2):
            self.call("listNamespaces", key="berth_wrong", expect=401)
        for operation_id, (_, template, _) in DOCUMENT.operations.items():
            with self.subTest(operation=operation_id):
                params = {name: "sample" for name in ("name", "id") if "{" + name + "}" in template}
                response = self.call(operation_id, params, expect=429)
                self.assertEqual(response.error_codes(), ["TOOMANYREQUESTS"])
                self.assertLessEqual(int(response.header("Retry-After")), 600)


if __name__ == "__main__":
    unittest.main()
