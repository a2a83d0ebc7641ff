#pragma once

// The benchmark data set, as a pure function of a few numbers: the seed command creates
// exactly these sites, rotations, sessions, applicants, documents and notifications, and
// the scenarios address them by the same names without asking the services first.
//
//   sites/{prefix}-s-0007               one site per 50 rotations, spread over 20 states
//   rotations/{prefix}-r-00042          published, `sessions_per_rotation` sessions each
//   rotations/{prefix}-r-00042/sessions/s1
//   applicants/{prefix}-a-000123        graduates with CV and passport in the vault
//
// Every rotation requires a CV and a passport (pending is enough). Every tenth rotation
// (index % 10 == 0) admits students only, so the seeded applicants (graduates) are not
// eligible for it: search sees it, recommendations leave it out, and the write scenarios
// never apply to it.

#include <cstdint>
#include <string>

#include "absl/time/civil_time.h"
#include "clerkship/applicant/v1/applicant.pb.h"
#include "clerkship/catalog/v1/catalog.pb.h"

namespace clerkship::bench {

struct DataSpec {
  std::string prefix = "bench";
  int rotations = 10000;
  int sessions_per_rotation = 2;
  int session_capacity = 200;
  int applicants = 50000;
  int notified_applicants = 1000;  // the first N applicants get notifications
  int notifications_each = 10;
  absl::CivilDay today;

  int sites() const { return rotations / 50 > 0 ? rotations / 50 : 1; }
  // Rotations the seeded applicants are eligible for.
  int eligible_rotations() const { return rotations - (rotations + 9) / 10; }
};

std::string SiteId(const DataSpec& d, int site);
std::string RotationId(const DataSpec& d, int rotation);
std::string RotationName(const DataSpec& d, int rotation);
std::string SessionId(int session);  // "s1", "s2", ...
std::string SessionName(const DataSpec& d, int rotation, int session);
std::string ApplicantId(const DataSpec& d, int applicant);
std::string ApplicantName(const DataSpec& d, int applicant);

// The q-th rotation (0-based, modulo eligible_rotations()) the applicants are eligible for.
int EligibleRotation(const DataSpec& d, uint64_t q);
// The session of the n-th application of the run: distinct (applicant, session) pairs for
// n < applicants * eligible_rotations * sessions_per_rotation, starting at `offset` so that
// two runs against the same data rarely collide.
struct ApplicationTarget {
  int applicant;
  int rotation;
  int session;
};
ApplicationTarget NthApplication(const DataSpec& d, uint64_t n, uint64_t offset);

catalog::v1::Site MakeSite(const DataSpec& d, int site);
catalog::v1::Rotation MakeRotation(const DataSpec& d, int rotation);
catalog::v1::Session MakeSession(const DataSpec& d, int rotation, int session);
applicant::v1::Applicant MakeApplicant(const DataSpec& d, int applicant);
// The vault documents each applicant gets (CV and passport).
applicant::v1::Document MakeDocument(const DataSpec& d, int applicant, int which);
constexpr int kDocumentsPerApplicant = 2;

// A realistic filtered search, page of 20; `seq` picks one of kSearchShapes filter shapes
// in turn, unless `shape` (0..kSearchShapes-1) fixes one.
constexpr int kSearchShapes = 6;
catalog::v1::SearchRotationsRequest MakeSearch(const DataSpec& d, uint64_t seq, int shape = -1);

// A mixing hash, so that attributes look random yet are reproducible.
uint64_t Mix(uint64_t x);

}  // namespace clerkship::bench
