// The engine's view of the consensus KV store: submit batches, read the local
// replica, hear about every applied command. Semantics (no per-client FIFO,
// no fencing, quorum loss and restore) are those of simulation.md §3; the
// engine must be correct under all of them.
//
// Ownership: the KvClient belongs to the node; the engine registers listeners
// and must outlive none of them (the node tears both down together).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aether::engine {

// Who writes a batch. Clients (scenario writes) are not engine writers and are
// represented on the simulator side only.
enum class Writer : std::uint8_t { Cdm, Ndm, LeaderManager };

const char* writer_name(Writer writer);

enum class KvOp : std::uint8_t { Put, Remove };

struct KvCommand {
  KvOp op = KvOp::Put;
  std::string key;
  std::string value;  // empty for Remove

  static KvCommand put(std::string key, std::string value) {
    return KvCommand{KvOp::Put, std::move(key), std::move(value)};
  }
  static KvCommand remove(std::string key) { return KvCommand{KvOp::Remove, std::move(key), {}}; }
  bool operator==(const KvCommand&) const = default;
};

using KvBatch = std::vector<KvCommand>;

// Committed: the submitter applied the batch. Failed: submitted without quorum,
// or quorum was lost while pending; the outcome is unknown (the batch may still
// be decided later). A caller that times out treats the write the same way.
enum class SubmitOutcome : std::uint8_t { Committed, Failed };

// Why a notification was delivered.
enum class KvOrigin : std::uint8_t {
  Apply,    // a decided command applied in order
  Restore,  // snapshot restore after quorum regain (remove-all, then put-all)
  Reset,    // local store reset at quorum loss (a remove per present key)
};

struct KvNotification {
  KvOp op = KvOp::Put;
  std::string key;
  std::string value;           // the new value for Put; empty for Remove
  std::uint64_t position = 0;  // decided position of the batch (restore: snapshot position)
  KvOrigin origin = KvOrigin::Apply;
  // The decided position of this value (its mod revision, as etcd gives it):
  // Apply: `position`; Restore: when the restored value was decided; 0 for removals.
  std::uint64_t revision = 0;
};

// The keys a listener acts on when applied (issue 14, fifth pass: per-node
// subscriptions). A store may leave a node's listeners unwoken by a decided
// batch none of whose keys any of them subscribes to (it still applies it: a
// read sees it); when it does apply a batch with notifications, every
// listener hears every command of it, so a listener must ignore keys outside
// its interest. Restores and resets notify every key as before.
struct KvInterest {
  bool all = false;                   // every key
  std::vector<std::string> prefixes;  // keys under these; each ends with '/'
  std::vector<std::string> keys;      // these keys exactly
};

class KvListener {
 public:
  virtual ~KvListener() = default;
  // Called synchronously for every command applied (within the listener's
  // interest, see KvInterest), restored or reset, even when the value did not
  // change. Writes submitted from inside are queued by the store and
  // submitted after the current notification round.
  virtual void on_kv(const KvNotification& notification) = 0;
  // What this listener subscribes to; a listener that says nothing hears
  // everything. When it widens, the listener calls KvClient::interest_changed.
  virtual KvInterest interest() const { return KvInterest{true, {}, {}}; }
  // The local store finished restoring the snapshot at `position`; from now on
  // the node may submit and do its activation work.
  virtual void on_restored(std::uint64_t position) = 0;
};

class KvClient {
 public:
  virtual ~KvClient() = default;
  // `done` is called exactly once, later (never from inside submit), unless
  // the submit never resolves (a fault the engine must tolerate with its own
  // write timeout) or the node dies first.
  virtual void submit(Writer writer, KvBatch batch, std::function<void(SubmitOutcome)> done) = 0;
  virtual std::optional<std::string> get(const std::string& key) const = 0;
  // Key order (plain string order).
  virtual std::vector<std::pair<std::string, std::string>> scan(const std::string& prefix) const = 0;
  // Listeners are notified in registration order.
  virtual void add_listener(KvListener* listener) = 0;
  // A listener's interest changed (KvListener::interest): from the next
  // applied batch on, the store notifies by the new one.
  virtual void interest_changed() {}
};

}  // namespace aether::engine
