// Loopback stand-ins for the services AWS hands credentials out from: EC2's IMDSv2, the container
// credentials endpoint, and STS AssumeRoleWithWebIdentity. Each checks what the real one checks (the
// IMDSv2 session token, the Authorization token, the web identity token against its file) and hands out
// the given keys with a fresh session token and an expiry `lifetime` ahead.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace pg2s3::test {

class CredentialServer {
 public:
  enum class Kind { imds, container, sts };

  struct Issued {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token_prefix = "session-token-";  // each handout appends its number
    std::chrono::seconds lifetime{3600};
  };

  // Runs on a thread of its own until destroyed. `secret` is the container's Authorization token, or the
  // path of the web identity token file (read at each request, as STS compares it with what it was sent).
  CredentialServer(Kind kind, Issued issued, std::string secret = {});
  ~CredentialServer();

  std::string endpoint() const;  // "http://127.0.0.1:<port>"
  int handed_out() const;        // credentials issued so far
  int refused() const;           // requests refused for a missing or wrong token
  void fail_with(int http_status);  // answer every later credentials request with this status (0: stop)

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pg2s3::test
