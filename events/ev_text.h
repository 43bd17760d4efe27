/*
 * ev_text.h - deprecated: the names of the text helpers (strict UTF-8, the
 * \xHH escape of what is not) from before they moved to the protocol
 * module.  Use <povtrack/protocol.h> and the povtrack_proto_* names; these
 * aliases stay only for code written against the old ones.
 */
#ifndef POVTRACK_EV_TEXT_H
#define POVTRACK_EV_TEXT_H

#include <povtrack/protocol.h>

#define ev_utf8_prefix povtrack_proto_utf8_prefix
#define ev_utf8_valid povtrack_proto_utf8_valid
#define ev_text_escape povtrack_proto_text_escape
#define ev_pack_text povtrack_proto_pack_text

#endif /* POVTRACK_EV_TEXT_H */
