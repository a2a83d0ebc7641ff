#pragma once

// TLS between the services (gRPC) and on the gateway's HTTP port, configured by flags.
//
// Server side (every gRPC service; the gateway's HTTPS port takes the first two):
//   --tls_cert_file       PEM certificate chain of this server (turns TLS on)
//   --tls_key_file        PEM private key matching it
//   --tls_client_ca_file  PEM CA bundle; when set, clients must present a certificate signed
//                         by it (mutual TLS)
// Client side (services calling services, the gateway calling its backends):
//   --tls_ca_file              PEM CA bundle the servers' certificates are checked against
//                              (turns TLS on for outgoing channels)
//   --tls_client_cert_file     PEM certificate chain presented to servers that require one
//   --tls_client_key_file      its private key
//   --tls_server_name_override name checked in the servers' certificates instead of the host
//                              part of the address (tests, or addresses that are not in the SAN)
//
// Nothing set: plaintext, as before. Files are read and checked once at startup (readable,
// PEM that parses, key matching its certificate); a problem is a configuration error that
// names the flag, so a misconfigured pod fails at once instead of at the first call.

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/config/config.h"

namespace clerkship::tls {

struct ServerTlsConfig {
  std::string cert_chain_pem;  // empty: plaintext
  std::string private_key_pem;
  std::string client_ca_pem;  // non-empty: client certificates required and verified
  bool enabled() const { return !cert_chain_pem.empty(); }
  bool mutual() const { return !client_ca_pem.empty(); }
};

struct ClientTlsConfig {
  std::string ca_pem;  // empty: plaintext
  std::string cert_chain_pem;
  std::string private_key_pem;
  std::string server_name_override;
  bool enabled() const { return !ca_pem.empty(); }
};

// --tls_cert_file, --tls_key_file and (with client_auth) --tls_client_ca_file.
void AddServerTlsFlags(Config* config, bool client_auth = true);
// --tls_ca_file, --tls_client_cert_file, --tls_client_key_file, --tls_server_name_override.
void AddClientTlsFlags(Config* config);

// Reads and checks the files named by the flags; errors name the flag and the problem.
// `client_auth` as given to AddServerTlsFlags.
absl::StatusOr<ServerTlsConfig> ServerTlsFromConfig(const Config& config,
                                                    bool client_auth = true);
absl::StatusOr<ClientTlsConfig> ClientTlsFromConfig(const Config& config);
// The same, printing the problem and exiting with status 2 (like Config::ParseOrExit).
ServerTlsConfig ServerTlsFromConfigOrExit(const Config& config, bool client_auth = true);
ClientTlsConfig ClientTlsFromConfigOrExit(const Config& config);

// From PEM text (also what tests use). A cert without a key, a key that does not match its
// certificate, or text that is not PEM is an INVALID_ARGUMENT naming `what`.
absl::Status CheckCertificateAndKey(const std::string& cert_chain_pem,
                                    const std::string& private_key_pem, const std::string& what);
absl::Status CheckCertificates(const std::string& pem, const std::string& what);

// Insecure credentials when TLS is off.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const ServerTlsConfig& config);
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClientTlsConfig& config);

// A channel to `address` with the credentials (and server name override) of `config`.
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& address,
                                             const ClientTlsConfig& config,
                                             grpc::ChannelArguments args = {});

// The client settings of the process, for code that creates its channels deep inside
// (set once in main before any channel is created; plaintext until then).
void SetDefaultClientTls(ClientTlsConfig config);
const ClientTlsConfig& DefaultClientTls();

}  // namespace clerkship::tls
