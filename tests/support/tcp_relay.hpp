// A loopback TCP relay that can be switched off and on, to take a server away from a client and back.
#pragma once

#include <memory>
#include <string>

namespace pg2s3::test {

// Runs on a thread of its own until destroyed. Off: connections are refused and those open are cut.
// Stalled: a host gone silent (blackholed): connections are accepted and kept, and no byte moves either way.
class TcpRelay {
 public:
  TcpRelay(const std::string& upstream_host, unsigned short upstream_port);
  ~TcpRelay();

  unsigned short port() const;
  void switch_off();
  void switch_on();
  void stall();
  void resume();  // the bytes held meanwhile go on

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pg2s3::test
