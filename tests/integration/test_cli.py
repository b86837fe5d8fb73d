"""The berth command line client against a running berthd.

Each test runs the real `berth` binary (BERTH, default build/berth) as a
user would, with its settings in a private BERTH_HOME whose only region is
the class's berthd on 127.0.0.1. The scenarios of the hosted registry's FAQ
run verbatim as shell scripts, with `berth` in place of `ibmcloud cr`.
"""

import base64
import json
import os
import pty
import re
import select
import socket
import subprocess
import time
import unittest
from pathlib import Path

from harness import FIXTURES, ROOT, BerthdTestCase, push_image

BERTH = Path(os.environ.get("BERTH", ROOT / "build" / "berth"))
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def image_config(created):
    return json.dumps({"architecture": "amd64", "os": "linux", "created": created,
                       "config": {"Cmd": ["/bin/sh"], "Labels": {"team": "birds"}},
                       "rootfs": {"type": "layers", "diff_ids": []}}).encode()


class CliTestCase(BerthdTestCase):
    """A berthd, and a berth whose configuration targets it and contains the Manager key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.home = cls.workdir / "home"
            cls.home.mkdir()
            cls.env = {key: value for key, value in os.environ.items() if not key.startswith("BERTH")}
            cls.env.update(HOME=str(cls.home), BERTH_HOME=str(cls.home / ".berth"), PATH=os.environ["PATH"])
            cls.env["DOCKER_CONFIG"] = str(cls.workdir / "docker-config")
            cls.env["REGISTRY_AUTH_FILE"] = str(cls.workdir / "auth.json")
            cls.berth_ok("region-add", "test", "--domain", cls.berthd.address,
                         "--api-endpoint", f"http://{cls.berthd.address}")
            cls.berth_ok("region-set", "test")
            cls.berth_ok("login", "--client", "podman", "--apikey", "-", input=cls.berthd.api_key)
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def berth(cls, *args, input=None, env=None):
        return subprocess.run([str(BERTH), *map(str, args)], input=input, capture_output=True, text=True,
                              env=env or cls.env, timeout=120)

    @classmethod
    def berth_ok(cls, *args, input=None):
        result = cls.berth(*args, input=input)
        if result.returncode != 0:
            raise AssertionError(f"berth {' '.join(map(str, args))} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result.stdout

    def shell(self, script):
        """Run a bash script with `berth` on the PATH, as the FAQ's readers do."""
        env = dict(self.env, PATH=f"{BERTH.parent}:{self.env['PATH']}")
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                                env=env, timeout=300)
        self.assertEqual(result.returncode, 0, f"script failed:\n{script}\n{result.stdout}{result.stderr}")
        return result.stdout

    def assert_failed(self, result, message):
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertTrue(result.stderr.startswith("FAILED\n"), result.stderr)
        self.assertIn(message, result.stderr)

    @staticmethod
    def table(output, header=False):
        """The table in a command's normal output: the rows below the header as lists of cells, or with
        `header`, the header row alone."""
        lines = output.splitlines()
        start = next(i for i, line in enumerate(lines) if line.endswith("...")) + 2
        rows = []
        for line in lines[start:]:
            if line == "":
                break
            rows.append(re.split(r" {3,}", line.strip()))
        return rows[0] if header else rows[1:]


