// Cache invalidation between berthd nodes through PostgreSQL's NOTIFY and
// LISTEN. Every node sends on the channel "berth_cache" and listens on it
// with a connection of its own. Messages carry the schema and the sending
// node (cache_invalidation.h), so deployments that share one database
// ignore each other, and a node ignores its own messages.
//
// PostgreSQL delivers a notification only to sessions that were listening
// when the sending transaction committed. The listener therefore makes its
// sink stop serving cached entries as soon as its connection is in
// doubt, and to start again only after LISTEN succeeded on a new one.
#pragma once

#include "metadata/cache_invalidation.h"
#include "metadata/pg_connection.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::metadata {

struct PgNotifierOptions {
  std::string conninfo;  // libpq connection string or URI
  std::string schema;    // the metadata store's schema
  std::string node;      // unique per process, such as core::random_hex(8)
};

// The channel of every node and schema.
inline constexpr const char* kCacheChannel = "berth_cache";

// Sends invalidations with pg_notify() on a few connections of its own,
// opened when first needed.
class PgInvalidationPublisher final : public InvalidationPublisher {
 public:
  explicit PgInvalidationPublisher(PgNotifierOptions options, std::size_t max_connections = 4);

  // Logs failures instead of throwing. A connection found broken is
  // replaced and the message sent once more, because the first use after a
  // database restart fails on every pooled connection.
  void publish(const Invalidation& invalidation) override;

 private:
  std::unique_ptr<PgConnection> take();
  void give_back(std::unique_ptr<PgConnection> connection);

  PgNotifierOptions options_;
  std::size_t max_connections_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  std::size_t open_ = 0;
};

// Runs LISTEN on a connection of its own in a thread, and hands what other
// nodes send to a sink. Reconnects with backoff after a failure; the sink
// is told not to serve cached entries from the loss until LISTEN succeeds
// again. A connection that answers no keepalive query counts as lost, so a
// silent network failure cannot leave the cache trusted for long.
class PgInvalidationListener {
 public:
  PgInvalidationListener(PgNotifierOptions options, InvalidationSink& sink);
  ~PgInvalidationListener();
  PgInvalidationListener(const PgInvalidationListener&) = delete;
  PgInvalidationListener& operator=(const PgInvalidationListener&) = delete;

  // Tells the sink to stop serving, then starts the thread, which lets it
  // serve again once LISTEN succeeded.
  void start();
  // Stops the thread and leaves the sink not receiving.
  void stop();

  // True while LISTEN is in effect on a working connection.
  bool listening() const { return listening_; }

 private:
  void run();
  // Reads notifications until the connection fails (returns the reason)
  // or stop() is called (returns "").
  std::string listen(PgConnection& connection);
  void deliver(const char* payload);
  // Sleeps for `duration` unless stop() is called first; false then.
  bool pause(std::chrono::milliseconds duration);

  PgNotifierOptions options_;
  InvalidationSink& sink_;
  std::atomic<bool> listening_{false};
  int wake_fd_ = -1;  // eventfd that stop() signals, polled with the socket

  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::metadata
