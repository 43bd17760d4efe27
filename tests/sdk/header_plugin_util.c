/*
 * header_plugin_util.c - <povtrack/plugin_util.h> compiles on its own: with
 * nothing before it, with only the system headers and msgpack-c on the include
 * path, in strict C11 with warnings as errors (tests/sdk/CMakeLists.txt).
 */
#include <povtrack/plugin_util.h>
