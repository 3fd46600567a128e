#pragma once
// Every file snn writes goes through AtomicOutput: a temporary beside the
// target, made durable and renamed over it once complete (docs/reliability.md,
// "Atomic outputs").
#include <string>

namespace snn {

// Writes through a temporary `PATH.tmpNNNNNN` (1 to 6 digits) beside `path`,
// renamed over it by commit(): a failed or interrupted write never leaves a
// half-written `path`, and a power cut after commit() never leaves an empty one.
//
// The constructor first removes the temporaries of `path` that a killed run
// left behind, then creates its own and holds a lock on it until commit() or
// destruction. The kernel drops that lock when its process dies, which is how
// a stale temporary is told from one that a concurrent run is still writing:
// a temporary nobody holds is stale.
class AtomicOutput {
public:
    explicit AtomicOutput(std::string path);
    ~AtomicOutput(); // removes the temporary if commit() was not reached
    AtomicOutput(const AtomicOutput&) = delete;
    AtomicOutput& operator=(const AtomicOutput&) = delete;
    // Already created (empty); writers open it again by name and truncate it.
    // It must be closed before commit().
    const std::string& temp_path() const { return temp_; }
    // fsync the temporary, rename it over the target, fsync the target's folder.
    void commit();

private:
    std::string path_, temp_;
    int fd_ = -1; // holds the lock on temp_
    bool done_ = false;
};

// Removes `NAME.tmpD` (D: 1 to 6 digits, nothing else) beside `path` (NAME: its
// file name) where no live AtomicOutput holds it; files that merely start the
// same way are left alone. Returns how many it removed. AtomicOutput calls it.
int remove_stale_temporaries(const std::string& path);

// True if `name` is what AtomicOutput names a temporary of a target called `target_name`.
bool is_temporary_name(const std::string& name, const std::string& target_name);

} // namespace snn
