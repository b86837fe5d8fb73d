"""Accounts, namespaces, roles and registry token authentication, checked
over HTTP against a running berthd: the token flow, forged and expired
tokens, the role matrix, namespace rules, the audit log and login limits."""

import base64
import json
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import Berthd, BerthdTestCase, embedded_only, push_blob, push_image, sha256_digest

DENIED_MESSAGE = "You are not authorized to access the specified resource."
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_claims(token):
    return json.loads(b64url_decode(token.split(".")[1]))


def der_to_raw(der):
    """Converts an ECDSA DER signature (SEQUENCE of two INTEGERs) to r||s."""
    assert der[0] == 0x30
    offset = 2 if der[1] < 0x80 else 3
    values = []
    for _ in range(2):
        assert der[offset] == 0x02
        length = der[offset + 1]
        value = der[offset + 2:offset + 2 + length].lstrip(b"\x00")
        values.append(value.rjust(32, b"\x00"))
        offset += 2 + length
    return values[0] + values[1]


def sign_es256(key_file, header, claims):
    """A compact JWS signed with the P-256 key in `key_file`, by the openssl CLI."""
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key_file)], input=signing_input,
                         capture_output=True, check=True).stdout
    return signing_input.decode() + "." + b64url(der_to_raw(der))


def kid_of(token):
    return json.loads(b64url_decode(token.split(".")[0]))["kid"]


class AuthTestCase(BerthdTestCase):
    """A berthd with a second account, and helpers to create identities."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager_key = cls.berthd.api_key
        cls.other_key = cls.create_account_with_manager("otheracct")

    @classmethod
    def admin(cls, *args):
        result = cls.berthd.admin(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    @classmethod
    def create_account_with_manager(cls, account):
        """Creates an account with a Manager user through the offline admin
        commands and returns that user's API key."""
        cls.admin("account-create", account)
        cls.admin("user-create", "boss", "--account", account)
        cls.admin("policy-add", "--account", account, "--user", "boss", "--role", "Manager")
        output = cls.admin("apikey-create", "--account", account, "--user", "boss", "--name", "tests")
        return output.strip().splitlines()[-1]

    def api(self, method, path, key=None, body=None, headers=None):
        headers = dict(headers or {})
        headers["Authorization"] = self.berthd.basic_auth(key or self.manager_key)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self.berthd.request(method, path, body=data, headers=headers)

    def create_service_id(self, name, grants, key=None):
        """Creates a service ID with policies [(role, namespace or "")] and
        returns (iam_id, API key)."""
        created = self.api("POST", "/api/v1/iam/serviceids", key, {"name": name})
        self.assertEqual(created.status, 201, created)
        iam_id = created.json()["iam_id"]
        for role, namespace in grants:
            policy = self.api("POST", "/api/v1/iam/policies", key,
                              {"iam_id": iam_id, "role": role, "namespace": namespace})
            self.assertEqual(policy.status, 201, policy)
        api_key = self.api("POST", "/api/v1/iam/apikeys", key, {"iam_id": iam_id, "name": name + "-key"})
        self.assertEqual(api_key.status, 201, api_key)
        return iam_id, api_key.json()["apikey"]

    def token(self, key, *scopes, user="iamapikey", extra=""):
        query = "&".join(["service=registry"] + [f"scope={scope}" for scope in scopes])
        response = self.berthd.request("GET", f"/oauth/token?{query}{extra}",
                                       headers={"Authorization": "Basic " + base64.b64encode(
                                           f"{user}:{key}".encode()).decode()})
        self.assertEqual(response.status, 200, response)
        return response.json()

    def bearer(self, token):
        return {"Authorization": "Bearer " + token}


