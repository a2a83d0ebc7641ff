#pragma once

// The seeded lottery that orders applicants for a session that submitted no
// ranking.
//
// Each (seed, session, applicant) triple draws its own 64-bit ticket from a
// counter-based generator (SplitMix64's mixer over hashes of the ids), and
// the session ranks applicants by ascending ticket. Compared with shuffling a
// list, this makes an applicant's draw independent of who else ranked the
// session and of the order in which the round was loaded or exported, and
// anyone holding the seed can recompute a single ticket by hand. Only fixed
// integer arithmetic is involved, so the order is the same on every platform
// and standard library (std::shuffle and the <random> distributions are not).

#include <cstdint>
#include <string_view>

namespace clerkship::matching {

// SplitMix64's output function: a bijection on 64-bit words with full
// avalanche, so nearby inputs give unrelated outputs.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A small, fast, fully specified PRNG (SplitMix64). Used where a stream of
// numbers is wanted (the instance generator); the lottery uses Mix64 directly.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    const uint64_t out = Mix64(state_);
    state_ += 0x9e3779b97f4a7c15ULL;
    return out;
  }
  // Uniform in [0, bound) for bound > 0, without modulo bias (Lemire's
  // multiply-and-reject).
  uint64_t Below(uint64_t bound);
  // Uniform double in [0, 1) with 53 random bits.
  double NextUnit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// FNV-1a over the id's bytes followed by Mix64 (FNV alone diffuses poorly
// into the high bits). Stable across runs, platforms and releases: changing
// it would change published lottery results.
uint64_t StableIdHash(std::string_view id);

// The ticket of one applicant in one session's lottery; lower is better.
inline uint64_t LotteryTicket(uint64_t seed, uint64_t session_hash,
                              uint64_t applicant_hash) {
  return Mix64(Mix64(Mix64(seed) ^ session_hash) ^ applicant_hash);
}

}  // namespace clerkship::matching
