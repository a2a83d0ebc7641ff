#include "services/matching/algorithm/lottery.h"

namespace clerkship::matching {

uint64_t SplitMix64::Below(uint64_t bound) {
  // 128-bit product: the high word is uniform in [0, bound) once the low
  // word's biased region is rejected.
  unsigned __int128 product = static_cast<unsigned __int128>(Next()) * bound;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(Next()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

uint64_t StableIdHash(std::string_view id) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64-bit offset basis.
  for (unsigned char c : id) {
    hash ^= c;
    hash *= 0x100000001b3ULL;  // FNV-1a 64-bit prime.
  }
  return Mix64(hash);
}

}  // namespace clerkship::matching
