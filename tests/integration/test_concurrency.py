"""Many clients pushing at once."""

import hashlib
import os
import threading
import unittest

from harness import BerthdTestCase, push_blob, sha256_digest

MIB = 1024 * 1024


class ConcurrencyTest(BerthdTestCase):
    def run_clients(self, count, client):
        errors = []

        def guarded(index):
            try:
                client(index)
            except Exception as error:  # reported below with the client's index
                errors.append(f"client {index}: {error!r}")

        threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])

    def blob_files(self):
        found = []
        for directory, _, files in os.walk(self.berthd.data_dir / "blobs"):
            found.extend(os.path.join(directory, name) for name in files)
        return found

    def test_32_clients_push_same_50_mib_blob(self):
        data = os.urandom(50 * MIB)
        digest = sha256_digest(data)
        results = {}

        def push(index):
            started = self.berthd.request("POST", "/v2/concurrent/same/blobs/uploads/")
            self.assertEqual(started.status, 202, started)
            location = started.header("Location")
            patched = self.berthd.request("PATCH", location, body=data)
            self.assertEqual(patched.status, 202, patched)
            done = self.berthd.request("PUT", f"{location}?digest={digest}")
            results[index] = done.status

        self.run_clients(32, push)
        self.assertEqual(sorted(results), list(range(32)))
        self.assertEqual(set(results.values()), {201})

        files = self.blob_files()
        self.assertEqual(len(files), 1, files)
        self.assertEqual(os.path.basename(files[0]), digest.split(":")[1])
        self.assertEqual(os.listdir(self.berthd.data_dir / "uploads"), [])
        pulled = self.berthd.request("GET", f"/v2/concurrent/same/blobs/{digest}")
        self.assertEqual(hashlib.sha256(pulled.body).hexdigest(), digest.split(":")[1])
        verify = self.berthd.admin("verify", "--deep")
        self.assertIn("store is clean", verify.stdout, verify.stdout + verify.stderr)

    def test_clients_push_distinct_blobs_to_many_repositories(self):
        blobs = [os.urandom(256 * 1024 + i) for i in range(24)]

        def push(index):
            self.assertEqual(push_blob(self.berthd, f"concurrent/repo{index}", blobs[index]), sha256_digest(blobs[index]))

        self.run_clients(24, push)
        for index, data in enumerate(blobs):
            response = self.berthd.request("GET", f"/v2/concurrent/repo{index}/blobs/{sha256_digest(data)}")
            self.assertEqual(response.body, data)


if __name__ == "__main__":
    unittest.main()
