// Reads a COPY ... TO STDOUT through pg::CopyOutStream into a part-sized buffer and discards it: the cost
// of the PostgreSQL side of pg2s3 alone, to set beside `psql -c "COPY ..." > /dev/null`.
//
//   pg_copy "COPY (SELECT ...) TO STDOUT WITH (FORMAT csv, HEADER)"
// The connection string comes from PG2S3_DATABASE_URL, as `scripts/services env` prints it.
#include "pg/connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
using namespace pg2s3;

namespace {

constexpr std::size_t part_size = 8 * 1024 * 1024;

asio::awaitable<int> copy_and_discard(std::string conninfo, std::string statement) {
  auto connection = co_await pg::Connection::connect(co_await asio::this_coro::executor, conninfo);
  if (!connection) {
    std::cerr << connection.error().message() << "\n";
    co_return 1;
  }
  auto stream = co_await connection->copy_out(statement);
  if (!stream) {
    std::cerr << stream.error().message() << "\n";
    co_return 1;
  }
  std::string part;
  part.reserve(part_size + 64 * 1024);
  std::uint64_t bytes = 0;
  for (bool more = true; more;) {
    part.clear();
    auto read = co_await stream->read(part, part_size);
    if (!read) {
      std::cerr << read.error().message() << "\n";
      co_return 1;
    }
    more = *read;
    bytes += part.size();
  }
  std::cerr << stream->rows() << " rows, " << bytes << " bytes\n";
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* conninfo = std::getenv("PG2S3_DATABASE_URL");
  if (argc != 2 || !conninfo) {
    std::cerr << "usage: PG2S3_DATABASE_URL=... pg_copy \"COPY (...) TO STDOUT ...\"\n";
    return 2;
  }
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, copy_and_discard(conninfo, argv[1]), [&](std::exception_ptr, int s) { status = s; });
  io.run();
  return status;
}