class FaqScenarios(CliTestCase):
    """The hosted registry's FAQ answers, with berth in place of ibmcloud cr."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            for namespace in ("oldspace", "newspace", "birds", "aging"):
                cls.berth_ok("namespace-add", namespace)
            push_image(cls.berthd, "oldspace/app", "v1", b"app layer 1")
            push_image(cls.berthd, "oldspace/app", "v2", b"app layer 2")
            push_image(cls.berthd, "oldspace/tools/shell", "latest", b"shell layer")
            push_image(cls.berthd, "birds/bluebird", "1", b"bluebird layer")
        except BaseException:
            cls.tearDownClass()
            raise

    def images(self, restrict):
        out = self.berth_ok("images", "--restrict", restrict, "--format", "{{ .Repository }}:{{ .Tag }} {{ .Digest }}")
        return dict(line.split(" ") for line in out.splitlines())

    def test_move_images_to_a_new_namespace(self):
        before = self.images("oldspace")
        self.assertEqual(len(before), 3, before)
        self.shell('''
            IMAGES=$(berth images --restrict oldspace --format "{{ .Repository }}:{{ .Tag }}")
            for i in $IMAGES; do
              berth image-tag $i $(echo $i | sed -e s/oldspace/newspace/)
            done
        ''')
        after = self.images("newspace")
        expected = {name.replace("/oldspace/", "/newspace/"): digest for name, digest in before.items()}
        self.assertEqual(after, expected)
        # The copies pull back: their manifests are served from the new repositories.
        for name, digest in after.items():
            repository, tag = name.split("/", 1)[1].rsplit(":", 1)
            response = self.berthd.request("GET", f"/v2/{repository}/manifests/{tag}",
                                           headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            self.assertEqual(response.status, 200, name)
            self.assertEqual(response.header("Docker-Content-Digest"), digest)

    def test_add_tags_latest_and_peck_to_bluebird(self):
        image = f"{self.berthd.address}/birds/bluebird"
        self.shell(f'''
            berth image-tag {image}:1 {image}:latest
            berth image-tag {image}:1 {image}:peck
        ''')
        rows = self.table(self.berth_ok("image-list", "--restrict", "birds/bluebird"))
        self.assertEqual(sorted(row[1] for row in rows), ["1", "latest", "peck"], rows)
        self.assertEqual(len({row[2] for row in rows}), 1, "the three tags name one image")

    def test_list_images_older_than_a_year(self):
        push_image(self.berthd, "aging/old", "v1", b"old layer", image_config("2019-03-01T10:00:00Z"))
        push_image(self.berthd, "aging/new", "v1", b"new layer",
                   image_config(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
        out = self.shell('''
            year=$(date -d "1 year ago" +%s)
            berth digests --restrict aging --format '{{ if (lt .Created '$year')}}{{.Repository}}:{{.Digest}}{{end}}'
        ''')
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)
        self.assertTrue(lines[0].startswith(f"{self.berthd.address}/aging/old:sha256:"), out)

    def test_find_untagged_images_by_the_dash_in_the_tags_column(self):
        _, first = push_image(self.berthd, "birds/robin", "spring", b"robin 1")
        _, second = push_image(self.berthd, "birds/robin", "spring", b"robin 2")
        rows = self.table(self.shell("berth image-digests --restrict birds/robin"))
        by_digest = {row[1]: row for row in rows}
        self.assertEqual(by_digest[first][2], "-", rows)
        self.assertEqual(by_digest[second][2], "spring", rows)
        untagged = self.shell("berth image-digests --restrict birds/robin "
                              "--format '{{if not .Tags}}{{.Repository}}@{{.Digest}}{{end}}'")
        self.assertEqual(untagged, f"{self.berthd.address}/birds/robin@{first}\n")

    def test_full_digests(self):
        _, digest = push_image(self.berthd, "birds/wren", "v1", b"wren")
        truncated = self.table(self.berth_ok("image-list", "--restrict", "birds/wren"))
        self.assertEqual(truncated[0][2], digest[len("sha256:"):][:12])
        full = self.table(self.berth_ok("image-list", "--restrict", "birds/wren", "--no-trunc"))
        self.assertEqual(full[0][2], digest)
        digests = self.table(self.berth_ok("image-digests", "--restrict", "birds/wren"))
        self.assertEqual(digests[0][1], digest)


class Regions(CliTestCase):
    def test_region_set_accepts_name_former_name_and_domain(self):
        config_file = self.home / ".berth" / "config.json"
        config = json.loads(config_file.read_text())
        config["regions"].append({"name": "eu-gb", "former_name": "uk-south", "domain": "uk.icr.io",
                                  "api_endpoint": "https://uk.icr.io"})
        config_file.write_text(json.dumps(config))
        try:
            for alias in ("eu-gb", "uk-south", "uk.icr.io"):
                out = self.berth_ok("region-set", alias)
                self.assertIn("The region is set to 'eu-gb', the registry is 'uk.icr.io'.", out)
                self.assertIn("You are targeting region 'eu-gb'", self.berth_ok("region"))
            self.assert_failed(self.berth("region-set", "mars-1"), "'mars-1' is not a known region")
            listing = self.berth_ok("region-set")
            self.assertRegex(listing, r"eu-gb \(targeted\)\s+uk-south\s+uk\.icr\.io")
        finally:
            self.berth_ok("region-set", "test")

    def test_region_add_defaults_and_rm(self):
        out = self.berth_ok("region-add", "loop", "--domain", "127.0.0.1:5999")
        self.assertIn("its API is 'http://127.0.0.1:5999'", out)
        out = self.berth_ok("region-add", "remote", "--domain", "registry.example.com")
        self.assertIn("its API is 'https://registry.example.com'", out)
        self.assert_failed(self.berth("region-add", "bad", "--domain", "http://x:5000/"), "without http://")
        self.berth_ok("region-rm", "loop")
        self.berth_ok("region-rm", "remote")
        self.assertNotIn("loop", self.berth_ok("region-set"))
        self.assert_failed(self.berth("region-rm", "test"), "is the targeted region")
        self.assert_failed(self.berth("region", env=dict(self.env, BERTH_REGION="nope")), "BERTH_REGION is set to 'nope'")

    def test_environment_overrides_region_and_key(self):
        env = dict(self.env, BERTH_REGION="local")
        result = self.berth("region", env=env)
        self.assertIn("region 'local', the registry is '127.0.0.1:5000'", result.stdout)
        env = dict(self.env, BERTH_APIKEY="berth_not-a-key")
        self.assert_failed(self.berth("namespace-list", env=env), "The API key was not accepted")

    def test_api_and_info_name_the_server(self):
        self.assertEqual(self.berth_ok("api"), f"Registry API endpoint   http://{self.berthd.address}/api\n")
        info = self.berth_ok("info")
        self.assertRegex(info, rf"Container Registry\s+{re.escape(self.berthd.address)}\n")
        self.assertRegex(info, r"Account details\s+default \([0-9a-f]{32}\)")
        self.assertTrue(info.endswith("\nOK\n"), info)
        self.assertNotIn("Message from", info, "this berthd has no operator message")


class OperatorMessage(CliTestCase):
    berthd_env = {"BERTH_MESSAGES": "Maintenance on Sunday from 06:00 UTC."}

    def test_info_shows_the_operator_message(self):
        info = self.berth_ok("info")
        self.assertIn("Message from the registry's operator:\nMaintenance on Sunday from 06:00 UTC.\n", info)


class Namespaces(CliTestCase):
    def test_add_list_and_remove(self):
        out = self.berth_ok("namespace-add", "cli-ns1")
        self.assertIn("Adding namespace 'cli-ns1' for account 'default' in registry", out)
        self.assertIn("Successfully added namespace 'cli-ns1'", out)
        self.assertTrue(out.endswith("\nOK\n"))
        self.assertIn(["cli-ns1"], self.table(self.berth_ok("namespaces")))
        verbose = self.table(self.berth_ok("namespace-list", "-v"))
        self.assertIn("cli-ns1", [row[0] for row in verbose])
        listed = json.loads(self.berth_ok("namespace-list", "--output", "json"))
        self.assertIn("cli-ns1", [item["name"] for item in listed])

        # Without --force and without a terminal, berth refuses rather than guess.
        self.assert_failed(self.berth("namespace-rm", "cli-ns1", input=""), "--force")
        out = self.berth_ok("namespace-rm", "cli-ns1", "-f")
        self.assertIn("Successfully removed namespace 'cli-ns1'.", out)
        self.assertNotIn(["cli-ns1"], self.table(self.berth_ok("namespaces")))

    def test_bad_name_fails_with_the_server_message(self):
        result = self.berth("namespace-add", "UP")
        self.assert_failed(result, "namespace")
        self.assertEqual(result.stdout.count("OK"), 0)


class ImageCommands(CliTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.berth_ok("namespace-add", "imgs")
            cls.manifest, cls.digest = push_image(cls.berthd, "imgs/app", "v1", b"x" * 1_801_000,
                                                  image_config("2020-05-01T00:00:00Z"))
        except BaseException:
            cls.tearDownClass()
            raise

    def test_image_list_columns_and_quiet(self):
        out = self.berth_ok("image-list", "--restrict", "imgs")
        self.assertTrue(out.startswith("Listing images...\n\n"), out)
        self.assertEqual(self.table(out, header=True), ["Repository", "Tag", "Digest", "Namespace", "Created", "Size"])
        rows = self.table(out)
        self.assertEqual(rows[0][:4], [f"{self.berthd.address}/imgs/app", "v1", self.digest[7:19], "imgs"])
        self.assertRegex(rows[0][4], r"^\d+ years ago$")
        self.assertEqual(rows[0][5], "1.8 MB")
        self.assertEqual(self.berth_ok("images", "-q", "--restrict", "imgs"), f"{self.berthd.address}/imgs/app:v1\n")
        typed = self.berth_ok("images", "--restrict", "imgs", "--show-type")
        self.assertEqual(self.table(typed, header=True)[-1], "Type")
        self.assertEqual(self.table(typed)[0][-1], "OCI image")
        listed = json.loads(self.berth_ok("images", "--restrict", "imgs", "-o", "json"))
        self.assertEqual(listed[0]["Id"], self.digest)

    def test_digests_quiet_and_json(self):
        self.assertEqual(self.berth_ok("digests", "-q", "--restrict", "imgs/app"),
                         f"{self.berthd.address}/imgs/app@{self.digest}\n")
        listed = json.loads(self.berth_ok("digests", "--restrict", "imgs", "--output", "json"))
        self.assertEqual([item["id"] for item in listed], [self.digest])

    def test_inspect_and_manifest(self):
        reference = f"{self.berthd.address}/imgs/app:v1"
        self.assertEqual(self.berth_ok("image-inspect", "--format", "{{ .Os }}/{{ .Architecture }} {{ .Config.Cmd }}",
                                       reference), "linux/amd64 [/bin/sh]\n")
        self.assertEqual(self.berth_ok("image-inspect", "--format", '{{ index .Config.Labels "team" }}', "imgs/app:v1"),
                         "birds\n")
        out = self.berth_ok("image-inspect", reference)
        self.assertIn("Inspecting '" + reference + "'...", out)
        self.assertIn('"Architecture": "amd64"', out)
        quiet = self.berth_ok("manifest-inspect", "-q", reference)
        self.assertEqual(json.loads(quiet), json.loads(self.manifest))
        result = self.berth("image-inspect", "imgs/app:missing")
        self.assert_failed(result, "Could not inspect 1 of 1 images:\n'imgs/app:missing': ")

    def test_tag_and_untag(self):
        self.berth_ok("image-tag", "imgs/app:v1", "imgs/app:extra")
        self.assertIn(f"{self.berthd.address}/imgs/app:extra\n", self.berth_ok("images", "-q", "--restrict", "imgs"))
        out = self.berth_ok("image-untag", "imgs/app:extra")
        self.assertIn("Successfully removed tag 'extra' from image 'imgs/app:extra'.", out)
        self.assertNotIn(":extra", self.berth_ok("images", "-q", "--restrict", "imgs"))
        # The image stays, reachable by digest.
        self.assertIn(self.digest, self.berth_ok("digests", "-q", "--restrict", "imgs"))
        self.assert_failed(self.berth("image-untag", "imgs/app"), "names no tag")
        self.assert_failed(self.berth("image-tag", "imgs/app:v1", "imgs/app"), "needs a tag")

    def test_multi_architecture_image_is_listed_and_tagged_across_namespaces(self):
        self.berth_ok("namespace-add", "multi-src")
        self.berth_ok("namespace-add", "multi-dst")
        subprocess.run(["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false",
                        "--dest-creds", f"iamapikey:{self.berthd.api_key}", f"oci:{FIXTURES / 'multi'}:latest",
                        f"docker://{self.berthd.address}/multi-src/app:v1"], check=True, timeout=300,
                       env=dict(os.environ, REGISTRY_AUTH_FILE=str(self.workdir / "skopeo-auth.json")))
        listed = self.berth_ok("images", "--restrict", "multi-src", "--show-type")
        self.assertEqual(self.table(listed)[0][1], "v1")
        self.assertEqual(self.table(listed)[0][-1], "OCI index")
        self.berth_ok("image-tag", "multi-src/app:v1", "multi-dst/copy:v1")
        index = json.loads(self.berth_ok("manifest-inspect", "-q", "multi-dst/copy:v1"))
        for child in index["manifests"]:
            response = self.berthd.request("HEAD", f"/v2/multi-dst/copy/manifests/{child['digest']}",
                                           headers={"Accept": child["mediaType"]})
            self.assertEqual(response.status, 200, child["digest"])

    def test_restrict_to_an_unknown_namespace_fails(self):
        self.assert_failed(self.berth("images", "--restrict", "nosuchns"), "You have no namespace 'nosuchns'")
        self.assert_failed(self.berth("digests", "--restrict", "nosuchns/app"), "You have no namespace 'nosuchns'")

    def test_quiet_and_json_exclude_each_other(self):
        self.assert_failed(self.berth("images", "-q", "-o", "json"), "excludes")

    def test_untag_continues_after_a_missing_tag(self):
        self.berth_ok("image-tag", "imgs/app:v1", "imgs/app:first")
        self.berth_ok("image-tag", "imgs/app:v1", "imgs/app:third")
        result = self.berth("image-untag", "imgs/app:first", "imgs/app:nope", "imgs/app:third")
        self.assert_failed(result, "Could not remove 1 of 3 tags:\n'imgs/app:nope': ")
        listed = self.berth_ok("images", "-q", "--restrict", "imgs")
        self.assertNotIn(":first", listed)
        self.assertNotIn(":third", listed)

    def test_manifest_inspect_quiet_prints_the_stored_bytes(self):
        raw = subprocess.run([str(BERTH), "manifest-inspect", "-q", "imgs/app:v1"], capture_output=True,
                             env=self.env, timeout=60, check=True).stdout
        self.assertEqual(raw, self.manifest)

    def test_template_errors_name_the_problem(self):
        result = self.berth("images", "--format", "{{ .Repository ", "--restrict", "imgs")
        self.assert_failed(result, "The --format template is not valid: template: format:1:")
        result = self.berth("images", "--format", "{{ .NoSuchField }}", "--restrict", "imgs")
        self.assert_failed(result, "can't evaluate field NoSuchField in type main.Image")
        result = self.berth("image-inspect", "--format", "{{ .Confg }}", "imgs/app:v1")
        self.assert_failed(result, "can't evaluate field Confg in type main.ImageInspection")


class AccessCommands(CliTestCase):
    def test_service_id_with_a_reader_key(self):
        self.berth_ok("namespace-add", "cli-access")
        push_image(self.berthd, "cli-access/app", "v1", b"access layer")
        out = self.berth_ok("serviceid-create", "deployer", "-d", "the deployment pipeline")
        service_id = re.search(r"ServiceId-[0-9a-f-]+", out).group(0)
        self.berth_ok("policy-add", "deployer", "--role", "Reader", "--namespace", "cli-access")
        policies = self.table(self.berth_ok("policy-list"))
        self.assertIn([service_id, "Reader", "cli-access"], [row[1:4] for row in policies])

        key_file = self.workdir / "deployer.json"
        out = self.berth_ok("apikey-create", "deployer-key", "--service-id", "deployer", "--file", key_file)
        self.assertIn("cannot be shown again", out)
        key = json.loads(key_file.read_text())["apikey"]
        self.assertIn(key, out)
        self.assertEqual(os.stat(key_file).st_mode & 0o777, 0o600)
        keys = self.table(self.berth_ok("apikey-list"))
        self.assertIn("deployer-key", [row[1] for row in keys])

        reader_env = dict(self.env, BERTH_APIKEY=key)
        listed = self.berth("images", "-q", env=reader_env)
        self.assertEqual(listed.stdout, f"{self.berthd.address}/cli-access/app:v1\n", listed.stderr)
        denied = self.berth("namespace-add", "cli-access2", env=reader_env)
        self.assert_failed(denied, "You are not authorized")

        self.berth_ok("apikey-rm", "deployer-key", "-f")
        self.assert_failed(self.berth("images", env=reader_env), "The API key was not accepted")
        self.berth_ok("serviceid-rm", "deployer", "-f")
        self.assertNotIn("deployer", self.berth_ok("serviceid-list"))

    def test_pull_secret(self):
        key = self.berthd.api_key
        out = self.berth_ok("pull-secret", "--name", "regcred", "--k8s-namespace", "apps", "--apikey", key)
        self.assertIn("type: kubernetes.io/dockerconfigjson", out)
        encoded = re.search(r"\.dockerconfigjson: (\S+)", out).group(1)
        config = json.loads(base64.b64decode(encoded))
        self.assertEqual(config["auths"][self.berthd.address]["username"], "iamapikey")
        self.assertEqual(config["auths"][self.berthd.address]["password"], key)

    def test_pull_secret_rejects_a_key_the_registry_does_not_accept(self):
        result = self.berth("pull-secret", "--apikey", "berth_not-a-key")
        self.assert_failed(result, "pulls with this secret would fail")
        self.assertEqual(result.stdout, "")


class HelpAndVersion(CliTestCase):
    def test_version(self):
        self.assertRegex(self.berth_ok("version"), r"^berth version \d+\.\d+\.\d+\n$")
        self.assertRegex(self.berth_ok("--version"), r"^berth version \d+\.\d+\.\d+\n$")

    def test_help_lists_every_command_and_flag(self):
        top = self.berth_ok("--help")
        for command in ("login", "region-set", "namespace-add", "image-list", "image-digests", "image-inspect",
                        "manifest-inspect", "image-tag", "image-untag", "apikey-create", "policy-add",
                        "pull-secret"):
            self.assertIn(command, top)
        help_text = self.berth_ok("image-list", "--help")
        for flag in ("--format", "--quiet", "--restrict", "--include-ibm", "--no-trunc", "--show-type", "--output"):
            self.assertIn(flag, help_text)
        self.assertIn("1 MB =", help_text)

    def test_mistyped_command_gets_a_suggestion(self):
        result = self.berth("imagse")
        self.assert_failed(result, "'imagse' is not a berth command. Did you mean 'images'?")
        self.assertIn("Usage: berth namespace-add", self.berth_ok("help", "namespace-add"))

    def test_unknown_flag_fails_with_usage_hint(self):
        result = self.berth("image-list", "--bogus")
        self.assert_failed(result, "--bogus")
        self.assertIn("Run 'berth image-list --help'", result.stderr)

    def test_unreachable_server_says_what_to_do(self):
        env = dict(self.env, BERTH_REGION="local", BERTH_APIKEY="berth_x")
        # The default region is 127.0.0.1:5000; make sure nothing answers there for this check.
        probe = subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "2", "http://127.0.0.1:5000/v2/"])
        if probe.returncode == 0:
            self.skipTest("something listens on 127.0.0.1:5000")
        self.assert_failed(self.berth("images", env=env), "Check that berthd is running there")


class Progress(CliTestCase):
    """A slow request shows a spinner on a terminal and nothing in a pipe."""

    def run_against_silent_server(self, stderr_is_terminal):
        # A loopback server that accepts the connection and never answers.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        env = dict(self.env, BERTH_APIKEY="berth_x")
        self.berth_ok("region-add", "silent", "--domain", f"127.0.0.1:{port}")
        try:
            env["BERTH_REGION"] = "silent"
            if stderr_is_terminal:
                controller, terminal = pty.openpty()
                process = subprocess.Popen([str(BERTH), "images"], stdout=subprocess.PIPE, stderr=terminal, env=env)
                os.close(terminal)
            else:
                process = subprocess.Popen([str(BERTH), "images"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           env=env)
            time.sleep(2.5)
            process.kill()
            stdout, stderr = process.communicate(timeout=30)
            if stderr_is_terminal:
                stderr = b""
                while select.select([controller], [], [], 0)[0]:
                    try:
                        chunk = os.read(controller, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    stderr += chunk
                os.close(controller)
            return stdout.decode(), stderr.decode()
        finally:
            silent.close()
            self.berth_ok("region-rm", "silent")

    def test_spinner_on_a_terminal(self):
        _, stderr = self.run_against_silent_server(stderr_is_terminal=True)
        self.assertRegex(stderr, r"Waiting for http://127\.0\.0\.1:\d+ \(\d+ s\)")

    def test_quiet_in_a_pipe(self):
        _, stderr = self.run_against_silent_server(stderr_is_terminal=False)
        self.assertEqual(stderr, "")


if __name__ == "__main__":
    unittest.main()
