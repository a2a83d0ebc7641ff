#pragma once

// Who is calling. The gateway verifies the bearer token and forwards the caller as gRPC
// metadata; services trust these headers only because the gateway strips any copy a client
// sends and because network policy keeps the services reachable only from inside.
//
//   x-clerkship-principal  applicants/{id} | coordinators/{id} | admins/{id} | services/{name}
//   x-clerkship-role       applicant | coordinator | admin | service
//   x-clerkship-site       sites/{id}  (coordinators only: the site they run)

#include <string>

#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace clerkship::auth {

inline constexpr char kPrincipalHeader[] = "x-clerkship-principal";
inline constexpr char kRoleHeader[] = "x-clerkship-role";
inline constexpr char kSiteHeader[] = "x-clerkship-site";

enum class Role { kAnonymous, kApplicant, kCoordinator, kAdmin, kService };

struct Identity {
  Role role = Role::kAnonymous;
  std::string principal;  // resource name of the caller
  std::string site;       // coordinators: "sites/{id}"

  bool authenticated() const { return role != Role::kAnonymous; }
  bool is_admin() const { return role == Role::kAdmin; }
  // Admins and other backends act on anything.
  bool is_privileged() const { return role == Role::kAdmin || role == Role::kService; }
  bool is_applicant(absl::string_view applicant_name) const {
    return role == Role::kApplicant && principal == applicant_name;
  }
  bool is_coordinator_of(absl::string_view site_name) const {
    return role == Role::kCoordinator && !site.empty() && site == site_name;
  }
};

Identity IdentityFrom(const grpc::ServerContextBase& context);
absl::string_view RoleName(Role role);
bool ParseRole(absl::string_view text, Role* role);

// UNAUTHENTICATED when nobody is signed in.
absl::Status RequireAuthenticated(const Identity& who);
// PERMISSION_DENIED with a reason, for use after RequireAuthenticated.
absl::Status PermissionDenied(absl::string_view what);

}  // namespace clerkship::auth
