/*
 * ev_text.h - text on the wire: strict UTF-8, and untrusted bytes made safe
 * to send.
 *
 * Every string povtrackd sends is valid UTF-8, so that a strict msgpack
 * decoder (msgpack-python with raw=False, and most languages' defaults)
 * can read every reply whole.  Replies quote what clients sent (an op
 * name, a unit asked for, a plugin's message about it); such text goes
 * through ev_pack_text(), which copies valid UTF-8 and shows each byte that
 * is not as the four characters \xHH (lower-case hex): "\xff\xfe" stays
 * readable, and nothing is dropped silently.
 */
#ifndef POVTRACK_EV_TEXT_H
#define POVTRACK_EV_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF, no sequence cut short.  Returns the offset of the first byte
 * that does not start a valid character, or len. */
size_t ev_utf8_prefix(const char *s, size_t len);

/* Is all of s valid UTF-8? */
bool ev_utf8_valid(const char *s, size_t len);

/*
 * s escaped into out (cap bytes, NUL included; out may be NULL when cap is
 * 0): valid UTF-8 copied, each other byte as \xHH.  Output is cut only
 * between a character and the next (never inside one or inside an escape),
 * so what is written is always valid UTF-8.  Returns the length of the
 * whole escaped text, without the NUL, like snprintf: it did not all fit
 * when that is >= cap.  At most 4 * len.
 */
size_t ev_text_escape(char *out, size_t cap, const char *s, size_t len);

/* Append s, escaped as above, to pk as one msgpack str; valid text is
 * packed as it is.  Returns 0, or what the packer's writer returned. */
int ev_pack_text(msgpack_packer *pk, const char *s, size_t len);

#endif /* POVTRACK_EV_TEXT_H */
