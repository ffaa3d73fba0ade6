// The sweep of export_jobs any process runs at start and then periodically: what dead attempts left behind.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <vector>

namespace pg2s3::s3 {
class Client;
}

namespace pg2s3::engine {
class JobStore;
struct JobRecord;
}

namespace pg2s3::engine::detail {

// Jobs whose lease expired go back to PENDING, or FAILED when their attempts are spent, and the uploads
// their attempts left in `bucket` are aborted, as are those that ended jobs could not abort; then ended
// jobs past the retention are deleted while `accepting` holds. A process that claims jobs names the
// datasets it claims (`claimed_datasets`; empty for one that claims none): PENDING jobs of datasets no such
// process has named for a while fail. A failure is logged, for the next sweep.
boost::asio::awaitable<void> sweep(JobStore& store, s3::Client& client, const std::string& bucket,
                                   std::function<bool()> accepting, std::vector<std::string> claimed_datasets);

// For a job that did not complete: deletes an object standing at its key when the key is its own
// (writes_its_own_key), one of its attempts completed it before its ending could be stored. Failures logged.
boost::asio::awaitable<void> delete_stray_object(s3::Client& client, const std::string& bucket, const JobRecord& job);

}  // namespace pg2s3::engine::detail
