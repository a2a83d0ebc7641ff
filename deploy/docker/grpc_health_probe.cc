// clerkship-health-probe: asks a gRPC server for its health (grpc.health.v1.Health/Check)
// and exits 0 only when the answer is SERVING. Used by container health checks, where
// Kubernetes' native gRPC probes are not available (Compose, podman), and by the
// container test. Built in the image's build stage, outside the CMake tree, so it uses no
// generated code: the two tiny messages are encoded by hand.
//
//   clerkship-health-probe [--service=NAME] [--timeout_ms=N] HOST:PORT
//
// Exit status: 0 SERVING, 1 anything else (NOT_SERVING, unknown service, no answer),
// 2 bad usage.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

namespace {

constexpr uint64_t kServing = 1;  // grpc.health.v1.HealthCheckResponse.ServingStatus

// HealthCheckRequest { string service = 1; }
std::string EncodeRequest(const std::string& service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back(0x0a);  // field 1, length-delimited
  uint64_t n = service.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + service;
}

bool ReadVarint(const std::string& in, size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in[(*pos)++]);
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// HealthCheckResponse { ServingStatus status = 1; } -> status (0, UNKNOWN, when absent).
bool DecodeStatus(const std::string& in, uint64_t* status) {
  *status = 0;
  size_t pos = 0;
  while (pos < in.size()) {
    uint64_t key;
    if (!ReadVarint(in, &pos, &key)) return false;
    uint64_t wire_type = key & 7;
    uint64_t value;
    if (wire_type == 0) {
      if (!ReadVarint(in, &pos, &value)) return false;
      if ((key >> 3) == 1) *status = value;
    } else if (wire_type == 2) {
      if (!ReadVarint(in, &pos, &value) || value > in.size() - pos) return false;
      pos += value;
    } else {
      return false;  // the message has no fixed-width fields
    }
  }
  return true;
}

const char* StatusName(uint64_t status) {
  switch (status) {
    case 0: return "UNKNOWN";
    case 1: return "SERVING";
    case 2: return "NOT_SERVING";
    case 3: return "SERVICE_UNKNOWN";
    default: return "unrecognised status";
  }
}

int Usage() {
  std::cerr << "usage: clerkship-health-probe [--service=NAME] [--timeout_ms=N] HOST:PORT\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string service;
  std::string target;
  long timeout_ms = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--service=", 0) == 0) {
      service = arg.substr(10);
    } else if (arg.rfind("--timeout_ms=", 0) == 0) {
      char* end = nullptr;
      timeout_ms = std::strtol(arg.c_str() + 13, &end, 10);
      if (*end != '\0' || timeout_ms <= 0) return Usage();
    } else if (arg.rfind("--", 0) == 0 || !target.empty()) {
      return Usage();
    } else {
      target = arg;
    }
  }
  if (target.empty()) return Usage();

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));

  std::string request_bytes = EncodeRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok) || !ok) {
    std::cerr << target << ": the health check did not complete\n";
    return 1;
  }
  if (!status.ok()) {
    std::cerr << target << ": health check failed: " << status.error_code() << " "
              << status.error_message() << "\n";
    return 1;
  }
  grpc::Slice answer;
  uint64_t serving_status = 0;
  if (!response.TrySingleSlice(&answer).ok() && !response.DumpToSingleSlice(&answer).ok()) {
    std::cerr << target << ": unreadable health response\n";
    return 1;
  }
  if (!DecodeStatus(std::string(reinterpret_cast<const char*>(answer.begin()), answer.size()),
                    &serving_status)) {
    std::cerr << target << ": malformed health response\n";
    return 1;
  }
  std::cout << target << (service.empty() ? "" : " " + service) << ": "
            << StatusName(serving_status) << "\n";
  return serving_status == kServing ? 0 : 1;
}
