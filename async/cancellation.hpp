// Cancellation as a value: what every library's coroutines use to wait without exceptions and to ask
// whether they were cancelled.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pg2s3::async {

// Completion token of an operation whose error (operation_aborted on cancellation among them) comes back
// in a tuple rather than as an exception.
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// Whether the calling coroutine has been asked to stop. Call it as its own statement, not in a condition
// (async/README.md, GCC 12).
boost::asio::awaitable<bool> is_cancelled();

}  // namespace pg2s3::async
