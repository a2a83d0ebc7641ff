#include "common/auth/identity.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace clerkship::auth {
namespace {

std::string Header(const grpc::ServerContextBase& context, absl::string_view key) {
  const auto& md = context.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kApplicant: return "applicant";
    case Role::kCoordinator: return "coordinator";
    case Role::kAdmin: return "admin";
    case Role::kService: return "service";
    case Role::kAnonymous: break;
  }
  return "anonymous";
}

bool ParseRole(absl::string_view text, Role* role) {
  if (text == "applicant") *role = Role::kApplicant;
  else if (text == "coordinator") *role = Role::kCoordinator;
  else if (text == "admin") *role = Role::kAdmin;
  else if (text == "service") *role = Role::kService;
  else return false;
  return true;
}

Identity IdentityFrom(const grpc::ServerContextBase& context) {
  Identity who;
  std::string principal = Header(context, kPrincipalHeader);
  Role role;
  if (principal.empty() || !ParseRole(Header(context, kRoleHeader), &role)) return who;
  // The principal's collection must agree with the role.
  static constexpr struct {
    Role role;
    const char* prefix;
  } kPrefixes[] = {{Role::kApplicant, "applicants/"},
                   {Role::kCoordinator, "coordinators/"},
                   {Role::kAdmin, "admins/"},
                   {Role::kService, "services/"}};
  for (const auto& p : kPrefixes) {
    if (p.role == role && !absl::StartsWith(principal, p.prefix)) return who;
  }
  who.role = role;
  who.principal = std::move(principal);
  if (role == Role::kCoordinator) who.site = Header(context, kSiteHeader);
  return who;
}

absl::Status RequireAuthenticated(const Identity& who) {
  if (who.authenticated()) return absl::OkStatus();
  return ErrorWithInfo(absl::StatusCode::kUnauthenticated, "sign-in required",
                       "UNAUTHENTICATED", "clerkship");
}

absl::Status PermissionDenied(absl::string_view what) {
  return ErrorWithInfo(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("not allowed: ", what), "PERMISSION_DENIED", "clerkship");
}

}  // namespace clerkship::auth
