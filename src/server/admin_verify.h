#pragma once

#include "server/config.h"

#include <ostream>

namespace berth::server {

// Checks that the metadata and the stored bytes agree: every recorded blob
// has its data (and, with `deep`, hashes to its digest), every manifest
// hashes to its digest and has its referenced blobs, every index has its
// child manifests in its repository, every upload session has its data. Reports leftovers that are harmless (blob files no record
// names, upload data without a session) apart from errors. Writes a report
// to `out`; returns 0 when the store is consistent, 1 otherwise.
int verify_store(const Config& config, bool deep, std::ostream& out);

}  // namespace berth::server
