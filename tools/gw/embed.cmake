# cmake -DIN=openapi.json -DOUT=gw_openapi.c -P embed.cmake: the file's
# bytes as the C array gw_openapi_json (NUL-terminated) and its length.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f])" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Made from openapi.json by embed.cmake; do not edit. */\n#include <stddef.h>\nextern const char gw_openapi_json[];\nextern const size_t gw_openapi_json_len;\nconst char gw_openapi_json[] = {\n${bytes}0x00};\nconst size_t gw_openapi_json_len = ${len};\n")