class TokenFlowTest(AuthTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.berthd.create_namespace("tokens")
        push_image(cls.berthd, "tokens/app", "v1")

    def test_base_challenges_without_credentials(self):
        response = self.berthd.request("GET", "/v2/", auth=False)
        self.assertEqual(response.status, 401)
        self.assertEqual(response.error_codes(), ["UNAUTHORIZED"])
        self.assertEqual(response.header("WWW-Authenticate"),
                         f'Bearer realm="http://{self.berthd.address}/oauth/token",service="registry"')
        self.assertEqual(response.header("Docker-Distribution-API-Version"), "registry/2.0")

    def test_repository_challenge_carries_scope(self):
        response = self.berthd.request("GET", "/v2/tokens/app/manifests/v1", auth=False)
        self.assertEqual(response.status, 401)
        self.assertIn('scope="repository:tokens/app:pull"', response.header("WWW-Authenticate"))
        push = self.berthd.request("POST", "/v2/tokens/app/blobs/uploads/", auth=False)
        self.assertEqual(push.status, 401)
        self.assertIn('scope="repository:tokens/app:pull,push"', push.header("WWW-Authenticate"))

    def test_basic_api_key_on_v2(self):
        self.assertEqual(self.berthd.request("GET", "/v2/").status, 200)
        wrong = self.berthd.request("GET", "/v2/", headers={"Authorization": self.berthd.basic_auth("berth_wrong")})
        self.assertEqual(wrong.status, 401)
        self.assertEqual(wrong.error_codes(), ["UNAUTHORIZED"])

    def test_token_response_fields(self):
        body = self.token(self.manager_key, "repository:tokens/app:pull")
        self.assertEqual(body["token"], body["access_token"])
        self.assertEqual(body["expires_in"], 900)
        self.assertRegex(body["issued_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertNotIn("refresh_token", body)
        header = json.loads(b64url_decode(body["token"].split(".")[0]))
        self.assertEqual(header["alg"], "ES256")
        self.assertTrue(header["kid"])
        claims = jwt_claims(body["token"])
        self.assertEqual(claims["aud"], "registry")
        self.assertEqual(claims["exp"] - claims["iat"], 900)
        self.assertEqual(claims["access"], [{"type": "repository", "name": "tokens/app", "actions": ["pull"]}])

    def test_several_scopes_and_star(self):
        body = self.token(self.manager_key, "repository:tokens/app:pull",
                          "repository:tokens/other:push,pull", "repository:tokens/all:*")
        access = {entry["name"]: entry["actions"] for entry in jwt_claims(body["token"])["access"]}
        self.assertEqual(access["tokens/app"], ["pull"])
        self.assertEqual(access["tokens/other"], ["pull", "push"])
        self.assertEqual(access["tokens/all"], ["*", "delete", "pull", "push"])

    def test_scopes_not_allowed_are_dropped(self):
        self.admin("namespace-add", "foreignns", "--account", "otheracct")
        body = self.token(self.manager_key, "repository:tokens/app:pull", "repository:foreignns/app:pull,push",
                          "repository:missingns/app:push", "nonsense", "repository:BAD/Name:pull")
        names = [entry["name"] for entry in jwt_claims(body["token"])["access"]]
        self.assertEqual(names, ["tokens/app"])

    def test_wrong_key_gets_401(self):
        response = self.berthd.request("GET", "/oauth/token?service=registry&scope=repository:tokens/app:pull",
                                       headers={"Authorization": self.berthd.basic_auth("berth_not-a-key")})
        self.assertEqual(response.status, 401)
        self.assertEqual(response.error_codes(), ["UNAUTHORIZED"])
        unknown_user = self.berthd.request(
            "GET", "/oauth/token?service=registry",
            headers={"Authorization": "Basic " + base64.b64encode(f"admin:{self.manager_key}".encode()).decode()})
        self.assertEqual(unknown_user.status, 401)
        self.assertIn("iamapikey", unknown_user.json()["errors"][0]["message"])

    def test_bearer_token_pulls(self):
        token = self.token(self.manager_key, "repository:tokens/app:pull")["token"]
        response = self.berthd.request("GET", "/v2/tokens/app/manifests/v1", headers={
            **self.bearer(token), "Accept": OCI_MANIFEST})
        self.assertEqual(response.status, 200)

    def test_token_for_one_repository_cannot_push_another(self):
        token = self.token(self.manager_key, "repository:tokens/app:pull,push")["token"]
        own = self.berthd.request("POST", "/v2/tokens/app/blobs/uploads/", headers=self.bearer(token))
        self.assertEqual(own.status, 202)
        other = self.berthd.request("POST", "/v2/tokens/b/blobs/uploads/", headers=self.bearer(token))
        self.assertEqual(other.status, 401)
        self.assertIn('error="insufficient_scope"', other.header("WWW-Authenticate"))
        self.assertIn('scope="repository:tokens/b:pull,push"', other.header("WWW-Authenticate"))
        pull_only = self.token(self.manager_key, "repository:tokens/app:pull")["token"]
        put = self.berthd.request("PUT", "/v2/tokens/app/manifests/v2", body=b"{}",
                                  headers={**self.bearer(pull_only), "Content-Type": OCI_MANIFEST})
        self.assertEqual(put.status, 401)

    def test_iambearer_user_exchanges_a_token(self):
        token = self.token(self.manager_key)["token"]
        body = self.token(token, "repository:tokens/app:pull", user="iambearer")
        self.assertEqual(jwt_claims(body["token"])["access"][0]["name"], "tokens/app")
        basic = self.berthd.request("GET", "/v2/tokens/app/tags/list", headers={
            "Authorization": "Basic " + base64.b64encode(f"iambearer:{token}".encode()).decode()})
        self.assertEqual(basic.status, 200)

    def test_oauth_post_password_and_refresh(self):
        form = (f"grant_type=password&username=iamapikey&password={self.manager_key}&service=registry"
                "&client_id=tests&access_type=offline&scope=repository%3Atokens%2Fapp%3Apull").encode()
        response = self.berthd.request("POST", "/oauth/token", body=form, auth=False,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(response.status, 200, response)
        body = response.json()
        self.assertEqual(body["scope"], "repository:tokens/app:pull")
        refresh = body["refresh_token"]

        form = (f"grant_type=refresh_token&refresh_token={refresh}&service=registry&client_id=tests"
                "&scope=repository%3Atokens%2Fapp%3Apull%20repository%3Atokens%2Fapp2%3Apush").encode()
        renewed = self.berthd.request("POST", "/oauth/token", body=form, auth=False,
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(renewed.status, 200, renewed)
        names = sorted(entry["name"] for entry in jwt_claims(renewed.json()["access_token"])["access"])
        self.assertEqual(names, ["tokens/app", "tokens/app2"])

        # An access token is not a refresh token, and the reverse.
        form = f"grant_type=refresh_token&refresh_token={body['access_token']}".encode()
        wrong_kind = self.berthd.request("POST", "/oauth/token", body=form, auth=False,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(wrong_kind.status, 401)
        used_as_access = self.berthd.request("GET", "/v2/", headers=self.bearer(refresh))
        self.assertEqual(used_as_access.status, 401)

    def test_oauth_post_rejects_unknown_grant(self):
        response = self.berthd.request("POST", "/oauth/token", body=b"grant_type=client_credentials", auth=False,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(response.status, 400)

    def test_docker_login_query_gets_refresh_token(self):
        body = self.token(self.manager_key, extra="&account=iamapikey&client_id=docker&offline_token=true")
        self.assertIn("refresh_token", body)
        self.assertEqual(jwt_claims(body["token"])["access"], [])

    def test_anonymous_token_has_no_access(self):
        response = self.berthd.request("GET", "/oauth/token?service=registry&scope=repository:tokens/app:pull",
                                       auth=False)
        self.assertEqual(response.status, 200)
        token = response.json()["token"]
        self.assertEqual(jwt_claims(token)["access"], [])
        pull = self.berthd.request("GET", "/v2/tokens/app/manifests/v1", headers=self.bearer(token))
        self.assertEqual(pull.status, 401)


class ForgedTokenTest(AuthTestCase):
    """Tokens berthd did not issue, or issued and then changed, are rejected."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.berthd.create_namespace("forged")
        push_image(cls.berthd, "forged/app", "v1")
        cls.signing_key = cls.berthd.signing_key
        cls.other_key_file = cls.workdir / "other.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", str(cls.other_key_file)], check=True, capture_output=True)

    def valid_token(self):
        return self.token(self.manager_key, "repository:forged/app:pull,push")["token"]

    def assert_rejected(self, token):
        response = self.berthd.request("GET", "/v2/forged/app/manifests/v1",
                                       headers={**self.bearer(token), "Accept": OCI_MANIFEST})
        self.assertEqual(response.status, 401, response)
        self.assertEqual(response.error_codes(), ["UNAUTHORIZED"])
        self.assertIn('error="invalid_token"', response.header("WWW-Authenticate"))

    def test_valid_token_accepted(self):
        response = self.berthd.request("GET", "/v2/forged/app/manifests/v1",
                                       headers={**self.bearer(self.valid_token()), "Accept": OCI_MANIFEST})
        self.assertEqual(response.status, 200)

    def test_resigned_copy_is_accepted(self):
        # Guards the forging helper: the server's own key makes a valid token.
        token = self.valid_token()
        resigned = sign_es256(self.signing_key, {"alg": "ES256", "typ": "JWT", "kid": kid_of(token)},
                              jwt_claims(token))
        response = self.berthd.request("GET", "/v2/forged/app/manifests/v1",
                                       headers={**self.bearer(resigned), "Accept": OCI_MANIFEST})
        self.assertEqual(response.status, 200)

    def test_expired_token_rejected(self):
        token = self.valid_token()
        claims = jwt_claims(token)
        claims["iat"] = claims["nbf"] = claims["iat"] - 3600
        claims["exp"] = int(time.time()) - 120
        self.assert_rejected(sign_es256(self.signing_key, {"alg": "ES256", "typ": "JWT", "kid": kid_of(token)},
                                        claims))

    def test_token_signed_by_other_key_rejected(self):
        token = self.valid_token()
        self.assert_rejected(sign_es256(self.other_key_file, {"alg": "ES256", "typ": "JWT", "kid": kid_of(token)},
                                        jwt_claims(token)))

    def test_tampered_payload_rejected(self):
        header, payload, signature = self.valid_token().split(".")
        claims = json.loads(b64url_decode(payload))
        claims["access"][0]["name"] = "forged/other"
        self.assert_rejected(".".join([header, b64url(json.dumps(claims).encode()), signature]))

    def test_alg_none_rejected(self):
        token = self.valid_token()
        header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": kid_of(token)}).encode())
        self.assert_rejected(header + "." + token.split(".")[1] + ".")

    def test_token_for_other_service_rejected(self):
        token = self.valid_token()
        claims = jwt_claims(token)
        claims["aud"] = "another-registry"
        self.assert_rejected(sign_es256(self.signing_key, {"alg": "ES256", "typ": "JWT", "kid": kid_of(token)},
                                        claims))

    def test_garbage_rejected(self):
        for token in ["x", "a.b.c", "...", self.valid_token() + "x"]:
            with self.subTest(token=token[:20]):
                self.assert_rejected(token)


class RevocationTest(AuthTestCase):
    def test_deleted_key_stops_working_at_once(self):
        self.berthd.create_namespace("revoked")
        iam_id, key = self.create_service_id("ci-revoked", [("Writer", "revoked")])
        offline = self.token(key, "repository:revoked/app:pull,push", extra="&offline_token=true")
        self.assertEqual(self.berthd.request("GET", "/v2/", headers={
            "Authorization": self.berthd.basic_auth(key)}).status, 200)

        keys = self.api("GET", "/api/v1/iam/apikeys").json()
        key_id = next(entry["id"] for entry in keys if entry["iam_id"] == iam_id)
        self.assertEqual(self.api("DELETE", f"/api/v1/iam/apikeys/{key_id}").status, 204)

        basic = self.berthd.request("GET", "/v2/", headers={"Authorization": self.berthd.basic_auth(key)})
        self.assertEqual(basic.status, 401)
        token = self.berthd.request("GET", "/oauth/token?service=registry",
                                    headers={"Authorization": self.berthd.basic_auth(key)})
        self.assertEqual(token.status, 401)
        form = f"grant_type=refresh_token&refresh_token={offline['refresh_token']}".encode()
        refresh = self.berthd.request("POST", "/oauth/token", body=form, auth=False,
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(refresh.status, 401)
        bearer = self.berthd.request("GET", "/oauth/token?service=registry", headers={
            "Authorization": "Basic " + base64.b64encode(f"iambearer:{offline['token']}".encode()).decode()})
        self.assertEqual(bearer.status, 401)

    def test_key_listing_never_shows_secrets(self):
        _, key = self.create_service_id("ci-listing", [])
        listing = self.api("GET", "/api/v1/iam/apikeys")
        self.assertEqual(listing.status, 200)
        self.assertNotIn(key, listing.body.decode())
        self.assertNotIn("apikey", listing.json()[0])
        stored = self.berthd.database_dump()
        self.assertNotIn(key.encode(), stored)


class RoleMatrixTest(AuthTestCase):
    """Every role on a namespace, against every action, on that namespace,
    another namespace of the same account and one of another account."""

    NAMESPACES = {"own": "matrixown", "sibling": "matrixsib", "foreign": "matrixforeign"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for place in ("own", "sibling"):
            cls.berthd.create_namespace(cls.NAMESPACES[place])
        foreign = cls.NAMESPACES["foreign"]
        response = cls.berthd.request("PUT", f"/api/v1/namespaces/{foreign}",
                                      headers={"Authorization": cls.berthd.basic_auth(cls.other_key)})
        assert response.status == 201, response

    def seed(self, place, key):
        """Pushes an image with tags "keep" and "gone" into a repository of
        its own and returns (repository, manifest digest)."""
        repository = f"{self.NAMESPACES[place]}/r{time.monotonic_ns()}"
        manager = self.other_key if place == "foreign" else self.manager_key
        headers = {"Authorization": self.berthd.basic_auth(manager)}
        config = json.dumps({"architecture": "amd64", "os": "linux", "seed": repository}).encode()
        layer = repository.encode()
        for blob in (config, layer):
            started = self.berthd.request("POST", f"/v2/{repository}/blobs/uploads/?digest={sha256_digest(blob)}",
                                          body=blob, headers={**headers, "Content-Type": "application/octet-stream"})
            assert started.status == 201, started
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha256_digest(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": sha256_digest(layer), "size": len(layer)}]}).encode()
        for tag in ("keep", "gone"):
            put = self.berthd.request("PUT", f"/v2/{repository}/manifests/{tag}", body=manifest,
                                      headers={**headers, "Content-Type": OCI_MANIFEST})
            assert put.status == 201, put
        return repository, manifest, sha256_digest(manifest)

    def attempt(self, action, place, key):
        """Performs `action` with `key`; returns the HTTP status (for
        "list", 200 if the catalog shows the repository, else 404)."""
        repository, manifest, digest = self.seed(place, key)
        headers = {"Authorization": self.berthd.basic_auth(key)}
        if action == "pull":
            return self.berthd.request("GET", f"/v2/{repository}/manifests/keep",
                                       headers={**headers, "Accept": OCI_MANIFEST}).status
        if action == "push":
            blob = b"pushed by " + key.encode()
            return self.berthd.request("POST", f"/v2/{repository}/blobs/uploads/?digest={sha256_digest(blob)}",
                                       body=blob, headers={**headers,
                                                           "Content-Type": "application/octet-stream"}).status
        if action == "tag":
            return self.berthd.request("PUT", f"/v2/{repository}/manifests/newtag", body=manifest,
                                       headers={**headers, "Content-Type": OCI_MANIFEST}).status
        if action == "delete":
            return self.berthd.request("DELETE", f"/v2/{repository}/manifests/{digest}", headers=headers).status
        if action == "list":
            catalog = self.berthd.request("GET", "/v2/_catalog?n=1000", headers=headers)
            assert catalog.status == 200, catalog
            return 200 if repository in catalog.json()["repositories"] else 404
        if action == "namespace-create":
            name = f"{self.NAMESPACES[place]}x{time.monotonic_ns() % 100000}"
            return self.berthd.request("PUT", f"/api/v1/namespaces/{name}", headers=headers).status
        if action == "namespace-delete":
            if place == "foreign":
                name = self.NAMESPACES["foreign"]
            else:
                name = f"{self.NAMESPACES[place]}d{time.monotonic_ns() % 100000}"
                created = self.berthd.request("PUT", f"/api/v1/namespaces/{name}",
                                              headers={"Authorization": self.berthd.basic_auth(self.manager_key)})
                assert created.status == 201, created
            return self.berthd.request("DELETE", f"/api/v1/namespaces/{name}", headers=headers).status
        raise ValueError(action)

    # Expected status per (role scope, action) on (own, sibling, foreign).
    # Roles follow the hosted registry's IAM actions. Reader pulls and
    # lists. Writer pulls, pushes and deletes but does not list. Manager
    # does everything, but namespace create and delete need Manager on the
    # account, so a namespace Manager gets 403 for them.
    EXPECTED = {
        ("Reader", "namespace"): {
            "pull": (200, 403, 403), "push": (403, 403, 403), "tag": (403, 403, 403),
            "delete": (403, 403, 403), "list": (200, 404, 404),
            "namespace-create": (403, 403, 403), "namespace-delete": (403, 403, 403)},
        ("Writer", "namespace"): {
            "pull": (200, 403, 403), "push": (201, 403, 403), "tag": (201, 403, 403),
            "delete": (202, 403, 403), "list": (404, 404, 404),
            "namespace-create": (403, 403, 403), "namespace-delete": (403, 403, 403)},
        ("Manager", "namespace"): {
            "pull": (200, 403, 403), "push": (201, 403, 403), "tag": (201, 403, 403),
            "delete": (202, 403, 403), "list": (200, 404, 404),
            "namespace-create": (403, 403, 403), "namespace-delete": (403, 403, 403)},
        ("Reader", "account"): {
            "pull": (200, 200, 403), "push": (403, 403, 403), "tag": (403, 403, 403),
            "delete": (403, 403, 403), "list": (200, 200, 404),
            "namespace-create": (403, 403, 403), "namespace-delete": (403, 403, 403)},
        ("Writer", "account"): {
            "pull": (200, 200, 403), "push": (201, 201, 403), "tag": (201, 201, 403),
            "delete": (202, 202, 403), "list": (404, 404, 404),
            "namespace-create": (403, 403, 403), "namespace-delete": (403, 403, 403)},
        ("Manager", "account"): {
            "pull": (200, 200, 403), "push": (201, 201, 403), "tag": (201, 201, 403),
            "delete": (202, 202, 403), "list": (200, 200, 404),
            "namespace-create": (201, 201, 201), "namespace-delete": (204, 204, 404)},
    }

    def test_matrix(self):
        places = ("own", "sibling", "foreign")
        for (role, scope), actions in self.EXPECTED.items():
            namespace = self.NAMESPACES["own"] if scope == "namespace" else ""
            _, key = self.create_service_id(f"matrix-{role}-{scope}".lower(), [(role, namespace)])
            for action, statuses in actions.items():
                for place, expected in zip(places, statuses):
                    with self.subTest(role=role, scope=scope, action=action, place=place):
                        self.assertEqual(self.attempt(action, place, key), expected)

    def test_denied_message_names_roles(self):
        _, key = self.create_service_id("matrix-denied", [("Reader", self.NAMESPACES["own"])])
        repository, _, _ = self.seed("sibling", key)
        response = self.berthd.request("GET", f"/v2/{repository}/manifests/keep",
                                       headers={"Authorization": self.berthd.basic_auth(key)})
        self.assertEqual(response.status, 403)
        error = response.json()["errors"][0]
        self.assertEqual(error["code"], "DENIED")
        self.assertEqual(error["message"], DENIED_MESSAGE + " The action container-registry.image.pull on namespace "
                         "'matrixsib' needs the Reader, Writer or Manager role on that namespace or on the account.")
        push = self.berthd.request("POST", f"/v2/{self.NAMESPACES['own']}/app/blobs/uploads/",
                                   headers={"Authorization": self.berthd.basic_auth(key)})
        self.assertIn("needs the Writer or Manager role", push.json()["errors"][0]["message"])

    def test_denied_message_hides_other_account(self):
        repository, _, _ = self.seed("foreign", self.manager_key)
        response = self.berthd.request("GET", f"/v2/{repository}/manifests/keep")
        self.assertEqual(response.status, 403)
        self.assertEqual(response.json(), {"errors": [{"code": "DENIED", "message": DENIED_MESSAGE}]})

    def test_head_of_denied_blob_is_not_found(self):
        # Pushing clients HEAD each blob first; a 404 sends them on to the
        # POST, whose 403 carries the message they can show.
        repository, _, _ = self.seed("foreign", self.manager_key)
        digest = sha256_digest(repository.encode())
        head = self.berthd.request("HEAD", f"/v2/{repository}/blobs/{digest}")
        self.assertEqual(head.status, 404)
        get = self.berthd.request("GET", f"/v2/{repository}/blobs/{digest}")
        self.assertEqual(get.status, 403)
        anonymous = self.berthd.request("HEAD", f"/v2/{repository}/blobs/{digest}", auth=False)
        self.assertEqual(anonymous.status, 401)

    def test_policies_add_up(self):
        _, key = self.create_service_id("matrix-additive", [("Reader", ""), ("Writer", self.NAMESPACES["own"])])
        self.assertEqual(self.attempt("push", "own", key), 201)
        self.assertEqual(self.attempt("push", "sibling", key), 403)
        self.assertEqual(self.attempt("list", "own", key), 200)
        self.assertEqual(self.attempt("list", "sibling", key), 200)

    def test_token_flow_matches_matrix(self):
        _, key = self.create_service_id("matrix-token", [("Writer", self.NAMESPACES["own"])])
        own, _, _ = self.seed("own", key)
        sibling, _, _ = self.seed("sibling", key)
        body = self.token(key, f"repository:{own}:pull,push", f"repository:{sibling}:pull,push")
        self.assertEqual([entry["name"] for entry in jwt_claims(body["token"])["access"]], [own])
        headers = self.bearer(body["token"])
        self.assertEqual(self.berthd.request("POST", f"/v2/{own}/blobs/uploads/", headers=headers).status, 202)
        denied = self.berthd.request("POST", f"/v2/{sibling}/blobs/uploads/", headers=headers)
        self.assertEqual(denied.status, 403)
        self.assertEqual(denied.error_codes(), ["DENIED"])

    def test_namespace_listing_shows_only_visible(self):
        _, key = self.create_service_id("matrix-nslist", [("Reader", self.NAMESPACES["own"])])
        response = self.api("GET", "/api/v1/namespaces", key)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json(), [self.NAMESPACES["own"]])
        everything = self.api("GET", "/api/v1/namespaces").json()
        self.assertIn(self.NAMESPACES["sibling"], everything)
        self.assertNotIn(self.NAMESPACES["foreign"], everything)

    def test_key_management_needs_manager(self):
        _, key = self.create_service_id("matrix-iam", [("Writer", "")])
        self.assertEqual(self.api("POST", "/api/v1/iam/serviceids", key, {"name": "sneaky"}).status, 403)
        self.assertEqual(self.api("GET", "/api/v1/iam/policies", key).status, 403)
        own_keys = self.api("GET", "/api/v1/iam/apikeys", key)
        self.assertEqual(own_keys.status, 200)
        self.assertEqual(len(own_keys.json()), 1)


class NamespaceRulesTest(AuthTestCase):
    def put(self, name, key=None):
        return self.api("PUT", f"/api/v1/namespaces/{name}", key)

    def test_invalid_names_rejected(self):
        for name in ["abc", "a" * 31, "Upper", "with.dot", "-lead", "trail-", "_lead", "trail_", "sp%20ace",
                     "a___b", "a_-b"]:
            with self.subTest(name=name):
                response = self.put(name)
                self.assertEqual(response.status, 400, response)
                self.assertEqual(response.error_codes(), ["NAME_INVALID"])
        listing = self.api("GET", "/api/v1/namespaces").json()
        self.assertNotIn("abc", listing)

    def test_valid_boundaries_accepted(self):
        for name in ["abcd", "b" * 30, "a-b_c", "0000", "x---y", "x__y"]:
            with self.subTest(name=name):
                self.assertEqual(self.put(name).status, 201)
                self.assertEqual(self.put(name).status, 200)

    def test_unique_across_accounts(self):
        self.assertEqual(self.put("takenname").status, 201)
        response = self.put("takenname", self.other_key)
        self.assertEqual(response.status, 409)
        self.assertEqual(response.error_codes(), ["CONFLICT"])
        self.assertIn("takenname", response.json()["errors"][0]["message"])
        self.assertEqual(self.api("DELETE", "/api/v1/namespaces/takenname", self.other_key).status, 404)

    def test_hundred_per_account(self):
        key = self.create_account_with_manager("limitacct")
        for i in range(100):
            self.assertEqual(self.put(f"limit{i:03d}", key).status, 201, i)
        response = self.put("limit100", key)
        self.assertEqual(response.status, 409)
        self.assertIn("100", response.json()["errors"][0]["message"])
        self.assertEqual(self.put("limit000", key).status, 200)
        self.assertEqual(self.api("DELETE", "/api/v1/namespaces/limit000", key).status, 204)
        self.assertEqual(self.put("limit100", key).status, 201)

    def test_delete_then_recreate_by_other_account(self):
        self.assertEqual(self.put("recycled").status, 201)
        push_image(self.berthd, "recycled/app", "v1")
        self.assertEqual(self.api("DELETE", "/api/v1/namespaces/recycled").status, 204)
        self.assertEqual(self.api("DELETE", "/api/v1/namespaces/recycled").status, 404)
        self.assertEqual(self.put("recycled", self.other_key).status, 201)

        other = {"Authorization": self.berthd.basic_auth(self.other_key)}
        old_image = self.berthd.request("GET", "/v2/recycled/app/manifests/v1", headers=other)
        self.assertEqual(old_image.status, 404)
        self.assertEqual(self.berthd.request("GET", "/v2/recycled/app/tags/list", headers=other).status, 404)
        catalog = self.berthd.request("GET", "/v2/_catalog", headers=other).json()["repositories"]
        self.assertNotIn("recycled/app", catalog)
        # The first account lost the name with its images.
        first = self.berthd.request("GET", "/v2/recycled/app/manifests/v1")
        self.assertEqual(first.status, 403)

    def test_push_into_missing_namespace_names_it(self):
        response = self.berthd.request("POST", "/v2/nowhereyet/app/blobs/uploads/",
                                       headers={"Authorization": self.berthd.basic_auth(self.manager_key)},
                                       auth=False)
        self.assertEqual(response.status, 403)
        message = response.json()["errors"][0]["message"]
        self.assertIn("'nowhereyet'", message)
        self.assertIn("namespace-add nowhereyet", message)

    def test_details_fields(self):
        self.assertEqual(self.put("detailsns").status, 201)
        details = self.api("GET", "/api/v1/namespaces/details").json()
        entry = next(item for item in details if item["name"] == "detailsns")
        self.assertEqual(sorted(entry), ["account", "created_date", "name", "public", "resource_group",
                                         "updated_date"])
        self.assertRegex(entry["created_date"], r"^\d{4}-\d\d-\d\dT")


class PublicNamespaceTest(AuthTestCase):
    def test_anonymous_pull_only_from_public(self):
        self.admin("namespace-add", "publicns", "--account", "default", "--public")
        self.berthd.create_namespace("privatens")
        push_image(self.berthd, "publicns/base", "v1")
        push_image(self.berthd, "privatens/app", "v1")

        public = self.berthd.request("GET", "/v2/publicns/base/manifests/v1", auth=False,
                                     headers={"Accept": OCI_MANIFEST})
        self.assertEqual(public.status, 200)
        private = self.berthd.request("GET", "/v2/privatens/app/manifests/v1", auth=False)
        self.assertEqual(private.status, 401)
        push = self.berthd.request("POST", "/v2/publicns/base/blobs/uploads/", auth=False)
        self.assertEqual(push.status, 401)

        # The anonymous token flow that docker uses for public images.
        token = self.berthd.request("GET", "/oauth/token?service=registry&scope=repository:publicns/base:pull,push",
                                    auth=False).json()["token"]
        self.assertEqual(jwt_claims(token)["access"],
                         [{"type": "repository", "name": "publicns/base", "actions": ["pull"]}])
        pulled = self.berthd.request("GET", "/v2/publicns/base/manifests/v1",
                                     headers={**self.bearer(token), "Accept": OCI_MANIFEST})
        self.assertEqual(pulled.status, 200)

        # Another account may pull public images, but not push them.
        other = {"Authorization": self.berthd.basic_auth(self.other_key)}
        self.assertEqual(self.berthd.request("GET", "/v2/publicns/base/tags/list", headers=other).status, 200)
        self.assertEqual(self.berthd.request("POST", "/v2/publicns/base/blobs/uploads/", headers=other).status, 403)


class AuditLogTest(AuthTestCase):
    def test_security_events_logged_without_secrets(self):
        self.berthd.request("GET", "/oauth/token?service=registry",
                            headers={"Authorization": self.berthd.basic_auth("berth_wrong-key")})
        self.token(self.manager_key, "repository:auditns/app:pull")
        self.berthd.create_namespace("auditns")
        iam_id, key = self.create_service_id("audited", [("Reader", "auditns")])
        self.berthd.request("POST", "/v2/auditns/app/blobs/uploads/",
                            headers={"Authorization": self.berthd.basic_auth(key)})
        key_id = next(entry["id"] for entry in self.api("GET", "/api/v1/iam/apikeys").json()
                      if entry["iam_id"] == iam_id)
        self.api("DELETE", f"/api/v1/iam/apikeys/{key_id}")
        self.api("DELETE", "/api/v1/namespaces/auditns")

        log = self.berthd.log_text()
        audit_lines = [line for line in log.splitlines() if " audit " in line]
        for event in ["login_failed", "login_succeeded", "namespace_created", "identity_created",
                      "policy_created", "api_key_created", "access_denied", "api_key_deleted",
                      "namespace_deleted"]:
            with self.subTest(event=event):
                lines = [line for line in audit_lines if f"event={event} " in line]
                self.assertTrue(lines, event)
                self.assertTrue(all("request_id=" in line or "client=local" in line for line in lines))
        denied = next(line for line in audit_lines if "event=access_denied" in line)
        self.assertIn(f"identity={iam_id}", denied)
        self.assertIn("client=127.0.0.1", denied)
        for secret in (self.manager_key, self.other_key, key):
            self.assertNotIn(secret, log)


@embedded_only("edits the SQLite file of a stopped berthd")
class AdoptionTest(unittest.TestCase):
    def test_images_from_before_accounts_adopted(self):
        """A data directory whose repositories have no namespace rows (as
        one written before accounts existed) gets them for the first
        account, so its images stay reachable."""
        workdir = Path(tempfile.mkdtemp(prefix="berth-adopt-"))
        try:
            berthd = Berthd(workdir / "data").start()
            manifest, _ = push_image(berthd, "legacy/app", "v1")
            berthd.stop()

            database = sqlite3.connect(workdir / "data" / "berth.db")
            with database:
                for table in ("policies", "api_keys", "identities", "namespaces", "accounts"):
                    database.execute(f"DELETE FROM {table}")
            database.close()
            (workdir / "data" / "initial-apikey").unlink()

            berthd = Berthd(workdir / "data").start()
            self.assertIn("Created account 'default'", berthd.startup_output)
            pulled = berthd.request("GET", "/v2/legacy/app/manifests/v1", auth=False,
                                    headers={"Authorization": berthd.basic_auth(), "Accept": OCI_MANIFEST})
            self.assertEqual(pulled.status, 200)
            self.assertEqual(pulled.body, manifest)
            self.assertIn("namespace_created namespace=legacy", berthd.log_text())
            berthd.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


@embedded_only("restarts one berthd with new key files; a cluster's nodes share theirs through the configuration")
class SigningKeyTest(unittest.TestCase):
    def setUp(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="berth-keys-"))
        self.berthd = None

    def tearDown(self):
        if self.berthd:
            self.berthd.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def start(self, env=None):
        self.berthd = Berthd(self.workdir / "data", env=env).start()
        return self.berthd

    def restart(self, env=None):
        self.berthd.stop()
        return self.start(env)

    def token(self):
        response = self.berthd.request("GET", "/oauth/token?service=registry")
        self.assertEqual(response.status, 200, response)
        return response.json()

    def status_with(self, token):
        return self.berthd.request("GET", "/v2/", headers={"Authorization": "Bearer " + token}).status

    def test_key_created_private_and_kept(self):
        self.start()
        key_file = self.workdir / "data" / "keys" / "token-signing.pem"
        self.assertEqual(key_file.stat().st_mode & 0o777, 0o600)
        self.assertEqual(key_file.parent.stat().st_mode & 0o777, 0o700)
        token = self.token()["token"]
        self.restart()
        self.assertEqual(self.status_with(token), 200)
        self.assertEqual(kid_of(self.token()["token"]), kid_of(token))

    def test_rotation_keeps_accepted_keys(self):
        self.start()
        old_key = self.workdir / "data" / "keys" / "token-signing.pem"
        old_token = self.token()["token"]
        new_key = self.workdir / "new.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", str(new_key)], check=True, capture_output=True)

        self.restart({"BERTH_AUTH_SIGNING_KEY": str(new_key), "BERTH_AUTH_ACCEPTED_KEYS": str(old_key)})
        new_token = self.token()["token"]
        self.assertNotEqual(kid_of(new_token), kid_of(old_token))
        self.assertEqual(self.status_with(old_token), 200)
        self.assertEqual(self.status_with(new_token), 200)

        self.restart({"BERTH_AUTH_SIGNING_KEY": str(new_key)})
        self.assertEqual(self.status_with(old_token), 401)
        self.assertEqual(self.status_with(new_token), 200)

    def test_token_lifetime_configurable(self):
        self.start({"BERTH_AUTH_TOKEN_LIFETIME_SECONDS": "120"})
        body = self.token()
        self.assertEqual(body["expires_in"], 120)
        claims = jwt_claims(body["token"])
        self.assertEqual(claims["exp"] - claims["iat"], 120)

    def test_unreadable_accepted_key_stops_start(self):
        with self.assertRaises(RuntimeError) as failure:
            self.start({"BERTH_AUTH_ACCEPTED_KEYS": str(self.workdir / "missing.pem")})
        self.assertIn("missing.pem", str(failure.exception))


@embedded_only("counts failed logins in one process")
class LoginLimitTest(unittest.TestCase):
    def test_failed_logins_are_limited(self):
        workdir = Path(tempfile.mkdtemp(prefix="berth-limit-"))
        berthd = Berthd(workdir / "data", env={"BERTH_AUTH_FAILED_LOGIN_LIMIT": "3",
                                                "BERTH_AUTH_FAILED_LOGIN_WINDOW_SECONDS": "2"}).start()
        try:
            wrong = {"Authorization": berthd.basic_auth("berth_wrong")}
            statuses = [berthd.request("GET", "/oauth/token?service=registry", headers=wrong).status
                        for _ in range(4)]
            self.assertEqual(statuses, [401, 401, 401, 429])
            locked = berthd.request("GET", "/v2/", headers={"Authorization": berthd.basic_auth()})
            self.assertEqual(locked.status, 429)
            self.assertTrue(1 <= int(locked.header("Retry-After")) <= 2)
            time.sleep(2.1)
            self.assertEqual(berthd.request("GET", "/v2/").status, 200)
        finally:
            berthd.stop()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
