#include "common/tls/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace clerkship::tls {

namespace {

absl::StatusOr<std::string> ReadPemFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (out.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", path, " is empty"));
  }
  return out.str();
}

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "not PEM";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The first certificate of a PEM bundle (and whether there is at least one).
absl::StatusOr<X509Ptr> FirstCertificate(const std::string& pem, const std::string& what) {
  ERR_clear_error();
  BioPtr bio = MemoryBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": no PEM certificate (", OpenSslError(), ")"));
  }
  return cert;
}

}  // namespace

absl::Status CheckCertificates(const std::string& pem, const std::string& what) {
  absl::StatusOr<X509Ptr> cert = FirstCertificate(pem, what);
  return cert.ok() ? absl::OkStatus() : cert.status();
}

absl::Status CheckCertificateAndKey(const std::string& cert_chain_pem,
                                    const std::string& private_key_pem, const std::string& what) {
  absl::StatusOr<X509Ptr> cert = FirstCertificate(cert_chain_pem, what);
  if (!cert.ok()) return cert.status();
  ERR_clear_error();
  BioPtr bio = MemoryBio(private_key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the key file holds no unencrypted PEM private key (",
                     OpenSslError(), ")"));
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the private key does not match the certificate"));
  }
  return absl::OkStatus();
}

void AddServerTlsFlags(Config* config, bool client_auth) {
  config->AddString("tls_cert_file", "",
                    "PEM certificate chain served to clients; set with --tls_key_file to turn "
                    "TLS on (empty: plaintext)");
  config->AddString("tls_key_file", "", "PEM private key of --tls_cert_file");
  if (client_auth) {
    config->AddString("tls_client_ca_file", "",
                      "PEM CA bundle; when set, clients must present a certificate it signed "
                      "(mutual TLS)");
  }
}

void AddClientTlsFlags(Config* config) {
  config->AddString("tls_ca_file", "",
                    "PEM CA bundle the called services' certificates must chain to; turns TLS "
                    "on for outgoing gRPC channels (empty: plaintext)");
  config->AddString("tls_client_cert_file", "",
                    "PEM certificate chain presented to services that require client "
                    "certificates (with --tls_client_key_file)");
  config->AddString("tls_client_key_file", "", "PEM private key of --tls_client_cert_file");
  config->AddString("tls_server_name_override", "",
                    "name expected in the called services' certificates instead of the host of "
                    "their address");
}

absl::StatusOr<ServerTlsConfig> ServerTlsFromConfig(const Config& config, bool client_auth) {
  ServerTlsConfig out;
  const std::string cert_file = config.GetString("tls_cert_file");
  const std::string key_file = config.GetString("tls_key_file");
  const std::string client_ca_file =
      client_auth ? config.GetString("tls_client_ca_file") : std::string();
  if (cert_file.empty() && key_file.empty()) {
    if (!client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca_file needs --tls_cert_file and --tls_key_file (mutual TLS is TLS)");
    }
    return out;
  }
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file must be set together");
  }
  absl::StatusOr<std::string> cert = ReadPemFile("tls_cert_file", cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile("tls_key_file", key_file);
  if (!key.ok()) return key.status();
  if (absl::Status s = CheckCertificateAndKey(*cert, *key, "--tls_cert_file/--tls_key_file");
      !s.ok()) {
    return s;
  }
  out.cert_chain_pem = *std::move(cert);
  out.private_key_pem = *std::move(key);
  if (!client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile("tls_client_ca_file", client_ca_file);
    if (!ca.ok()) return ca.status();
    if (absl::Status s = CheckCertificates(*ca, "--tls_client_ca_file"); !s.ok()) return s;
    out.client_ca_pem = *std::move(ca);
  }
  return out;
}

absl::StatusOr<ClientTlsConfig> ClientTlsFromConfig(const Config& config) {
  ClientTlsConfig out;
  const std::string ca_file = config.GetString("tls_ca_file");
  const std::string cert_file = config.GetString("tls_client_cert_file");
  const std::string key_file = config.GetString("tls_client_key_file");
  out.server_name_override = config.GetString("tls_server_name_override");
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_cert_file and --tls_client_key_file must be set together");
  }
  if (ca_file.empty()) {
    if (!cert_file.empty() || !out.server_name_override.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_cert_file and --tls_server_name_override need --tls_ca_file (TLS to "
          "the called services)");
    }
    return out;
  }
  absl::StatusOr<std::string> ca = ReadPemFile("tls_ca_file", ca_file);
  if (!ca.ok()) return ca.status();
  if (absl::Status s = CheckCertificates(*ca, "--tls_ca_file"); !s.ok()) return s;
  out.ca_pem = *std::move(ca);
  if (!cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPemFile("tls_client_cert_file", cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPemFile("tls_client_key_file", key_file);
    if (!key.ok()) return key.status();
    if (absl::Status s = CheckCertificateAndKey(*cert, *key,
                                                "--tls_client_cert_file/--tls_client_key_file");
        !s.ok()) {
      return s;
    }
    out.cert_chain_pem = *std::move(cert);
    out.private_key_pem = *std::move(key);
  }
  return out;
}

namespace {

template <typename T>
T ValueOrExit(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::cerr << "invalid configuration:\n" << value.status().message() << "\n";
    std::exit(2);
  }
  return *std::move(value);
}

}  // namespace

ServerTlsConfig ServerTlsFromConfigOrExit(const Config& config, bool client_auth) {
  return ValueOrExit(ServerTlsFromConfig(config, client_auth));
}

ClientTlsConfig ClientTlsFromConfigOrExit(const Config& config) {
  return ValueOrExit(ClientTlsFromConfig(config));
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const ServerTlsConfig& config) {
  if (!config.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      config.mutual() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                      : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = config.client_ca_pem;
  options.pem_key_cert_pairs.push_back({config.private_key_pem, config.cert_chain_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClientTlsConfig& config) {
  if (!config.enabled()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = config.ca_pem;
  options.pem_private_key = config.private_key_pem;
  options.pem_cert_chain = config.cert_chain_pem;
  return grpc::SslCredentials(options);
}

std::shared_ptr<grpc::Channel> CreateChannel(const std::string& address,
                                             const ClientTlsConfig& config,
                                             grpc::ChannelArguments args) {
  if (config.enabled() && !config.server_name_override.empty()) {
    args.SetSslTargetNameOverride(config.server_name_override);
  }
  return grpc::CreateCustomChannel(address, ChannelCredentials(config), args);
}

namespace {
ClientTlsConfig& MutableDefault() {
  static ClientTlsConfig* config = new ClientTlsConfig();
  return *config;
}
}  // namespace

void SetDefaultClientTls(ClientTlsConfig config) { MutableDefault() = std::move(config); }

const ClientTlsConfig& DefaultClientTls() { return MutableDefault(); }

}  // namespace clerkship::tls
