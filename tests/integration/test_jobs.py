"""Berthd's background jobs: the purge of abandoned uploads, the leases
that let one process run a job at a time, `berthd admin jobs`, the
scheduler inside berthd, and the metrics of the last runs.

Ages are made by moving times back in the database and on the upload
files, so no test waits for a real day."""

import hashlib
import json
import os
import sqlite3
import subprocess
import time
import unittest

from harness import BERTHD, BerthdTestCase

DAY = 86400


class JobsTestCase(BerthdTestCase):
    """A berthd whose scheduler is off, so only the tests start jobs."""

    berthd_env = {"BERTH_JOBS_ENABLED": "false"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.berthd.create_namespace("jobs")

    def database(self):
        connection = sqlite3.connect(self.berthd.data_dir / "berth.db", timeout=30)
        self.addCleanup(connection.close)
        return connection

    def start_upload(self, repository, data):
        """Starts an upload session with `data` in it; returns its URL."""
        started = self.berthd.request("POST", f"/v2/{repository}/blobs/uploads/")
        self.assertEqual(started.status, 202, started)
        location = started.header("Location")
        patched = self.berthd.request("PATCH", location, body=data,
                                      headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(patched.status, 202, patched)
        return patched.header("Location")

    def age_upload(self, upload_id, seconds):
        """Moves an upload's last write `seconds` back, in the database and on disk."""
        with self.database() as connection:
            connection.execute("UPDATE uploads SET updated_at = updated_at - ? WHERE id = ?", (seconds, upload_id))
        data = self.berthd.data_dir / "uploads" / upload_id / "data"
        past = time.time() - seconds
        os.utime(data, (past, past))

    def run_job(self, name):
        result = self.berthd.admin("job-run", name)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        prefix = f"{name} finished in "
        self.assertTrue(result.stdout.startswith(prefix), result.stdout)
        first_line = result.stdout.splitlines()[0]
        return json.loads(first_line.split(": ", 1)[1])


class UploadPurgeTest(JobsTestCase):
    def test_abandoned_session_is_purged(self):
        abandoned = self.start_upload("jobs/app", b"abandoned")
        abandoned_id = abandoned.rsplit("/", 1)[1]
        recent = self.start_upload("jobs/app", b"recent")
        self.age_upload(abandoned_id, 2 * DAY)

        counts = self.run_job("uploads-purge")

        self.assertEqual(counts["sessions_removed"], 1)
        self.assertEqual(self.berthd.request("GET", abandoned).status, 404)
        self.assertFalse((self.berthd.data_dir / "uploads" / abandoned_id).exists())
        self.assertEqual(self.berthd.request("GET", recent).status, 204)

    def test_session_younger_than_max_age_stays(self):
        location = self.start_upload("jobs/young", b"young")
        self.age_upload(location.rsplit("/", 1)[1], DAY - 600)

        counts = self.run_job("uploads-purge")

        self.assertEqual(counts["sessions_removed"], 0)
        self.assertEqual(self.berthd.request("GET", location).status, 204)

    def test_data_without_session_is_purged(self):
        location = self.start_upload("jobs/orphan", b"orphan data")
        upload_id = location.rsplit("/", 1)[1]
        with self.database() as connection:
            connection.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        self.age_upload(upload_id, 2 * DAY)

        counts = self.run_job("uploads-purge")

        self.assertGreaterEqual(counts["orphans_removed"], 1)
        self.assertFalse((self.berthd.data_dir / "uploads" / upload_id).exists())


class LeaseTest(JobsTestCase):
    def set_lease(self, job, holder, expires_at):
        with self.database() as connection:
            connection.execute(
                "INSERT INTO job_leases (job, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                (job, holder, expires_at))

    def test_lease_held_elsewhere_blocks_run(self):
        self.set_lease("gc", "other-node:1", int(time.time()) + 3600)

        result = self.berthd.admin("job-run", "gc")

        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("gc is running on another node or process now", result.stderr)

    def test_expired_lease_is_taken_over(self):
        self.set_lease("trash-expiry", "dead-node:1", int(time.time()) - 10)

        counts = self.run_job("trash-expiry")

        self.assertEqual(counts, {"entries_removed": 0, "inventories_removed": 0})
        with self.database() as connection:
            left = connection.execute("SELECT count(*) FROM job_leases WHERE job = 'trash-expiry'").fetchone()[0]
        self.assertEqual(left, 0, "the lease is released after the run")

    def test_unknown_job_is_named(self):
        result = self.berthd.admin("job-run", "vacuum")

        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("unknown job 'vacuum'", result.stderr)
        self.assertIn("gc, uploads-purge, trash-expiry and retention", result.stderr)


class GcOutputTest(JobsTestCase):
    """`berthd admin gc` prints what it removed, and --dry-run what it would."""

    berthd_env = {"BERTH_JOBS_ENABLED": "false", "BERTH_GC_GRACE_SECONDS": "3600"}

    def push_unused_blob(self, repository, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        pushed = self.berthd.request("POST", f"/v2/{repository}/blobs/uploads/?digest={digest}", body=data,
                                     headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(pushed.status, 201, pushed)
        return digest

    def test_dry_run_lists_digests_and_grace(self):
        old = self.push_unused_blob("jobs/gc", b"old unused blob")
        young = self.push_unused_blob("jobs/gc", b"young unused blob")
        with self.database() as connection:
            connection.execute("UPDATE blobs SET touched_at = touched_at - 7200 WHERE digest = ?", (old,))

        result = self.berthd.admin("gc", "--dry-run")

        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"{old}  15 bytes  no image uses it", result.stdout)
        self.assertNotIn(young, result.stdout)
        self.assertIn("Would remove 1 unreferenced blob (15 bytes) and 0 files without a record (0 bytes).",
                      result.stdout)
        self.assertIn("1 unused blob (17 bytes) wait out the grace period of 3600 s", result.stdout)
        self.assertEqual(self.berthd.request("HEAD", f"/v2/jobs/gc/blobs/{old}").status, 200,
                         "a dry run removes nothing")

        removed = self.berthd.admin("gc")

        self.assertEqual(removed.returncode, 0, removed.stderr)
        self.assertIn("Removed 1 unreferenced blob (15 bytes) and 0 files without a record (0 bytes).",
                      removed.stdout)
        self.assertIn('"blobs_in_grace":1', removed.stdout)

    def test_missing_data_directory_is_rejected(self):
        for command in (("gc", "--dry-run"), ("jobs",), ("job-run", "gc")):
            with self.subTest(command=command):
                missing = self.berthd.data_dir.parent / "no-such-data"
                result = subprocess.run([str(BERTHD), "admin", *command, "--data", str(missing)],
                                        capture_output=True, text=True, timeout=60,
                                        env=self.berthd.environment())
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertIn("is not a Berth data directory (it has no berth.db)", result.stderr)
                self.assertFalse(missing.exists(), "a mistyped path must not become a data directory")


class JobListingTest(JobsTestCase):
    def test_jobs_lists_last_runs(self):
        self.run_job("gc")

        listing = self.berthd.admin("jobs")

        self.assertEqual(listing.returncode, 0, listing.stderr)
        rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
        self.assertEqual(set(rows), {"gc", "uploads-purge", "trash-expiry", "retention"})
        self.assertIn('"blobs_removed"', rows["gc"])
        self.assertIn("never", rows["retention"])
        self.assertIn("86400s", rows["retention"])

    def test_metrics_show_last_gc(self):
        self.run_job("gc")

        metrics = self.berthd.request("GET", "/metrics", auth=False)

        self.assertEqual(metrics.status, 200, metrics)
        self.assertTrue(metrics.header("Content-Type").startswith("text/plain"), metrics)
        text = metrics.body.decode()
        self.assertRegex(text, r'berth_job_last_run_timestamp_seconds\{job="gc"\} \d+')
        self.assertRegex(text, r"berth_gc_last_blobs_removed \d+")
        self.assertIn("# TYPE berth_storage_bytes gauge", text)


class SchedulerTest(BerthdTestCase):
    """berthd's own scheduler runs due jobs; it looks every 5 seconds."""

    berthd_env = {"BERTH_TRASH_EXPIRY_INTERVAL_SECONDS": "1", "BERTH_GC_INTERVAL_SECONDS": "0",
                  "BERTH_UPLOADS_PURGE_INTERVAL_SECONDS": "0", "BERTH_RETENTION_INTERVAL_SECONDS": "0"}

    def test_scheduler_runs_due_job(self):
        deadline = time.monotonic() + 30
        listing = None
        while time.monotonic() < deadline:
            listing = self.berthd.admin("jobs")
            rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
            if "never" not in rows["trash-expiry"]:
                break
            time.sleep(1)
        rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
        self.assertIn('"entries_removed"', rows["trash-expiry"], listing.stdout)
        # Jobs with interval 0 run only on demand.
        self.assertIn("on demand", rows["gc"])
        self.assertIn("never", rows["gc"])


if __name__ == "__main__":
    unittest.main()
