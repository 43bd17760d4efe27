/*
 * header_errors.c - <povtrack/errors.h> compiles on its own: with nothing
 * before it, with only the system headers on the include path, in strict
 * C11 with warnings as errors (tests/sdk/CMakeLists.txt).
 */
#include <povtrack/errors.h>
