#include "async/cancellation.hpp"

#include <boost/asio/this_coro.hpp>

namespace pg2s3::async {

boost::asio::awaitable<bool> is_cancelled() {
  // Named, not tested inline: GCC 12 miscompiles `(co_await this_coro::cancellation_state).cancelled()`.
  const auto state = co_await boost::asio::this_coro::cancellation_state;
  co_return state.cancelled() != boost::asio::cancellation_type::none;
}

}  // namespace pg2s3::async
