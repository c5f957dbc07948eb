// argon2's working memory for mailpass's AVX2 build of the argon2 package (build-argon2-avx2.mjs).
//
// Each hash needs m KiB (19 MiB at the defaults) for the few milliseconds it runs. With malloc, glibc
// serves it from the arena of the libuv thread that runs the hash and keeps it there after the
// hash: every pool thread that ever hashed held 19 MiB for the life of the process, three of them
// on two cores (the pool is a thread a core plus one for files). Here the blocks are mapped on
// their own and handed from one hash to the next, whichever thread runs it: as many stay as ran at
// once (mailpass runs one a core), at most one a hardware thread; the rest are unmapped. argon2 has
// wiped a block before it comes back (clear_internal_memory), so a kept block holds no secret.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace mailpass {

inline std::mutex &blocks_mutex() {
    static std::mutex m;
    return m;
}

inline std::vector<std::pair<uint8_t *, size_t>> &kept_blocks() {
    static std::vector<std::pair<uint8_t *, size_t>> kept;
    return kept;
}

inline size_t most_kept() {
    static const size_t n = std::thread::hardware_concurrency() > 0 ? std::thread::hardware_concurrency() : 4;
    return n;
}

inline int allocate_block(uint8_t **memory, size_t size) {
    {
        std::lock_guard<std::mutex> lock(blocks_mutex());
        auto &kept = kept_blocks();
        for (auto it = kept.begin(); it != kept.end(); ++it) {
            if (it->second == size) {
                *memory = it->first;
                kept.erase(it);
                return 0;
            }
        }
    }
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        *memory = nullptr;
        return -1;
    }
    *memory = static_cast<uint8_t *>(p);
    return 0;
}

inline void free_block(uint8_t *memory, size_t size) {
    {
        std::lock_guard<std::mutex> lock(blocks_mutex());
        auto &kept = kept_blocks();
        if (kept.size() < most_kept()) {
            kept.emplace_back(memory, size);
            return;
        }
    }
    munmap(memory, size);
}

}  // namespace mailpass
