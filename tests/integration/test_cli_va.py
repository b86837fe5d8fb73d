"""berth's Vulnerability Advisor commands against a running berthd.

skopeo pushes the fixture images of tests/fixtures/build-images, `berthd
admin va-import` imports the OSV fixture advisories, and the tests start
once berthd's indexing worker has read every pushed image, which the
report/image/status endpoint shows as a status other than UNSCANNED. The
image vulnerable:latest carries bullseye's libexpat1, older than the fixed
versions of DEBIAN-CVE-2022-40674 (CVE-2022-40674) and DSA-5242-1
(CVE-2022-40674 and CVE-2022-43680), and busybox:latest has no OS release
or package database. tests/fixtures/osv/README.md lists what each fixture
image must report.
"""

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse

from harness import FIXTURES, ROOT
from test_cli import CliTestCase

OSV_FIXTURES = ROOT / "tests" / "fixtures" / "osv"
CVE = "CVE-2022-40674"
# The second CVE of the notice DSA-5242-1, which covers both.
SECOND_CVE = "CVE-2022-43680"
NOTICE = "DSA-5242-1"
# How long the indexing worker may take to read one pushed image.
INDEX_TIMEOUT_SECONDS = 60


def quote(name):
    return urllib.parse.quote(name, safe="")


class VaTestCase(CliTestCase):
    @classmethod
    def push(cls, layout, tag, target):
        """Push the fixture layout's TAG to TARGET (NAMESPACE/REPOSITORY:TAG) with skopeo."""
        if shutil.which("skopeo") is None:
            raise RuntimeError("skopeo not found on PATH. Install the test clients with scripts/bootstrap.")
        if not (FIXTURES / layout / "index.json").exists():
            raise RuntimeError(f"fixture layout {FIXTURES / layout} is missing. Build it with "
                               "tests/fixtures/build-images.")
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                        "--dest-creds", f"iamapikey:{cls.berthd.api_key}",
                        f"oci:{FIXTURES / layout}:{tag}", f"docker://{cls.berthd.address}/{target}"],
                       check=True, capture_output=True, timeout=600,
                       env=dict(os.environ, TMPDIR=str(cls.workdir),
                                REGISTRY_AUTH_FILE=str(cls.workdir / "skopeo-auth.json")))

    @classmethod
    def import_advisories(cls, directory):
        result = cls.berthd.admin("va-import", str(directory))
        if result.returncode != 0:
            raise AssertionError(f"berthd admin va-import {directory} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    @classmethod
    def scan_status(cls, name):
        """The ScanreportSummary of GET /va/api/v4/report/image/status/NAME."""
        response = cls.berthd.request("GET", f"/va/api/v4/report/image/status/{quote(name)}")
        if response.status != 200:
            raise AssertionError(f"status of {name}: {response}")
        return response.json()

    @classmethod
    def wait_indexed(cls, *names):
        """Wait until every image has a status other than UNSCANNED."""
        deadline = time.monotonic() + INDEX_TIMEOUT_SECONDS
        for name in names:
            while cls.scan_status(name)["status"] == "UNSCANNED":
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} was not indexed within {INDEX_TIMEOUT_SECONDS} s; berthd log:\n"
                                         f"{cls.berthd.log_text()[-3000:]}")
                time.sleep(0.2)

    def full(self, reference):
        """The reference with the registry's domain, as listings print it."""
        return f"{self.berthd.address}/{reference}"

    def va_json(self, *images, env=None):
        result = self.berth("va", "-o", "json", *images, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    @staticmethod
    def vulnerability(report, cve_id):
        """The entry of CVE_ID in one va --output json report, or None."""
        return next((v for v in report["vulnerabilities"] if v["cve_id"] == cve_id), None)

    @staticmethod
    def section(output, heading):
        """The table under HEADING in va's text output: the header and the rows, as lists of cells."""
        lines = output.splitlines()
        start = lines.index(heading) + 1
        rows = []
        for line in lines[start:]:
            if line == "":
                break
            rows.append(re.split(r" {3,}", line.strip()))
        return rows

    def security_status(self, command, reference):
        """The Security status cell of REFERENCE's row in `berth COMMAND --va`."""
        repository = reference.rsplit(":", 1)[0]
        out = self.berth_ok(command, "--va", "--restrict", repository)
        header = self.table(out, header=True)
        self.assertEqual(header[-1], "Security status", out)
        rows = self.table(out)
        self.assertEqual(len(rows), 1, out)
        return rows[0][-1]


class VulnerabilityReports(VaTestCase):
    """Fixture images indexed with the fixture advisories imported."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            for namespace in ("vuln", "exempt"):
                cls.berth_ok("namespace-add", namespace)
            cls.push("vulnerable", "latest", "vuln/vulnerable:latest")
            cls.push("debian", "bookworm", "vuln/debian:bookworm")
            cls.push("busybox", "latest", "vuln/busybox:latest")
            cls.push("alpine", "3.19", "vuln/alpine:3.19")
            cls.push("rpm", "9", "vuln/rpm:9")
            # A copy in its own namespace, for the exemption tests: the
            # inventory belongs to the digest, so the copy needs no new scan.
            cls.berth_ok("image-tag", "vuln/vulnerable:latest", "exempt/vulnerable:latest")
            cls.import_output = cls.import_advisories(OSV_FIXTURES / "advisories")
            cls.wait_indexed("vuln/vulnerable:latest", "vuln/debian:bookworm", "vuln/busybox:latest",
                             "vuln/alpine:3.19", "vuln/rpm:9", "exempt/vulnerable:latest")
        except BaseException:
            cls.tearDownClass()
            raise

    def test_vulnerable_image_fails_with_the_cve(self):
        out = self.berth_ok("va", "vuln/vulnerable")
        self.assertTrue(out.startswith("Checking security issues for 'vuln/vulnerable'...\n\n"), out)
        self.assertTrue(out.endswith("\n\nOK\n"), out)
        image = self.full("vuln/vulnerable:latest")
        self.assertRegex(out, rf"Image '{re.escape(image)}' was last scanned on \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.")
        self.assertIn("\nThe scan results show that 2 ISSUES were found for the image.\n", out)
        self.assertIn("\nStatus: FAIL\n", out)
        self.assertIn("\nOperating system: debian 12 (bookworm)\n", out)
        table = self.section(out, "Vulnerable Packages Found")
        self.assertEqual(table[0], ["Vulnerability ID", "Policy Status", "Affected Packages", "How to Resolve"])
        rows = {row[0]: row for row in table[1:]}
        self.assertEqual(sorted(rows), [CVE, SECOND_CVE], out)
        self.assertEqual(rows[CVE][1:3], ["Active", "libexpat1"])
        self.assertEqual(rows[CVE][3], "Upgrade libexpat1 to at least 2.4.9-1; Upgrade libexpat1 to at least 2.5.0-1")
        self.assertEqual(rows[SECOND_CVE][1:], ["Active", "libexpat1", "Upgrade libexpat1 to at least 2.5.0-1"])

    def test_extended_report_shows_versions(self):
        out = self.berth_ok("va", "-e", self.full("vuln/vulnerable:latest"))
        table = self.section(out, "Vulnerable Packages Found")
        self.assertEqual(table[0], ["Vulnerability ID", "Policy Status", "Security Notice", "Affected Packages",
                                    "Installed Version", "Fixed Version", "How to Resolve"])
        # One row per notice and package: CVE-2022-40674 has two notices.
        rows = {(row[0], row[2]): row for row in table[1:]}
        self.assertEqual(sorted(rows), [(CVE, "DEBIAN-CVE-2022-40674"), (CVE, NOTICE), (SECOND_CVE, NOTICE)], out)
        for (cve_id, notice), fixed in (((CVE, "DEBIAN-CVE-2022-40674"), "2.4.9-1"), ((CVE, NOTICE), "2.5.0-1"),
                                        ((SECOND_CVE, NOTICE), "2.5.0-1")):
            row = rows[(cve_id, notice)]
            self.assertEqual(row[1], "Active")
            self.assertEqual(row[3], "libexpat1")
            self.assertTrue(row[4].startswith("2.2.10-2+deb11u"), row)
            self.assertEqual(row[5], fixed)
            self.assertEqual(row[6], f"Upgrade libexpat1 to at least {fixed}")

    def test_json_report(self):
        reports = self.va_json("vuln/vulnerable:latest")
        self.assertEqual(len(reports), 1)
        report = reports[0]
        self.assertEqual(list(report),
                         ["image", "status", "reason", "digest", "scan_time", "os_distribution", "vulnerabilities"])
        self.assertEqual(report["image"], self.full("vuln/vulnerable:latest"))
        self.assertEqual(report["status"], "FAIL")
        self.assertGreater(report["scan_time"], 0)
        self.assertEqual(report["os_distribution"]["distribution_id"], "debian")
        self.assertEqual(report["os_distribution"]["version_id"], "12")
        self.assertEqual([v["cve_id"] for v in report["vulnerabilities"]], [CVE, SECOND_CVE])
        vulnerability = self.vulnerability(report, CVE)
        self.assertFalse(vulnerability["cve_exempt"])
        self.assertEqual(vulnerability["exempt_status"], "active")
        notices = {notice["notice_id"]: notice for notice in vulnerability["security_notices"]}
        self.assertEqual(sorted(notices), ["DEBIAN-CVE-2022-40674", NOTICE])
        packages = notices["DEBIAN-CVE-2022-40674"]["vulnerable_packages"]
        self.assertEqual(len(packages), 1, vulnerability)
        self.assertEqual(packages[0]["package_name"], "libexpat1")
        self.assertTrue(packages[0]["installed_version"].startswith("2.2.10-2+deb11u"), packages[0])
        self.assertEqual(packages[0]["fix_version"], "2.4.9-1")
        self.assertEqual(packages[0]["corrective_action"], "Upgrade libexpat1 to at least 2.4.9-1")
        self.assertEqual(notices[NOTICE]["vulnerable_packages"][0]["fix_version"], "2.5.0-1")

        with_configuration = self.va_json("-c", "-v", "vuln/vulnerable:latest")[0]
        self.assertEqual(with_configuration["configuration_issues"], [])
        self.assertIn("vulnerabilities", with_configuration)
        only_configuration = self.va_json("-c", "vuln/vulnerable:latest")[0]
        self.assertNotIn("vulnerabilities", only_configuration)
        self.assertIn("No configuration issues were found.", self.berth_ok("va", "-c", "vuln/vulnerable:latest"))

    def test_several_images_in_one_call(self):
        reports = self.va_json("vuln/vulnerable", "vuln/debian:bookworm")
        self.assertEqual([report["image"] for report in reports],
                         [self.full("vuln/vulnerable:latest"), self.full("vuln/debian:bookworm")])
        # bookworm's own expat is newer than the fixed versions.
        self.assertEqual(reports[1]["status"], "OK")
        self.assertEqual(reports[1]["vulnerabilities"], [])
        self.assertIn("The scan results show that NO ISSUES were found for the image.",
                      self.berth_ok("va", "vuln/debian:bookworm"))
        self.assertEqual(self.security_status("image-list", "vuln/debian:bookworm"), "No Issues")
        out = self.berth_ok("va", "vuln/vulnerable", "vuln/debian:bookworm")
        self.assertIn("\n\nChecking security issues for 'vuln/debian:bookworm'...\n\n", out)

    def test_busybox_is_unsupported(self):
        report = self.va_json("vuln/busybox")[0]
        self.assertEqual(report["status"], "UNSUPPORTED")
        self.assertEqual(report["vulnerabilities"], [])
        out = self.berth_ok("va", "vuln/busybox")
        self.assertIn("\nStatus: UNSUPPORTED\nReason: ", out)
        self.assertIn("was not checked for vulnerabilities", out)
        self.assertEqual(self.security_status("image-list", "vuln/busybox:latest"), "Unsupported OS")
        self.assertEqual(self.security_status("image-digests", "vuln/busybox:latest"), "Unsupported OS")

    def test_alpine_and_rpm_images_fail(self):
        # libcrypto3 and libssl3 are both built from the source package openssl.
        expected = {
            "vuln/alpine:3.19": ("alpine", "3.19", {"CVE-2024-0727": [("libcrypto3", "3.1.4-r5"), ("libssl3", "3.1.4-r5")],
                                                   "CVE-2025-26519": [("musl", "1.2.4-r3")]}),
            "vuln/rpm:9": ("rhel", "9", {"CVE-2023-5678": [("openssl-libs", "1:3.0.7-25.el9_3")]}),
        }
        for reference, (distribution, version, cves) in expected.items():
            report = self.va_json(reference)[0]
            self.assertEqual(report["status"], "FAIL", report)
            self.assertEqual(report["os_distribution"]["distribution_id"], distribution, report)
            self.assertTrue(report["os_distribution"]["version_id"].startswith(version), report)
            found = {v["cve_id"]: [(p["package_name"], p["fix_version"]) for n in v["security_notices"]
                                   for p in n["vulnerable_packages"]] for v in report["vulnerabilities"]}
            self.assertEqual(found, cves, report)
            issues = len(cves)
            self.assertEqual(self.security_status("image-list", reference),
                             "1 Issue" if issues == 1 else f"{issues} Issues")

    def test_image_list_security_status(self):
        active = 2
        expected = "2 Issues"
        self.assertEqual(self.security_status("image-list", "vuln/vulnerable:latest"), expected)
        self.assertEqual(self.security_status("image-digests", "vuln/vulnerable:latest"), expected)
        formatted = self.berth_ok("images", "--va", "--restrict", "vuln/vulnerable", "--format",
                                  "{{.SecurityStatus.Status}}|{{.SecurityStatus.IssueCount}}|"
                                  "{{.SecurityStatus.ExemptionCount}}")
        self.assertEqual(formatted, f"{expected}|{active}|0\n")
        digests = self.berth_ok("digests", "--va", "--restrict", "vuln/vulnerable", "--format",
                                "{{.SecurityStatus.Status}}")
        self.assertEqual(digests, f"{expected}\n")
        listed = json.loads(self.berth_ok("images", "--va", "--restrict", "vuln/vulnerable", "-o", "json"))
        self.assertEqual(listed[0]["SecurityStatus"], {"Status": "FAIL", "IssueCount": active, "ExemptionCount": 0})

    def test_image_list_without_va_has_no_column(self):
        for flags in ((), ("--no-va",)):
            out = self.berth_ok("images", *flags, "--restrict", "vuln")
            self.assertEqual(self.table(out, header=True),
                             ["Repository", "Tag", "Digest", "Namespace", "Created", "Size"])
            out = self.berth_ok("digests", *flags, "--restrict", "vuln")
            self.assertEqual(self.table(out, header=True), ["Repository", "Digest", "Tags", "Type", "Created", "Size"])
        listed = json.loads(self.berth_ok("images", "--restrict", "vuln", "-o", "json"))
        self.assertTrue(all("SecurityStatus" not in image for image in listed), listed)
        formatted = self.berth_ok("images", "--restrict", "vuln/busybox", "--format", "[{{.SecurityStatus.Status}}]")
        self.assertEqual(formatted, "[]\n")
        self.assert_failed(self.berth("images", "--va", "--no-va"), "--va excludes --no-va")

    def test_exemption_changes_the_report(self):
        image = "exempt/vulnerable:latest"
        before = self.va_json(image)[0]
        self.assertEqual(self.vulnerability(before, CVE)["exempt_status"], "active")

        out = self.berth_ok("exemption-add", "--scope", "exempt/vulnerable", "--issue-type", "cve", "--issue-id", CVE)
        self.assertTrue(out.startswith(f"Creating exemption for '{CVE}' in '{self.full('exempt/vulnerable')}'...\n\n"),
                        out)
        self.assertIn(f"Successfully created exemption for cve '{CVE}'", out)
        again = self.berth_ok("exemption-add", "--scope", "exempt/vulnerable", "--issue-type", "CVE", "--issue-id", CVE)
        self.assertIn("exists already", again)
        try:
            after = self.va_json(image)[0]
            vulnerability = self.vulnerability(after, CVE)
            self.assertTrue(vulnerability["cve_exempt"])
            self.assertEqual(vulnerability["exempt_status"], "exempt")
            # The exempt CVE no longer counts, and CVE-2022-43680 still fails the image.
            self.assertEqual(after["status"], "FAIL")
            self.assertEqual(self.vulnerability(after, SECOND_CVE)["exempt_status"], "active")
            text = self.berth_ok("va", image)
            rows = {row[0]: row for row in self.section(text, "Vulnerable Packages Found")[1:]}
            self.assertEqual(rows[CVE][1], "Exempt")
            self.assertIn("1 more issue is exempt and does not count.", text)
            self.assertIn("The scan results show that 1 ISSUE was found for the image.", text)
            self.assertEqual(self.security_status("image-list", image), "1 Issue")
            formatted = self.berth_ok("images", "--va", "--restrict", "exempt/vulnerable", "--format",
                                      "{{.SecurityStatus.ExemptionCount}}")
            self.assertEqual(formatted, "1\n")
            # The original repository is outside the scope and still fails.
            self.assertEqual(self.vulnerability(self.va_json("vuln/vulnerable")[0], CVE)["exempt_status"], "active")
        finally:
            out = self.berth_ok("exemption-rm", "--scope", self.full("exempt/vulnerable"), "--issue-type", "cve",
                                "--issue-id", CVE)
        self.assertIn(f"Successfully deleted exemption for cve '{CVE}'", out)
        self.assertEqual(self.vulnerability(self.va_json(image)[0], CVE)["exempt_status"], "active")
        missing = self.berth("exemption-rm", "--scope", "exempt/vulnerable", "--issue-type", "cve", "--issue-id", CVE)
        self.assert_failed(missing, "Run 'berth exemption-list' to see the exemptions and their scopes.")

    def test_notice_exemption_makes_a_cve_partial(self):
        # DSA-5242-1 is the only notice of CVE-2022-43680 and one of two for CVE-2022-40674.
        self.berth_ok("exemption-add", "--scope", "exempt/vulnerable:latest", "--issue-type", "sn",
                      "--issue-id", NOTICE)
        try:
            report = self.va_json("exempt/vulnerable:latest")[0]
            self.assertEqual(self.vulnerability(report, CVE)["exempt_status"], "partial")
            self.assertFalse(self.vulnerability(report, CVE)["cve_exempt"])
            self.assertEqual(self.vulnerability(report, SECOND_CVE)["exempt_status"], "exempt")
            self.assertEqual(report["status"], "FAIL")
            text = self.berth_ok("va", "exempt/vulnerable:latest")
            rows = {row[0]: row for row in self.section(text, "Vulnerable Packages Found")[1:]}
            self.assertEqual(rows[CVE][1], "Partial")
            self.assertEqual(rows[SECOND_CVE][1], "Exempt")
            extended = self.berth_ok("va", "-e", "exempt/vulnerable:latest")
            policies = {(row[0], row[2]): row[1] for row in self.section(extended, "Vulnerable Packages Found")[1:]}
            self.assertEqual(policies, {(CVE, "DEBIAN-CVE-2022-40674"): "Active", (CVE, NOTICE): "Exempt",
                                        (SECOND_CVE, NOTICE): "Exempt"})
            self.assertEqual(self.security_status("image-list", "exempt/vulnerable:latest"), "1 Issue")
        finally:
            self.berth_ok("exemption-rm", "--scope", "exempt/vulnerable:latest", "--issue-type", "sn",
                          "--issue-id", NOTICE)

    def test_exemption_list_columns_and_scopes(self):
        added = [("exempt/vulnerable", "cve", "CVE-2099-0001"), ("exempt/vulnerable:latest", "sn", "DSA-9999-1"),
                 ("exempt", "cve", "CVE-2099-0002")]
        for scope, issue_type, issue_id in added:
            self.berth_ok("exemption-add", "--scope", scope, "--issue-type", issue_type, "--issue-id", issue_id)
        try:
            out = self.berth_ok("exemption-list")
            self.assertTrue(out.startswith("Listing exemptions for account 'default'...\n\n"), out)
            self.assertEqual(self.table(out, header=True), ["Scope", "Issue type", "Issue ID"])
            rows = self.table(out)
            for scope, issue_type, issue_id in added:
                self.assertIn([self.full(scope), issue_type, issue_id], rows)

            # A scope without a tag leaves out the exemptions of tags.
            scoped = self.table(self.berth_ok("exemptions", "--scope", "exempt/vulnerable"))
            self.assertIn([self.full("exempt/vulnerable"), "cve", "CVE-2099-0001"], scoped)
            self.assertIn([self.full("exempt"), "cve", "CVE-2099-0002"], scoped)
            self.assertNotIn([self.full("exempt/vulnerable:latest"), "sn", "DSA-9999-1"], scoped)
            tagged = self.table(self.berth_ok("exemption-list", "--scope", self.full("exempt/vulnerable:latest")))
            self.assertIn([self.full("exempt/vulnerable:latest"), "sn", "DSA-9999-1"], tagged)
            # A namespace has the account's exemptions and its own.
            namespace = self.table(self.berth_ok("exemption-list", "--scope", "exempt"))
            self.assertEqual(namespace, [[self.full("exempt"), "cve", "CVE-2099-0002"]])

            listed = json.loads(self.berth_ok("exemption-list", "-o", "json"))
            entry = next(e for e in listed if e["issue_id"] == "CVE-2099-0001")
            self.assertEqual(entry["issue_type"], "cve")
            self.assertEqual(entry["scope"]["scope_type"], "repository")
            self.assertEqual(entry["scope"]["namespace"], "exempt")
            self.assertEqual(entry["scope"]["repository"], "vulnerable")
        finally:
            for scope, issue_type, issue_id in added:
                self.berth_ok("exemption-rm", "--scope", scope, "--issue-type", issue_type, "--issue-id", issue_id)
        self.assertEqual(json.loads(self.berth_ok("exemption-list", "-o", "json")), [])
        self.assertIn("The account has no exemptions.", self.berth_ok("exemption-list"))

    def test_account_scope(self):
        out = self.berth_ok("exemption-add", "--scope", "*", "--issue-type", "cve", "--issue-id", CVE)
        self.assertTrue(out.startswith(f"Creating exemption for '{CVE}' in account 'default'...\n\n"), out)
        try:
            self.assertEqual(self.table(self.berth_ok("exemption-list", "--scope", "*")), [["*", "cve", CVE]])
            for image in ("vuln/vulnerable", "exempt/vulnerable"):
                self.assertTrue(self.vulnerability(self.va_json(image)[0], CVE)["cve_exempt"], image)
        finally:
            self.berth_ok("exemption-rm", "--scope", "*", "--issue-type", "cve", "--issue-id", CVE)
        self.assertFalse(self.vulnerability(self.va_json("vuln/vulnerable")[0], CVE)["cve_exempt"])

    def test_exemption_flags_are_checked(self):
        self.assert_failed(self.berth("exemption-add", "--scope", "vuln", "--issue-type", "configuration",
                                      "--issue-id", "x"), "The issue type 'configuration' is not valid")
        self.assert_failed(self.berth("exemption-add", "--scope", "other.example.com/vuln", "--issue-type", "cve",
                                      "--issue-id", CVE), "names the registry 'other.example.com'")
        result = self.berth("exemption-add", "--scope", "vuln", "--issue-type", "cve", "--issue-id", "CVE-1")
        self.assertNotEqual(result.returncode, 0)
        self.assertTrue(result.stderr.startswith("FAILED\n"), result.stderr)

    def test_exemption_types(self):
        out = self.berth_ok("exemption-types")
        self.assertTrue(out.startswith("Listing exemption types...\n\n"), out)
        self.assertEqual(self.table(out, header=True), ["Issue type", "Description"])
        self.assertEqual(self.table(out), [["cve", "CVE"], ["sn", "Security Notice"]])
        types = json.loads(self.berth_ok("exemption-types", "-o", "json"))
        self.assertEqual([t["identifier"] for t in types], ["cve", "sn"])

    def test_reader_reads_but_cannot_exempt(self):
        self.berth_ok("serviceid-create", "va-reader")
        self.berth_ok("policy-add", "va-reader", "--role", "Reader", "--namespace", "vuln")
        key_file = self.workdir / "va-reader.json"
        self.berth_ok("apikey-create", "va-reader-key", "--service-id", "va-reader", "--file", key_file)
        reader_env = dict(self.env, BERTH_APIKEY=json.loads(key_file.read_text())["apikey"])
        try:
            report = self.va_json("vuln/vulnerable", env=reader_env)[0]
            self.assertEqual(report["status"], "FAIL")
            self.assertEqual(self.berth("exemption-list", "--scope", "vuln/vulnerable", env=reader_env).returncode, 0)
            denied = self.berth("exemption-add", "--scope", "vuln/vulnerable", "--issue-type", "cve",
                                "--issue-id", CVE, env=reader_env)
            self.assert_failed(denied, "You are not authorized")
            listed = json.loads(self.berth_ok("exemption-list", "-o", "json"))
            self.assertNotIn(CVE, [exemption["issue_id"] for exemption in listed])
        finally:
            self.berth_ok("serviceid-rm", "va-reader", "-f")

    def test_namespace_manager_cannot_exempt(self):
        # Changing exemptions is an account-level action.
        self.berth_ok("serviceid-create", "va-ns-manager")
        self.berth_ok("policy-add", "va-ns-manager", "--role", "Manager", "--namespace", "vuln")
        key_file = self.workdir / "va-ns-manager.json"
        self.berth_ok("apikey-create", "va-ns-manager-key", "--service-id", "va-ns-manager", "--file", key_file)
        manager_env = dict(self.env, BERTH_APIKEY=json.loads(key_file.read_text())["apikey"])
        try:
            self.assertEqual(self.va_json("vuln/vulnerable", env=manager_env)[0]["status"], "FAIL")
            denied = self.berth("exemption-add", "--scope", "vuln", "--issue-type", "cve", "--issue-id", CVE,
                                env=manager_env)
            self.assert_failed(denied, "You are not authorized")
        finally:
            self.berth_ok("serviceid-rm", "va-ns-manager", "-f")

    def test_unknown_image_fails(self):
        result = self.berth("va", "vuln/nosuch:latest")
        self.assertNotEqual(result.returncode, 0)
        self.assertTrue(result.stderr.startswith("FAILED\n"), result.stderr)
        mixed = self.berth("va", "vuln/vulnerable", "vuln/nosuch:latest")
        self.assert_failed(mixed, "Could not check 1 of 2 images:\n'vuln/nosuch:latest': ")
        self.assertIn("Status: FAIL", mixed.stdout)

    def test_info_shows_the_advisories(self):
        info = self.berth_ok("info")
        line = next(line for line in info.splitlines() if line.startswith("Vulnerability advisories"))
        self.assertRegex(line, r"imported \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ advisories: .*debian:12")

    def test_reimport_changes_status_without_rescan(self):
        before = self.scan_status("vuln/vulnerable:latest")
        self.assertEqual(before["status"], "FAIL")
        try:
            self.import_advisories(OSV_FIXTURES / "fixed-nothing")
            report = self.va_json("vuln/vulnerable")[0]
            self.assertEqual(report["status"], "OK")
            self.assertEqual(report["scan_time"], before["scan_time"])
            self.assertEqual(self.security_status("image-list", "vuln/vulnerable:latest"), "No Issues")
            self.assertIn("The scan results show that NO ISSUES were found for the image.",
                          self.berth_ok("va", "vuln/vulnerable"))
            # The new set covers only debian:12, so the Alpine image can no longer be checked.
            warn = self.va_json("vuln/alpine:3.19")[0]
            self.assertEqual(warn["status"], "WARN")
            self.assertIn("\nStatus: WARN\nReason: ", self.berth_ok("va", "vuln/alpine:3.19"))
            self.assertEqual(self.security_status("image-list", "vuln/alpine:3.19"), "No Issues")
        finally:
            self.import_advisories(OSV_FIXTURES / "advisories")
        self.assertEqual(self.scan_status("vuln/vulnerable:latest")["status"], "FAIL")

    def test_va_version(self):
        self.assertEqual(self.berth_ok("va-version"), "You are targeting Vulnerability Advisor version 'v4'.\n\nOK\n")
        self.assertIn("The Vulnerability Advisor version is set to 'v4'.", self.berth_ok("va-version-set", "v4"))
        self.assertIn("v4 (targeted)", self.berth_ok("va-version-set"))
        self.assert_failed(self.berth("va-version-set", "v3"), "Invalid Vulnerability Advisor version 'v3' specified.")


class IndexingDisabled(VaTestCase):
    """A berthd whose indexing worker is off, so a pushed image stays queued."""

    berthd_env = {"BERTH_VA_ENABLED": "false"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.berth_ok("namespace-add", "queued")
            cls.push("busybox", "latest", "queued/busybox:latest")
        except BaseException:
            cls.tearDownClass()
            raise

    def test_unindexed_image_fails_with_bxnva0009e(self):
        self.assertEqual(self.scan_status("queued/busybox:latest")["status"], "UNSCANNED")
        result = self.berth("va", "queued/busybox")
        self.assert_failed(result, f"BXNVA0009E: '{self.full('queued/busybox:latest')}' has not been scanned. "
                                   "Try again later.")
        self.assertTrue(result.stdout.startswith("Checking security issues for 'queued/busybox'...\n\n"))
        as_json = self.berth("va", "-o", "json", "queued/busybox")
        self.assert_failed(as_json, "BXNVA0009E")
        self.assertEqual(json.loads(as_json.stdout), [])

    def test_unindexed_image_lists_as_scanning(self):
        self.assertEqual(self.security_status("image-list", "queued/busybox:latest"), "Scanning")
        self.assertEqual(self.security_status("image-digests", "queued/busybox:latest"), "Scanning")

    def test_info_without_advisories(self):
        info = self.berth_ok("info")
        self.assertRegex(info, r"Vulnerability advisories\s+none imported")
