// The one translation unit that compiles Boost.JSON, used header-only elsewhere for writing JSON.
#include <boost/json/src.hpp>
