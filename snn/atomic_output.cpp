#include "snn/atomic_output.hpp"

#include "snn/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

namespace snn {
namespace {

namespace fs = std::filesystem;

std::string folder_of(const std::string& path) {
    const fs::path dir = fs::path(path).parent_path();
    return dir.empty() ? "." : dir.string();
}

bool same_file(int fd, const std::string& path) {
    struct stat a {}, b {};
    return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

#ifdef F_OFD_SETLK
// An open-file-description lock belongs to one open() of the file, not to the
// process: HDF5 or an ofstream opening and closing the temporary by name does
// not drop it (closing any descriptor of a file drops a classic fcntl lock),
// and on a local file system it does not conflict with the flock() HDF5 takes.
// Whole file (start 0, length 0), exclusive.
bool lock(int fd, int cmd) {
    struct flock l {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    int rc;
    do rc = ::fcntl(fd, cmd, &l);
    while (rc != 0 && errno == EINTR);
    return rc == 0;
}
#endif

} // namespace

bool is_temporary_name(const std::string& name, const std::string& target_name) {
    const std::size_t n = target_name.size() + 4; // "NAME.tmp"
    if (target_name.empty() || name.size() <= n || name.size() > n + 6) return false;
    if (name.compare(0, target_name.size(), target_name) != 0 || name.compare(target_name.size(), 4, ".tmp") != 0)
        return false;
    return std::all_of(name.begin() + std::ptrdiff_t(n), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int remove_stale_temporaries(const std::string& path) {
#ifdef F_OFD_SETLK
    const std::string target = fs::path(path).filename().string();
    int removed = 0;
    std::error_code ec;
    for (fs::directory_iterator it(folder_of(path), ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!is_temporary_name(name, target)) continue;
        const std::string p = it->path().string();
        // A write lock needs a descriptor open for writing: a temporary we may
        // not write is not ours to remove. O_NOFOLLOW, O_NONBLOCK: a link or a
        // FIFO under such a name is left alone and cannot block us.
        const int fd = ::open(p.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        // Taking the lock proves that no live AtomicOutput holds it. The name
        // must still be this file: a writer that lost the race between its
        // open() and its lock gives the name up and picks another.
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lock(fd, F_OFD_SETLK) && same_file(fd, p) &&
            ::unlink(p.c_str()) == 0)
            ++removed;
        ::close(fd);
    }
    return removed;
#else
    (void)path; // no way to tell a live writer's temporary from a stale one: keep them all
    return 0;
#endif
}

AtomicOutput::AtomicOutput(std::string path) : path_(std::move(path)) {
    remove_stale_temporaries(path_);
    std::random_device rd;
    for (int attempt = 0;; ++attempt) {
        temp_ = path_ + ".tmp" + std::to_string(rd() % 1000000);
        const int fd = ::open(temp_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
            if (errno == EEXIST && attempt < 100) continue;
            throw FileError(path_, path_ + ": cannot write (" + std::strerror(errno) + ")");
        }
#ifdef F_OFD_SETLK
        // Blocking: the only other holder can be a cleaner that opened the file
        // before we locked it, and it lets go at once. If it removed the file,
        // start again under a new name. Where the file system has no locks,
        // cleaners cannot take one either, so the temporary stays safe unlocked.
        if (lock(fd, F_OFD_SETLKW) && !same_file(fd, temp_)) {
            ::close(fd);
            if (attempt < 100) continue;
            throw FileError(path_, path_ + ": cannot write (its temporary keeps disappearing)");
        }
#endif
        fd_ = fd;
        return;
    }
}

AtomicOutput::~AtomicOutput() {
    if (!done_) ::unlink(temp_.c_str()); // still holding the lock, so no cleaner races us
    if (fd_ >= 0) ::close(fd_);
}

void AtomicOutput::commit() {
    const auto failed = [&](const std::string& step, int err) {
        return FileError(path_, path_ + ": cannot write (" + step + ": " + std::strerror(err) + ")");
    };
    // The data must reach the disk before the rename does: a file system may
    // persist the rename first, and a power cut would then leave an empty or
    // partial file under the final name. The writer closed its own descriptor,
    // so open the temporary again; fsync flushes the file, whichever descriptor.
    const int f = ::open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
    if (f < 0) throw failed("open " + temp_, errno);
    if (::fsync(f) != 0) {
        const int err = errno;
        ::close(f);
        throw failed("fsync " + temp_, err);
    }
    ::close(f);
    if (::rename(temp_.c_str(), path_.c_str()) != 0) throw failed("rename " + temp_, errno);
    done_ = true;
    // The new name is an entry in the folder: until the folder is synced, a
    // power cut may bring back the old file (or none).
    const std::string dir = folder_of(path_);
    const auto unsynced = [&](int err) {
        return FileError(path_, path_ + ": written, but its folder '" + dir + "' could not be synced (" +
                                    std::strerror(err) + ")");
    };
    const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) throw unsynced(errno);
    // EINVAL: a file system that cannot sync folders (some FUSE and network ones); nothing more to do there.
    if (::fsync(d) != 0 && errno != EINVAL) {
        const int err = errno;
        ::close(d);
        throw unsynced(err);
    }
    ::close(d);
}

} // namespace snn
