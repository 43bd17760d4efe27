/*
 * tl_fold.h - Vietnamese (and Latin) text as spreadsheets hold it: folded
 * for matching, composed for storing.
 *
 * Clerks write one header or one value many ways: "Đơn vị", "ĐƠN VỊ",
 * "don vi"; "Ẩn danh", "ẩn danh", "an danh"; precomposed (NFC, what most
 * programs write) or decomposed (NFD: a base letter and combining marks,
 * what Windows-1258 and some Mac programs give).  This module makes them
 * compare equal, and makes the text that is stored one form (NFC), so that
 * the same name is the same bytes whatever program wrote the file.
 *
 * Scope: the letters of U+00C0..U+024F (Latin-1 Supplement, Latin
 * Extended-A and -B) and U+1E00..U+1EFF (Latin Extended Additional, where
 * the Vietnamese letters with tone marks are), and the combining marks
 * U+0300..U+036F.  The data is the Unicode Character Database's, generated
 * into tl_fold_tables.h by tools/scripts/gen-fold-tables.py; no ICU.
 * Other text (other scripts, symbols) passes through unchanged.
 *
 * Input is UTF-8; a byte that does not start a valid sequence is copied as
 * it is (the callers have checked the text already).
 */
#ifndef POVTRACK_TL_FOLD_H
#define POVTRACK_TL_FOLD_H

#include <stddef.h>

/* Fold len bytes of s for matching into out: ASCII letters in lower case;
 * the letters of this module's scope as their ASCII base in lower case
 * ("Ẩ" -> "a", "Đ" and "đ" -> "d", "Æ" -> "ae", "ß" -> "ss"); combining
 * marks dropped; anything else copied.  The result is never longer than
 * the input: out must hold len + 1 bytes, and may be s itself.  Returns
 * the length written (out is NUL-terminated). */
size_t tl_fold(const char *s, size_t len, char *out);

/* The key of a header or an enumerated value, in place: tl_fold(), then
 * each run of bytes other than ASCII letters and digits and other than
 * text outside this module's scope becomes one '_', with none at either
 * end ("Số tiền (VND)" -> "so_tien_vnd", "  Ẩn danh " -> "an_danh",
 * "near-poor" -> "near_poor").  Spaces of every kind (no-break, thin...),
 * punctuation of U+00A0..U+00BF and U+2000..U+206F, U+00D7, U+00F7 and a
 * stray byte order mark count as separators. */
void tl_fold_key(char *s);

/* Compose the letters of this module's scope to Normalization Form C, in
 * place: a letter followed by combining marks becomes the precomposed
 * letter ("e" U+0323 U+0302 and "ê" U+0323 -> "ệ"), the marks left over in
 * canonical order.  Where that would take more bytes than the input (a
 * mark no letter takes, after one that composes), the letter and its marks
 * are left as they were.  s holds len bytes and one more; returns the new
 * length, and s is NUL-terminated there. */
size_t tl_nfc(char *s, size_t len);

#endif /* POVTRACK_TL_FOLD_H */
