# shellcheck shell=bash disable=SC2034
# Shared by the tests/deploy scripts (sourced, not run).

deploy_tests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$deploy_tests_dir/../.." && pwd)
validator_dir="$deploy_tests_dir/validate"

# CTest treats this exit code as "skipped" (SKIP_RETURN_CODE 77 in CMakeLists.txt).
skip() {
  echo "SKIPPED: $*"
  exit 77
}

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

require_kubectl() {
  command -v kubectl >/dev/null 2>&1 ||
    skip "kubectl is not installed, so the kustomize overlays cannot be rendered here (install kubectl to run this check)"
}

# Installs the validator's npm packages (kubernetes-models, yaml) from package-lock.json
# when node_modules is missing or older than the lock file. A lock keeps tests that run in
# parallel from installing at the same time.
require_validator() {
  command -v node >/dev/null 2>&1 || skip "Node.js is not installed; the manifest validator needs Node 18 or later"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 18 ] || skip "Node.js $major is too old for the manifest validator (needs 18 or later)"
  command -v npm >/dev/null 2>&1 || skip "npm is not installed; it installs the manifest validator's packages"
  (
    flock 9
    local marker="$validator_dir/node_modules/.package-lock.json"
    if [ ! -f "$marker" ] || [ "$validator_dir/package-lock.json" -nt "$marker" ]; then
      echo "Installing the manifest validator's packages (npm ci in tests/deploy/validate)"
      npm ci --prefix "$validator_dir" --no-audit --no-fund --loglevel=error >&2 ||
        fail "npm ci in tests/deploy/validate failed (is the npm registry reachable?)"
    fi
  ) 9>"${TMPDIR:-/tmp}/clerkship-deploy-validator-npm.lock"
}

# render KUSTOMIZATION_DIR OUTPUT_FILE: kubectl kustomize, with its errors on stderr.
render() {
  kubectl kustomize "$1" >"$2"
}
